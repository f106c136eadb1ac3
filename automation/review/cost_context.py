"""What pricing one stack works on: its resources, region prices, usage assumptions and the lines written so
far (:class:`PricingContext`), with the quantity parsing (Kubernetes quantities, numbers, property paths) it needs."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from automation.config.lifecycle import Lifecycle
from automation.config.prices import PROJECT_FILE, ProjectCosts, Region
from automation.model.snapshot import Resource
from automation.review.cost_model import Line

#: the resource types pricing looks for by name
EKS_TYPES = ("eks:index:Cluster", "aws:eks/cluster:Cluster")
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")

_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")


_FACTOR = {None: 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}


def k8s_quantity(value: Any) -> float | None:
    """A Kubernetes quantity (``500m``, ``768Mi``, ``2``, ``20Gi``) as a number; None if absent or not one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if not match:
        return None
    return float(match.group(1)) * _FACTOR[match.group(2)]


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def get_path(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass
class Pod:
    cpu_m: float
    memory_mib: float


@dataclass
class PricingContext:
    stack: str
    region: Region | None
    region_name: str | None
    hours: float
    project: ProjectCosts
    usage: Mapping[str, float]
    resources: tuple[Resource, ...]
    on: dt.date
    lifecycle: Lifecycle
    hosts_others: bool | None = None
    lines: list[Line] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    #: usage price keys whose assumed quantity is an hourly average (LCUs), billed for every hour of the month
    hourly_usage: set[str] = field(default_factory=set)

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    # line builders
    def fixed(self, res: Resource, billed: str, key: str, qty: float, unit_text: str, *, per_hour: bool = False,
              note: str = "", high_qty: float | None = None) -> None:
        assert self.region is not None
        price = self.region.price(key)
        factor = self.hours if per_hour else 1.0
        low = price.usd * qty * factor
        high = price.usd * (qty if high_qty is None else high_qty) * factor
        self.lines.append(Line(res.urn, res.type, res.name, billed, "fixed", unit_text, low, high, price, note))

    def usage_line(self, res: Resource, billed: str, key: str, *, per_hour: bool = False, note: str = "") -> None:
        """A usage-based charge: priced by :meth:`apply_usage` if the project assumes a quantity for ``key``."""
        assert self.region is not None
        price = self.region.price(key)
        if per_hour:
            self.hourly_usage.add(key)
        self.lines.append(Line(res.urn, res.type, res.name, billed, "usage", "", 0.0, 0.0, price, note))

    def apply_usage(self) -> None:
        """Share each assumed monthly quantity (a stack total) evenly among the lines billed for it."""
        for key, total in self.usage.items():
            users = [i for i, x in enumerate(self.lines) if x.kind == "usage" and x.price is not None and x.price.key == key]
            for i in users:
                line = self.lines[i]
                assert line.price is not None
                qty = total / len(users)
                factor = self.hours if key in self.hourly_usage else 1.0
                cost = line.price.usd * qty * factor
                share = f"{qty:g} of {total:g} (assumed in {PROJECT_FILE})" if len(users) > 1 else f"{qty:g} (assumed in {PROJECT_FILE})"
                self.lines[i] = Line(line.urn, line.type, line.name, line.billed, "usage", share, cost, cost, line.price,
                                     line.note)

    def free(self, res: Resource, note: str = "") -> None:
        self.lines.append(Line(res.urn, res.type, res.name, "nothing", "free", note=note))

    def unpriced(self, res: Resource, billed: str, why: str) -> None:
        self.lines.append(Line(res.urn, res.type, res.name, billed, "unpriced", note=why))
