"""The cost estimate as values: one :class:`Line` per thing billed, the :class:`Estimate` of a stack, the change
between two estimates (:class:`CostChange`) against a budget, and how money reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from automation.config.prices import Price

UNKNOWN = "[unknown]"


LineKind = Literal["fixed", "usage", "unpriced", "free"]


@dataclass(frozen=True)
class Line:
    """One thing a resource is billed for, with its monthly estimate (``low`` == ``high`` unless a range)."""

    urn: str
    type: str
    name: str
    billed: str
    kind: LineKind
    quantity: str = ""
    low: float = 0.0
    high: float = 0.0
    price: Price | None = None
    note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.urn, self.billed

    def to_json(self) -> dict[str, Any]:
        price = None if self.price is None else {"key": self.price.key, "usd": self.price.usd, "unit": self.price.unit,
                                                  "source": self.price.source, "as_of": self.price.as_of}
        # usage without an assumption is not $0: it is not known (null), and the note says what it depends on
        open_usage = self.kind == "usage" and not self.quantity and self.price is not None
        monthly = None if open_usage else {"low": round(self.low, 2), "high": round(self.high, 2)}
        note = ("; ".join(x for x in ("depends on usage: not assumed in costs.yaml, not in the totals", self.note) if x)
                if open_usage else self.note)
        return {"urn": self.urn, "type": self.type, "name": self.name, "billed": self.billed, "kind": self.kind,
                "quantity": self.quantity, "monthly_usd": monthly, "price": price, "note": note}


@dataclass(frozen=True)
class Estimate:
    stack: str
    region: str | None
    lines: tuple[Line, ...]
    table_as_of: str = ""
    #: the 730 hours priced: from the start of this day (versions' support is compared with it)
    priced_from: str = ""
    #: what the reader must know about the whole estimate (a stale version table)
    notes: tuple[str, ...] = ()
    #: the support dates of the versions the stack pins (automation/prices/lifecycle.yaml), one line each
    versions: tuple[str, ...] = ()

    @property
    def low(self) -> float:
        return sum(x.low for x in self.lines)

    @property
    def high(self) -> float:
        return sum(x.high for x in self.lines)

    @property
    def unpriced(self) -> tuple[Line, ...]:
        return tuple(x for x in self.lines if x.kind == "unpriced")

    @property
    def usage_open(self) -> tuple[Line, ...]:
        """Usage-based lines without an assumption: not in the totals, shown as a price per unit."""
        return tuple(x for x in self.lines if x.kind == "usage" and x.price is not None and not x.quantity)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "region": self.region, "table_as_of": self.table_as_of,
                "priced_from": self.priced_from, "notes": list(self.notes), "versions": list(self.versions),
                "monthly_usd": {"low": round(self.low, 2), "high": round(self.high, 2)},
                "unpriced": len(self.unpriced), "usage_not_assumed": len(self.usage_open),
                "lines": [x.to_json() for x in self.lines if x.kind != "free"],
                "free": sorted({x.type for x in self.lines if x.kind == "free"})}


@dataclass(frozen=True)
class LineDelta:
    urn: str
    type: str
    name: str
    billed: str
    before: Line | None
    after: Line | None

    @property
    def delta_low(self) -> float:
        return (self.after.low if self.after else 0.0) - (self.before.low if self.before else 0.0)

    @property
    def delta_high(self) -> float:
        return (self.after.high if self.after else 0.0) - (self.before.high if self.before else 0.0)


@dataclass(frozen=True)
class CostChange:
    """A stack's monthly estimate before and after a change (``before`` None: a new stack)."""

    after: Estimate
    before: Estimate | None = None
    #: the stack rule's budget_monthly_usd, if any
    budget: float | None = None

    @property
    def delta_low(self) -> float:
        return self.after.low - (self.before.low if self.before else 0.0)

    @property
    def delta_high(self) -> float:
        return self.after.high - (self.before.high if self.before else 0.0)

    @property
    def over_budget(self) -> bool:
        """The estimate's upper end is above the budget."""
        return self.budget is not None and self.after.high > self.budget + 0.005

    @property
    def crosses_budget(self) -> bool:
        """What the budget guard refuses: over budget after, and more expensive than before."""
        return self.over_budget and self.delta_high > 0.005

    def rows(self) -> tuple[LineDelta, ...]:
        """Every billed line of either side, changed ones first (by size of the change), then the rest."""
        before = {x.key: x for x in (self.before.lines if self.before else ()) if x.kind != "free"}
        after = {x.key: x for x in self.after.lines if x.kind != "free"}
        rows = [LineDelta(x.urn, x.type, x.name, x.billed, before.get(k), x) for k, x in after.items()]
        rows += [LineDelta(x.urn, x.type, x.name, x.billed, x, None) for k, x in before.items() if k not in after]
        return tuple(sorted(rows, key=lambda r: (-abs(r.delta_high) - abs(r.delta_low), r.type, r.name, r.billed)))

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before.to_json() if self.before else None, "after": self.after.to_json(),
                "delta_monthly_usd": {"low": round(self.delta_low, 2), "high": round(self.delta_high, 2)},
                "budget_monthly_usd": self.budget, "over_budget": self.over_budget}


def money(usd: float) -> str:
    sign = "-" if usd < -0.004 else ""
    return f"{sign}${abs(usd):,.2f}"


def money_range(low: float, high: float) -> str:
    return money(low) if abs(high - low) < 0.005 else f"{money(low)}–{money(high)}"


def signed_range(low: float, high: float) -> str:
    def one(x: float) -> str:
        return ("+" if x > 0.004 else "") + money(x) if abs(x) >= 0.005 else "$0.00"
    return one(low) if abs(high - low) < 0.005 else f"{one(low)} to {one(high)}"
