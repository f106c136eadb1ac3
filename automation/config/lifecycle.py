"""The support calendar of the versions the stacks pin (``automation/prices/lifecycle.yaml``), compared with a day.

Pure: load the dated table once, then answer "on day D, is EKS 1.34 / RDS for MySQL 8.0 in standard support,
extended support, past it, or not in the table?" and "how many hours of a priced month fall after the end of
standard support?". The cost estimate, the policy pack's version policies (through the config the engine gives
the pack), ``doctor`` and the nightly version warning all read the same rows.

"Today" is the machine's date unless ``GHOST_GITOPS_TODAY`` (``YYYY-MM-DD``) says otherwise: the same override
reaches the policy pack the CLI starts, so a what-if ("the estimate and the verdicts on 2027-04-01") is one
environment variable, and tests move the date without patching the clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from automation.model.errors import ConfigError

LIFECYCLE_PATH = Path(__file__).resolve().parents[1] / "prices" / "lifecycle.yaml"
TODAY_ENV = "GHOST_GITOPS_TODAY"
Phase = Literal["standard", "extended", "ended", "unknown"]
Product = Literal["eks", "rds_mysql"]
PRODUCT_NAMES: dict[str, str] = {"eks": "EKS Kubernetes", "rds_mysql": "RDS for MySQL"}


class Row(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    end_standard: dt.date
    end_extended: dt.date
    checked: dt.date
    source: str


class ExtendedPricing(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    source: str
    checked: str
    #: USD per vCPU-hour by year of extended support (1st, 2nd, 3rd...)
    usd_per_vcpu_hour: list[float]


class Eks(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    source: str
    versions: dict[str, Row]


class RdsMysql(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    source: str
    extended_pricing: ExtendedPricing
    versions: dict[str, Row]


class Lifecycle(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    checked: dt.date
    refresh_days: int
    warn_days: int
    eks: Eks
    rds_mysql: RdsMysql

    def rows(self, product: Product) -> dict[str, Row]:
        return self.eks.versions if product == "eks" else self.rds_mysql.versions

    def source(self, product: Product) -> str:
        return self.eks.source if product == "eks" else self.rds_mysql.source

    def stale(self, on: dt.date) -> str | None:
        """A warning when the table is older than its own refresh interval on ``on``, else None."""
        age = (on - self.checked).days
        if age <= self.refresh_days:
            return None
        return (f"the version support table (automation/prices/lifecycle.yaml) was checked on {self.checked}, "
                f"{age} days ago: older than its refresh interval of {self.refresh_days} days; its dates may be out "
                "of date (README, 'Version support')")

    def to_policy_config(self, on: dt.date) -> dict[str, Any]:
        """What the policy pack is given (JSON): the day and every row's dates, as ISO strings."""
        return {"today": on.isoformat(), "warn_days": self.warn_days,
                "eks": {v: [r.end_standard.isoformat(), r.end_extended.isoformat()] for v, r in self.eks.versions.items()},
                "rds_mysql": {v: [r.end_standard.isoformat(), r.end_extended.isoformat()]
                              for v, r in self.rds_mysql.versions.items()}}


@functools.cache
def load(path: Path = LIFECYCLE_PATH) -> Lifecycle:
    try:
        return msgspec.convert(yaml.safe_load(path.read_text(encoding="utf-8")), Lifecycle)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"version support table {path}: {exc}") from None
    except msgspec.ValidationError as exc:
        raise ConfigError(f"version support table {path}: {exc} (see the file's header for its fields)") from None


def today() -> dt.date:
    """The day versions are compared with: ``GHOST_GITOPS_TODAY`` if set, else the machine's date (UTC)."""
    raw = os.environ.get(TODAY_ENV, "").strip()
    if not raw:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{TODAY_ENV}={raw!r} is not a date: use YYYY-MM-DD, or unset it for today") from None


@dataclass(frozen=True)
class Support:
    """Where ``version`` of ``product`` stands on ``on``."""

    product: Product
    version: str
    on: dt.date
    phase: Phase
    end_standard: dt.date | None = None
    end_extended: dt.date | None = None
    #: the next version in the table (the one-step upgrade target), if any
    successor: str | None = None

    @property
    def name(self) -> str:
        return f"{PRODUCT_NAMES[self.product]} {self.version}"

    @property
    def days_to_end(self) -> int | None:
        """Days from ``on`` to the end of standard support (negative once past it)."""
        return None if self.end_standard is None else (self.end_standard - self.on).days

    def summary(self) -> str:
        """One line: ``EKS Kubernetes 1.35: standard support until 2027-03-27 (115 days)``."""
        if self.phase == "unknown":
            return f"{self.name}: not in the version support table (automation/prices/lifecycle.yaml)"
        if self.phase == "standard":
            return f"{self.name}: standard support until {self.end_standard} ({self.days_to_end} days)"
        if self.phase == "extended":
            return (f"{self.name}: standard support ended on {self.end_standard}; extended support until "
                    f"{self.end_extended}")
        return f"{self.name}: support ended on {self.end_extended} (extended support included)"

    def upgrade_hint(self) -> str:
        if self.successor is None:
            return "upgrade to a newer version"
        return f"upgrade to {self.successor}" + (" (one minor at a time)" if self.product == "eks" else "")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def major_of(version: str) -> str:
    """The table's key for a pinned version: EKS ``1.35``; RDS for MySQL ``8.4`` of ``8.4.3``."""
    return ".".join(version.split(".")[:2])


def support(table: Lifecycle, product: Product, version: str, on: dt.date) -> Support:
    key = major_of(version)
    rows = table.rows(product)
    later = sorted((v for v in rows if _key(v) > _key(key)), key=_key)
    successor = later[0] if later else None
    row = rows.get(key)
    if row is None:
        return Support(product, key, on, "unknown", successor=successor)
    phase: Phase = ("standard" if on < row.end_standard else "extended" if on < row.end_extended else "ended")
    return Support(product, key, on, phase, row.end_standard, row.end_extended, successor)


def hours_after(start: dt.date, hours: float, boundary: dt.date | None) -> float:
    """How many of the ``hours`` from the start of ``start`` fall on or after the start of ``boundary``."""
    if boundary is None:
        return 0.0
    before = (boundary - start).days * 24.0
    return min(hours, max(0.0, hours - before))


def rds_rate(table: Lifecycle, end_standard: dt.date, on: dt.date) -> tuple[float, int]:
    """The RDS Extended Support price per vCPU-hour on ``on`` (after ``end_standard``) and its year (1-based)."""
    rates = table.rds_mysql.extended_pricing.usd_per_vcpu_hour
    year = max(1, (on - end_standard).days // 365 + 1)
    return rates[min(year, len(rates)) - 1], year
