"""What a stack costs per month, from what it declares: a pure model over a dated price table. No network.

Input: the resources of a stack (type, name, inputs: a synth's, or the real CLI's step events'), its AWS
region, the price table (``automation/prices/aws.yaml``) and the project's ``costs.yaml`` (usage assumptions
per stack, prices of types the table does not know, types that bill nothing). Output: an :class:`Estimate`, one
:class:`Line` per thing billed, each naming its price and that price's source. Never silently zero:

- fixed charges (hours, GB-months) are priced;
- usage-based ones (NAT and ALB traffic, log ingestion) are "depends on usage: $X per unit", or priced from the
  project's assumption for the stack, which the line says;
- what cannot be known from the plan (the instances Auto Mode will choose) is an assumption the line states,
  and a range (``low``..``high``) where that is more honest;
- a billable type the table does not know is an *unpriced* line, and totals say how many there are.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from automation.config import lifecycle
from automation.config.lifecycle import Lifecycle
from automation.model.errors import ConfigError, nearest
from automation.model.snapshot import Resource

TABLE_PATH = Path(__file__).resolve().parents[1] / "prices" / "aws.yaml"
PROJECT_FILE = "costs.yaml"
UNKNOWN = "[unknown]"

LineKind = Literal["fixed", "usage", "unpriced", "free"]


# -- the price table (data) ---------------------------------------------------------------------------------
class Price(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    usd: float
    unit: str = ""
    source: str = ""
    as_of: str = ""
    checked: str = ""
    key: str = ""


class Instance(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    category: str
    arch: str
    vcpu: float
    memory_gib: float
    usd: float


class Instances(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    source: str
    as_of: str
    types: dict[str, Instance]
    checked: str = ""


class RdsClasses(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    source: str
    as_of: str
    #: class -> single-AZ USD per hour
    classes: dict[str, float]
    #: class -> Multi-AZ (one standby) USD per hour, where it is not exactly twice the single-AZ price
    multi_az: dict[str, float] = msgspec.field(default_factory=dict)
    #: class -> vCPUs (RDS Extended Support is billed per vCPU-hour)
    vcpu: dict[str, float] = msgspec.field(default_factory=dict)
    checked: str = ""


class NodeDefaults(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    root_volume_gib: float
    reserved_cpu_m: float
    reserved_memory_mib: float
    source: str
    as_of: str


class Region(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    prices: dict[str, Price]
    instances: Instances
    rds_mysql: RdsClasses
    node: NodeDefaults

    def price(self, key: str) -> Price:
        found = self.prices[key]
        return msgspec.structs.replace(found, key=key)


class PriceTable(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    hours_per_month: float
    regions: dict[str, Region]


# -- the project's file (costs.yaml) ------------------------------------------------------------------------
class CustomPrice(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A price for resources the table does not know, matched by ``type`` or ``type::name`` glob."""

    match: str
    billed: str
    usd: float
    unit: str
    source: str
    as_of: str
    #: an input property whose number is the quantity (``size_gb``); absent: one unit per resource
    quantity: str | None = None
    #: the quantity of a resource that does not set the ``quantity`` input (its default); None: such a resource
    #: is not priced
    default_quantity: float | None = None
    #: the unit is per hour: the monthly figure is usd * quantity * hours per month
    hourly: bool = False


class ProjectCosts(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    #: stack name or glob -> usage key (a price key of the table: nat_gateway_gb, alb_lcu_hour...) -> monthly quantity
    usage: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)
    prices: tuple[CustomPrice, ...] = ()
    #: ``type`` or ``type::name`` globs of resources that bill nothing themselves (the project's components)
    free: tuple[str, ...] = ()

    def usage_for(self, stack: str) -> Mapping[str, float]:
        for pattern, values in self.usage.items():
            if fnmatch.fnmatchcase(stack, pattern):
                return values
        return {}


@functools.cache
def load_table(path: Path = TABLE_PATH) -> PriceTable:
    try:
        return msgspec.convert(yaml.safe_load(path.read_text(encoding="utf-8")), PriceTable)
    except (OSError, yaml.YAMLError, msgspec.ValidationError) as exc:
        raise ConfigError(f"price table {path}: {exc}") from None


#: The usage keys costs.yaml may assume a quantity for: the price keys of the charges the estimate bills by usage
#: (``usage_line``; tests/test_cost.py keeps the two equal). Anything else is a typo, refused with the nearest key.
USAGE_KEYS = ("nat_gateway_gb", "alb_lcu_hour", "logs_ingest_gb", "logs_storage_gb", "data_out_gb", "rds_backup_gb",
              "kms_requests", "nlb_nlcu_hour")
_PROJECT_KEYS = ("usage", "prices", "free")
_PRICE_KEYS = tuple(CustomPrice.__struct_fields__)


def _nearest(word: str, choices: tuple[str, ...]) -> str:
    guess = nearest(word, choices)
    return f"did you mean `{guess}`? " if guess else ""


def _check_project_doc(doc: object) -> None:
    """What msgspec would refuse without naming the key: unknown keys (with the nearest known one) and usage
    quantities that are not numbers ≥ 0, each named by its path in the file."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{PROJECT_FILE}: must be a YAML mapping with `usage`, `prices` and `free`")
    for key in doc:
        if key not in _PROJECT_KEYS:
            raise ConfigError(f"{PROJECT_FILE}: unknown key `{key}`: {_nearest(str(key), _PROJECT_KEYS)}"
                              f"(known: {', '.join(_PROJECT_KEYS)})")
    usage = doc.get("usage") or {}
    if not isinstance(usage, dict):
        raise ConfigError(f"{PROJECT_FILE}: usage must map stack names (or globs) to usage keys and quantities")
    for stack, values in usage.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{PROJECT_FILE}: usage.{stack} must map usage keys to monthly quantities "
                              f"(e.g. nat_gateway_gb: 20), not {values!r}")
        for key, qty in values.items():
            if key not in USAGE_KEYS:
                raise ConfigError(f"{PROJECT_FILE}: usage.{stack}.{key} is not a usage key: {_nearest(str(key), USAGE_KEYS)}"
                                  f"(usage keys: {', '.join(USAGE_KEYS)})")
            if isinstance(qty, bool) or not isinstance(qty, (int, float)) or qty < 0 or not math.isfinite(qty):
                raise ConfigError(f"{PROJECT_FILE}: usage.{stack}.{key} must be a number ≥ 0 (a monthly quantity), "
                                  f"not {qty!r}")
    for i, price in enumerate(doc.get("prices") or ()):
        for key in price if isinstance(price, dict) else ():
            if key not in _PRICE_KEYS:
                raise ConfigError(f"{PROJECT_FILE}: prices[{i}].{key} is not a price field: {_nearest(str(key), _PRICE_KEYS)}"
                                  f"(fields: {', '.join(_PRICE_KEYS)})")


def load_project(root: Path) -> ProjectCosts:
    """The project's ``costs.yaml`` (optional: none means no assumptions, no custom prices)."""
    path = root / PROJECT_FILE
    if not path.is_file():
        return ProjectCosts()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{PROJECT_FILE}: not valid YAML: {exc}") from None
    _check_project_doc(doc)
    try:
        return msgspec.convert(doc, ProjectCosts)
    except msgspec.ValidationError as exc:
        msg, _, where = str(exc).partition(" - at ")
        where = where.strip("`").removeprefix("$").removeprefix(".") or "(top level)"
        raise ConfigError(f"{PROJECT_FILE}: {where}: {msg}") from None


# -- results ------------------------------------------------------------------------------------------------
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


# -- quantities ---------------------------------------------------------------------------------------------
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


def _num(value: Any) -> float | None:
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


def _get(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def money(usd: float) -> str:
    sign = "-" if usd < -0.004 else ""
    return f"{sign}${abs(usd):,.2f}"


def money_range(low: float, high: float) -> str:
    return money(low) if abs(high - low) < 0.005 else f"{money(low)}–{money(high)}"


def signed_range(low: float, high: float) -> str:
    def one(x: float) -> str:
        return ("+" if x > 0.004 else "") + money(x) if abs(x) >= 0.005 else "$0.00"
    return one(low) if abs(high - low) < 0.005 else f"{one(low)} to {one(high)}"


# -- the model ----------------------------------------------------------------------------------------------
@dataclass
class _Pod:
    cpu_m: float
    memory_mib: float


@dataclass
class _Context:
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
    def fixed(self, res: Resource, billed: str, key: str, qty: float, unit_text: str, *, per_hour: bool,
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


#: Types that bill nothing themselves (AWS charges nothing for them, or they are Kubernetes API objects that
#: start nothing billable: the workloads' compute is priced on the node pool, volumes on their claims).
FREE_TYPES = frozenset({
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route",
    "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ec2/securityGroupRule:SecurityGroupRule", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/instanceProfile:InstanceProfile",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:kms/alias:Alias", "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup", "aws:ec2/flowLog:FlowLog", "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "random:index/randomId:RandomId", "random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString",
    "pulumi:pulumi:StackReference", "pulumi:pulumi:Stack",
    "kubernetes:core/v1:Namespace", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret",
    "kubernetes:core/v1:ServiceAccount", "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:storage.k8s.io/v1:StorageClass",
    "kubernetes:eks.amazonaws.com/v1:IngressClassParams", "kubernetes:eks.amazonaws.com/v1:NodeClass",
    "kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    "kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:core/v1:LimitRange", "kubernetes:core/v1:ResourceQuota",
    "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob",
})
_FREE_NOTES = {
    "aws:ec2/flowLog:FlowLog": "its records are billed as log ingestion of its log group",
    "kubernetes:apps/v1:Deployment": "its pods' requests are priced as node compute",
    "kubernetes:apps/v1:StatefulSet": "its pods' requests are priced as node compute",
    "kubernetes:apps/v1:DaemonSet": "its pods' requests are priced as node compute",
    "kubernetes:batch/v1:Job": "runs to completion: not a monthly charge",
    "kubernetes:batch/v1:CronJob": "runs now and then: not estimated",
}
EKS_TYPES = ("eks:index:Cluster", "aws:eks/cluster:Cluster")
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")


def _matches(res: Resource, pattern: str) -> bool:
    return fnmatch.fnmatchcase(res.type, pattern) or fnmatch.fnmatchcase(f"{res.type}::{res.name}", pattern)


def estimate(resources: Iterable[Resource], *, stack: str, region: str | None, project: ProjectCosts | None = None,
             table: PriceTable | None = None, on: dt.date | None = None, versions: Lifecycle | None = None,
             hosts_others: bool | None = None) -> Estimate:
    """The estimate of the 730 hours from the start of ``on`` (default: today, :func:`automation.config.lifecycle.today`)
    of a stack that declares ``resources`` in ``region``; versions' support is looked up in ``versions``.
    ``hosts_others``: other stacks run on this one (environments.yaml), so a shared load balancer class it declares
    bills here (False: nobody uses it, $0; None: not known, a range)."""
    table = table or load_table()
    project = project or ProjectCosts()
    on = on or lifecycle.today()
    versions = versions or lifecycle.load()
    region_prices = table.regions.get(region) if region else None
    ctx = _Context(stack=stack, region=region_prices, region_name=region, hours=table.hours_per_month, project=project,
                   usage=project.usage_for(stack), resources=tuple(resources), on=on, lifecycle=versions,
                   hosts_others=hosts_others)
    for res in ctx.resources:
        _price_resource(ctx, res)
    if region_prices is not None:
        _compute(ctx)
        ctx.apply_usage()
    as_of = region_prices.instances.as_of if region_prices else ""
    stale = versions.stale(on)
    return Estimate(stack=stack, region=region, lines=tuple(ctx.lines), table_as_of=as_of, priced_from=on.isoformat(),
                    notes=(stale,) if stale else (), versions=tuple(dict.fromkeys(ctx.versions)))


def _price_resource(ctx: _Context, res: Resource) -> None:
    custom = next((p for p in ctx.project.prices if _matches(res, p.match)), None)
    if custom is not None:
        _custom(ctx, res, custom)
        return
    if any(_matches(res, p) for p in ctx.project.free):
        ctx.free(res, f"declared free in {PROJECT_FILE}")
        return
    if res.type.startswith("pulumi:providers:"):
        ctx.free(res)
        return
    if res.type in FREE_TYPES:
        ctx.free(res, _FREE_NOTES.get(res.type, ""))
        return
    if res.type in ("kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Service",
                    "kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:networking.k8s.io/v1:IngressClass", NODE_POOL,
                    *EKS_TYPES) or res.type.startswith("aws:"):
        if ctx.region is None:
            where = f"region {ctx.region_name}" if ctx.region_name else "no aws:region in the stack's config"
            ctx.unpriced(res, res.type, f"no prices for {where} in automation/prices/aws.yaml")
            return
        handler = _HANDLERS.get(res.type)
        if handler is None:
            ctx.unpriced(res, res.type, "the price table does not know this type: add it (README, Cost estimate)")
            return
        handler(ctx, res)
        return
    ctx.unpriced(res, res.type, f"no price known for this type: price it or declare it free in {PROJECT_FILE}")


def _custom(ctx: _Context, res: Resource, p: CustomPrice) -> None:
    qty = 1.0
    if p.quantity is not None:
        value = _get(res.inputs, p.quantity)
        if value is None and p.default_quantity is not None:
            value = p.default_quantity
        found = _num(value)
        if found is None:
            ctx.unpriced(res, p.billed, f"input {p.quantity} is {value!r}: not a number ({PROJECT_FILE})")
            return
        qty = found
    factor = ctx.hours if p.hourly else 1.0
    cost = p.usd * qty * factor
    price = Price(usd=p.usd, unit=p.unit, source=p.source, as_of=p.as_of, key=f"{PROJECT_FILE}: {p.match}")
    ctx.lines.append(Line(res.urn, res.type, res.name, p.billed, "fixed", f"{qty:g} {p.unit}", cost, cost, price))


def _nat(ctx: _Context, res: Resource) -> None:
    ctx.fixed(res, "NAT gateway hours", "nat_gateway_hour", 1, "730 h" if ctx.hours == 730 else f"{ctx.hours:g} h",
              per_hour=True)
    ctx.usage_line(res, "NAT data processed", "nat_gateway_gb")


def _eip(ctx: _Context, res: Resource) -> None:
    ctx.fixed(res, "public IPv4 address", "public_ipv4_hour", 1, "1 address", per_hour=True)


def _kms(ctx: _Context, res: Resource) -> None:
    rotating = bool(res.inputs.get("enableKeyRotation"))
    ctx.fixed(res, "KMS key", "kms_key_month", 1, "1 key", per_hour=False)
    if rotating:
        ctx.fixed(res, "KMS key rotations", "kms_rotation_month", 0, "0–2 rotations", per_hour=False, high_qty=2,
                  note="automatic yearly rotation: +$1/month after the first year, +$2 from the second")
    ctx.usage_line(res, "KMS requests", "kms_requests")


def _log_group(ctx: _Context, res: Resource) -> None:
    retention = res.inputs.get("retentionInDays")
    ctx.usage_line(res, "log ingestion", "logs_ingest_gb")
    ctx.usage_line(res, "log storage", "logs_storage_gb",
                   note=f"kept {retention} days" if retention not in (None, UNKNOWN) else "kept forever")


def _rds(ctx: _Context, res: Resource) -> None:
    assert ctx.region is not None
    inputs = res.inputs
    engine = inputs.get("engine")
    multi = bool(inputs.get("multiAz"))
    az = "Multi-AZ" if multi else "single-AZ"
    klass = inputs.get("instanceClass")
    table = ctx.region.rds_mysql
    if engine not in ("mysql",):
        ctx.unpriced(res, "DB instance hours", f"engine {engine!r}: only RDS for MySQL is in the price table")
    elif klass not in table.classes:
        ctx.unpriced(res, "DB instance hours", f"instance class {klass!r} is not in the price table (rds_mysql)")
    else:
        name = str(klass)
        listed = multi and name in table.multi_az
        hourly = table.multi_az[name] if listed else table.classes[name]
        price = Price(usd=hourly, unit=f"{klass} {'Multi-AZ' if listed else 'single-AZ'} hour", source=table.source,
                      as_of=table.as_of, checked=table.checked,
                      key=f"rds_mysql.multi_az.{klass}" if listed else f"rds_mysql.{klass}")
        n = 2 if multi and not listed else 1
        cost = hourly * n * ctx.hours
        note = ("Multi-AZ: the standby instance is billed too" + ("" if listed else " (twice the single-AZ price)")
                if multi else "")
        qty = f"{n} × {ctx.hours:g} h {klass} ({az})" if not listed else f"{ctx.hours:g} h {klass} ({az})"
        ctx.lines.append(Line(res.urn, res.type, res.name, "DB instance hours", "fixed", qty, cost, cost, price, note))
        _rds_extended(ctx, res, name, multi)
    size = _num(inputs.get("allocatedStorage"))
    kind = str(inputs.get("storageType") or "gp2")
    key = {"gp3": "rds_gp3_gb", "gp2": "rds_gp2_gb"}.get(kind)
    if size is None:
        ctx.unpriced(res, "DB storage", f"allocatedStorage is {inputs.get('allocatedStorage')!r}")
    elif key is None:
        ctx.unpriced(res, "DB storage", f"storage type {kind!r} is not in the price table")
    else:
        copies = 2 if multi else 1
        top = _num(inputs.get("maxAllocatedStorage"))
        note = ""
        if top and top > size:
            note = (f"storage autoscaling may grow it to {top:g} GB as data grows: "
                    f"{money(ctx.region.price(key).usd * top * copies)} at most")
        ctx.fixed(res, "DB storage", key, size * copies, f"{size:g} GB {kind} × {copies} ({az})", per_hour=False,
                  note=note)
    ctx.usage_line(res, "DB backup storage", "rds_backup_gb",
                   note="free up to the allocated storage; beyond it per GB-month")
    if inputs.get("enabledCloudwatchLogsExports"):
        ctx.usage_line(res, "exported DB logs ingestion", "logs_ingest_gb")


def _eks(ctx: _Context, res: Resource) -> None:
    assert ctx.region is not None
    if res.type == "eks:index:Cluster" and ctx.of_type("aws:eks/cluster:Cluster"):
        ctx.free(res, "priced on its aws:eks/cluster:Cluster child")
        return
    _eks_hours(ctx, res)
    logs = res.inputs.get("enabledClusterLogTypes")
    if logs:
        ctx.usage_line(res, "control plane logs ingestion", "logs_ingest_gb",
                       note=f"{len(logs)} log types to CloudWatch" if isinstance(logs, list) else "")


def _eks_hours(ctx: _Context, res: Resource) -> None:
    """The control plane by the month's support phase: standard, extended (AWS's default ``supportType``), or a
    range for a month that crosses the end of standard support (low: upgraded before the date)."""
    assert ctx.region is not None
    version = res.inputs.get("version")
    ratio = ctx.region.price("eks_cluster_extended").usd / ctx.region.price("eks_cluster_standard").usd
    hours = f"{ctx.hours:g} h"
    if not isinstance(version, str) or version == UNKNOWN:
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_standard", 1, f"{hours} (version not known: standard to "
                  "extended support)", per_hour=True, high_qty=ratio)
        return
    s = lifecycle.support(ctx.lifecycle, "eks", version, ctx.on)
    ctx.versions.append(s.summary())
    if s.phase == "unknown":
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_standard", 1, f"{hours} (Kubernetes {version}: standard to "
                  "extended support)", per_hour=True, high_qty=ratio, note=s.summary())
        return
    after = lifecycle.hours_after(ctx.on, ctx.hours, s.end_standard)
    support_type = _get(res.inputs, "upgradePolicy.supportType")
    if support_type == "STANDARD" and after > 0:
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_standard", 1, f"{hours} (Kubernetes {version}, standard "
                  "support)", per_hour=True, note=f"standard support of {version} ends on {s.end_standard}: with "
                  f"upgradePolicy.supportType STANDARD, EKS upgrades the cluster itself then (no extended support "
                  f"charge); {s.upgrade_hint()} before it, on your schedule")
    elif after <= 0:
        days = s.days_to_end or 0
        note = (f"standard support ends on {s.end_standard} (in {days} days): {s.upgrade_hint()} before it"
                if days <= ctx.lifecycle.warn_days else "")
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_standard", 1,
                  f"{hours} (Kubernetes {version}, standard support until {s.end_standard})", per_hour=True, note=note)
    elif after >= ctx.hours:
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_extended", 1, f"{hours} (Kubernetes {version}, extended "
                  "support)", per_hour=True, note=f"Kubernetes {version} left standard support on {s.end_standard}: "
                  f"billed extended support (until {s.end_extended}); {s.upgrade_hint()} to pay the standard price")
    else:
        ctx.fixed(res, "EKS cluster hours", "eks_cluster_standard", 1,
                  f"{hours} (Kubernetes {version}: standard support ends {s.end_standard})", per_hour=True,
                  high_qty=((ctx.hours - after) + after * ratio) / ctx.hours,
                  note=f"standard support ends on {s.end_standard}, within this month: up to {after:g} h at the "
                  f"extended support price unless upgraded before ({s.upgrade_hint()})")


def _rds_extended(ctx: _Context, res: Resource, klass: str, multi: bool) -> None:
    """RDS Extended Support: per vCPU-hour (standby included) for the hours past the end of standard support."""
    assert ctx.region is not None
    version = res.inputs.get("engineVersion")
    if not isinstance(version, str) or version == UNKNOWN:
        return
    s = lifecycle.support(ctx.lifecycle, "rds_mysql", version, ctx.on)
    ctx.versions.append(s.summary())
    billed = "RDS Extended Support"
    if s.phase == "unknown":
        ctx.unpriced(res, billed, s.summary() + ": whether extended support is billed is not known")
        return
    after = lifecycle.hours_after(ctx.on, ctx.hours, s.end_standard)
    if after <= 0:
        days = s.days_to_end or 0
        if days <= ctx.lifecycle.warn_days:
            ctx.lines.append(Line(res.urn, res.type, res.name, billed, "fixed", "none yet", 0.0, 0.0, None,
                                  f"standard support of MySQL {s.version} ends on {s.end_standard} (in {days} days): "
                                  f"{s.upgrade_hint()} before it"))
        return
    if res.inputs.get("engineLifecycleSupport") == "open-source-rds-extended-support-disabled":
        ctx.lines.append(Line(res.urn, res.type, res.name, billed, "fixed", "disabled", 0.0, 0.0, None,
                              f"MySQL {s.version} left standard support on {s.end_standard}: extended support is "
                              "disabled, so RDS upgrades the major version itself"))
        return
    assert s.end_standard is not None
    vcpu = ctx.region.rds_mysql.vcpu.get(klass)
    if vcpu is None:
        ctx.unpriced(res, billed, f"vCPUs of {klass!r} are not in the price table (rds_mysql.vcpu)")
        return
    rate, year = lifecycle.rds_rate(ctx.lifecycle, s.end_standard, ctx.on)
    copies = 2 if multi else 1
    high = rate * vcpu * copies * after
    pricing = ctx.lifecycle.rds_mysql.extended_pricing
    price = Price(usd=rate, unit=f"vCPU-hour (year {year} of extended support)", source=pricing.source,
                  as_of=str(ctx.lifecycle.checked), checked=pricing.checked, key=f"rds_extended_support.year{year}")
    crosses = after < ctx.hours
    ctx.lines.append(Line(res.urn, res.type, res.name, billed, "fixed",
                          f"{vcpu:g} vCPU × {copies} × {after:g} h", 0.0 if crosses else high, high, price,
                          f"MySQL {s.version} {'leaves' if crosses else 'left'} standard support on {s.end_standard}; "
                          f"{s.upgrade_hint()} to stop the charge"))


def _storage_class(ctx: _Context, name: Any) -> tuple[str, str]:
    """(EBS volume type, note) of a storage class of this stack, else gp3 assumed."""
    for sc in ctx.of_type("kubernetes:storage.k8s.io/v1:StorageClass"):
        if _get(sc.inputs, "metadata.name") == name:
            params = sc.inputs.get("parameters") or {}
            return str(params.get("type") or "gp3"), ""
    return "gp3", f"storage class {name!r} is not declared by this stack: gp3 assumed"


def _pvc(ctx: _Context, res: Resource) -> None:
    size = k8s_quantity(_get(res.inputs, "spec.resources.requests.storage"))
    klass = _get(res.inputs, "spec.storageClassName")
    kind, note = _storage_class(ctx, klass)
    key = {"gp3": "ebs_gp3_gb", "gp2": "ebs_gp2_gb"}.get(kind)
    if size is None:
        ctx.unpriced(res, "EBS volume", "the claim's storage request is not a quantity")
    elif key is None:
        ctx.unpriced(res, "EBS volume", f"volume type {kind!r} is not in the price table")
    else:
        gb = size / 2.0**30
        ctx.fixed(res, "EBS volume", key, gb, f"{gb:g} GiB {kind}", per_hour=False, note=note)


def _alb_params(ctx: _Context, class_name: Any) -> Mapping[str, Any] | None:
    """The spec of the IngressClassParams behind this stack's ALB IngressClass ``class_name`` ({} if it has none);
    None if the stack declares no such class."""
    for ic in ctx.of_type("kubernetes:networking.k8s.io/v1:IngressClass"):
        if _get(ic.inputs, "metadata.name") == class_name and _get(ic.inputs, "spec.controller") == "eks.amazonaws.com/alb":
            params_name = _get(ic.inputs, "spec.parameters.name")
            for p in ctx.of_type("kubernetes:eks.amazonaws.com/v1:IngressClassParams"):
                if _get(p.inputs, "metadata.name") == params_name:
                    return dict(p.inputs.get("spec") or {})
            return {}
    return None


def _ingress(ctx: _Context, res: Resource) -> None:
    class_name = _get(res.inputs, "spec.ingressClassName")
    spec = _alb_params(ctx, class_name)
    if spec is None:
        ctx.lines.append(Line(res.urn, res.type, res.name, "load balancer", "fixed", "shared", 0.0, 0.0, None,
                              f"ingress class {class_name!r} belongs to the cluster's stack: its load balancer is "
                              "billed there (this ingress adds only its traffic)"))
        return
    group = _get(spec, "group.name")
    if group:  # one ALB per group: the group's first ingress carries it
        members = [r for r in ctx.of_type("kubernetes:networking.k8s.io/v1:Ingress")
                   if _get(_alb_params(ctx, _get(r.inputs, "spec.ingressClassName")) or {}, "group.name") == group]
        if members and members[0].urn != res.urn:
            ctx.lines.append(Line(res.urn, res.type, res.name, "load balancer", "fixed", "shared", 0.0, 0.0, None,
                                  f"shares the load balancer of group {group!r} with {members[0].name}"))
            return
    ctx.fixed(res, "application load balancer hours", "alb_hour", 1, "730 h", per_hour=True)
    ctx.usage_line(res, "load balancer capacity units", "alb_lcu_hour", per_hour=True,
                   note="average LCUs in use: new connections, active connections, bytes, rule evaluations")
    if _get(spec, "scheme") == "internet-facing":
        subnets = _get(spec, "subnets.ids")
        n = len(subnets) if isinstance(subnets, list) and subnets else 0
        if n:
            ctx.fixed(res, "load balancer public IPv4 addresses", "public_ipv4_hour", n, f"{n} addresses (one per subnet)",
                      per_hour=True)
        else:
            ctx.fixed(res, "load balancer public IPv4 addresses", "public_ipv4_hour", 2, "2–6 addresses (one per zone)",
                      per_hour=True, high_qty=6, note="its subnets are chosen by the controller: at least two zones")
    ctx.usage_line(res, "data out to the internet", "data_out_gb")


def _ingress_class(ctx: _Context, res: Resource) -> None:
    """An ALB class with a group that no ingress of this stack uses is there for other stacks (dev's
    ``alb-personal`` for personal stacks): their one shared load balancer is billed here, to the stack that
    declares it, from $0 (no such ingress exists) to one ALB."""
    assert ctx.region is not None
    name = _get(res.inputs, "metadata.name")
    spec = _alb_params(ctx, name)
    group = _get(spec or {}, "group.name")
    used = any(_get(r.inputs, "spec.ingressClassName") == name for r in ctx.of_type("kubernetes:networking.k8s.io/v1:Ingress"))
    if not group or used:
        ctx.free(res, "its load balancer is priced on the ingresses that use it" if spec is not None else "")
        return
    if ctx.hosts_others is False:
        ctx.free(res, f"for other stacks' ingresses (group {group!r}), but no stack of environments.yaml runs on "
                 f"{ctx.stack}: no load balancer")
        return
    subnets = _get(spec or {}, "subnets.ids")
    ips = len(subnets) if isinstance(subnets, list) and subnets else 2
    per_hour = ctx.region.price("alb_hour").usd + ips * ctx.region.price("public_ipv4_hour").usd
    price = ctx.region.price("alb_hour")
    ctx.lines.append(Line(res.urn, res.type, res.name, "shared load balancer (other stacks' ingresses)", "fixed",
                          f"0–{ctx.hours:g} h + {ips} IPv4 addresses", 0.0, per_hour * ctx.hours, price,
                          f"group {group!r}: one ALB for every ingress of other stacks (personal stacks) using class "
                          f"{name!r}, from $0 while none exists; their traffic (LCUs, data out) is not in this figure"))


def _service(ctx: _Context, res: Resource) -> None:
    if _get(res.inputs, "spec.type") != "LoadBalancer":
        ctx.free(res)
        return
    ctx.fixed(res, "network load balancer hours", "nlb_hour", 1, "730 h", per_hour=True)
    ctx.usage_line(res, "network load balancer capacity units", "nlb_nlcu_hour", per_hour=True)


def _node_pool(ctx: _Context, res: Resource) -> None:
    pass  # priced with the workloads by _compute (the pool says which instances; the workloads how many)


_HANDLERS = {
    "aws:ec2/natGateway:NatGateway": _nat, "aws:ec2/eip:Eip": _eip, "aws:kms/key:Key": _kms,
    "aws:cloudwatch/logGroup:LogGroup": _log_group, "aws:rds/instance:Instance": _rds,
    "eks:index:Cluster": _eks, "aws:eks/cluster:Cluster": _eks,
    "kubernetes:core/v1:PersistentVolumeClaim": _pvc, "kubernetes:networking.k8s.io/v1:Ingress": _ingress,
    "kubernetes:core/v1:Service": _service, NODE_POOL: _node_pool,
    "kubernetes:networking.k8s.io/v1:IngressClass": _ingress_class,
}


# -- compute (Auto Mode) ------------------------------------------------------------------------------------
def _pods(ctx: _Context) -> tuple[list[_Pod], list[str]]:
    """Each replica of each Deployment and StatefulSet, by its containers' requests (limits if only those)."""
    pods: list[_Pod] = []
    notes: list[str] = []
    for res in ctx.of_type(*WORKLOADS):
        replicas = _num(_get(res.inputs, "spec.replicas"))
        count = 1 if replicas is None else int(replicas)
        cpu = mem = 0.0
        for c in _get(res.inputs, "spec.template.spec.containers") or []:
            resources = c.get("resources") or {} if isinstance(c, Mapping) else {}
            req = resources.get("requests") or {}
            lim = resources.get("limits") or {}
            c_cpu = k8s_quantity(req.get("cpu", lim.get("cpu")))
            c_mem = k8s_quantity(req.get("memory", lim.get("memory")))
            if c_cpu is None or c_mem is None:
                notes.append(f"{res.name}: a container without cpu/memory requests counts as 0")
            cpu += (c_cpu or 0.0) * 1000
            mem += (c_mem or 0.0) / 2.0**20
        pods += [_Pod(cpu, mem) for _ in range(count)]
    return pods, notes


def _candidates(ctx: _Context, pool: Resource | None, shared: bool = False) -> list[tuple[str, Instance]]:
    """Instance types a pool allows; a stack on a shared cluster (``shared``): every type of the table, the shared
    cluster's pools deciding (this project's `workloads` pool allows every family the table has)."""
    assert ctx.region is not None
    types = ctx.region.instances.types
    allowed: dict[str, set[str]] = {}
    if pool is not None:
        for req in _get(pool.inputs, "spec.template.spec.requirements") or []:
            if isinstance(req, Mapping) and req.get("operator") == "In" and isinstance(req.get("values"), list):
                allowed[str(req.get("key"))] = {str(v) for v in req["values"]}
    elif not shared:
        allowed["eks.amazonaws.com/instance-category"] = {"c", "m", "r"}  # Auto Mode's built-in general-purpose pool
    cats = allowed.get("eks.amazonaws.com/instance-category")
    arches = allowed.get("kubernetes.io/arch")
    names = allowed.get("node.kubernetes.io/instance-type")
    return sorted(((n, i) for n, i in types.items()
                   if (cats is None or i.category in cats) and (arches is None or i.arch in arches)
                   and (names is None or n in names)), key=lambda x: (x[1].usd, x[0]))


def _node_cost(ctx: _Context, inst: Instance) -> float:
    assert ctx.region is not None
    fee = ctx.region.price("eks_auto_mode_fee").usd
    root = ctx.region.node.root_volume_gib * ctx.region.price("ebs_gp3_gb").usd
    return inst.usd * (1 + fee) * ctx.hours + root


def _fits(ctx: _Context, inst: Instance, cpu_m: float, mem_mib: float) -> bool:
    assert ctx.region is not None
    node = ctx.region.node
    return (cpu_m <= inst.vcpu * 1000 - node.reserved_cpu_m
            and mem_mib <= inst.memory_gib * 1024 - node.reserved_memory_mib)


def _pack(ctx: _Context, inst: Instance, pods: list[_Pod]) -> int | None:
    """Nodes of type ``inst`` that first-fit-decreasing packs ``pods`` onto; None if one pod does not fit."""
    bins: list[list[float]] = []
    for pod in sorted(pods, key=lambda p: (p.memory_mib, p.cpu_m), reverse=True):
        if not _fits(ctx, inst, pod.cpu_m, pod.memory_mib):
            return None
        for b in bins:
            if _fits(ctx, inst, b[0] + pod.cpu_m, b[1] + pod.memory_mib):
                b[0] += pod.cpu_m
                b[1] += pod.memory_mib
                break
        else:
            bins.append([pod.cpu_m, pod.memory_mib])
    return len(bins)


def _compute(ctx: _Context) -> None:
    """Auto Mode compute for the workloads' requests: a range from packed onto the cheapest allowed instance
    type (low) to one node per pod on the cheapest type each fits (high). Node = instance + Auto Mode fee +
    its root volume. A stack without a cluster and node pool of its own (a personal stack on a shared cluster)
    ranges from 0 (its pods fit the spare room of the shared nodes) to the nodes it would add."""
    assert ctx.region is not None
    pods, notes = _pods(ctx)
    if not pods:
        return
    pool = next(iter(ctx.of_type(NODE_POOL)), None)
    owns_cluster = pool is not None or bool(ctx.of_type(*EKS_TYPES))
    anchor = pool or next(iter(ctx.of_type(*EKS_TYPES)), None) or ctx.of_type(*WORKLOADS)[0]
    candidates = _candidates(ctx, pool, shared=not owns_cluster)
    cpu = sum(p.cpu_m for p in pods)
    mem = sum(p.memory_mib for p in pods)
    plans = [(n * _node_cost(ctx, inst), n, name, inst) for name, inst in candidates
             if (n := _pack(ctx, inst, pods)) is not None]
    if not plans:
        ctx.unpriced(anchor, "node compute", f"no instance type of the price table fits a pod of {len(pods)} "
                     "allowed by the node pool")
        return
    low, n_low, name_low, _ = min(plans, key=lambda p: (p[0], p[2]))
    per_pod = []
    for pod in pods:
        fitting = [(_node_cost(ctx, i), n) for n, i in candidates if _fits(ctx, i, pod.cpu_m, pod.memory_mib)]
        per_pod.append(min(fitting))
    high = sum(c for c, _ in per_pod)
    source = ctx.region.instances
    price = Price(usd=ctx.region.instances.types[name_low].usd, unit=f"{name_low} hour (+{ctx.region.price('eks_auto_mode_fee').usd:.0%} "
                  f"Auto Mode fee, +{ctx.region.node.root_volume_gib:g} GiB gp3 root volume per node)",
                  source=source.source, as_of=source.as_of, checked=source.checked, key=f"instances.{name_low}")
    what = f"{n_low} × {name_low} packed; ≤ {len(pods)} node(s)"
    families = sorted({i.category for _, i in candidates})
    assumption = (f"Auto Mode chooses the instances; assumed: {len(pods)} pod(s) requesting {cpu:g}m CPU and "
                  f"{mem:g} MiB in all, packed onto the cheapest on-demand type of families {', '.join(families)} the "
                  "node pool allows (low), up to one node per pod (high)")
    if not owns_cluster:
        low = 0.0
        assumption = ("runs on a shared cluster's nodes: $0 if its pods fit their spare room, up to the nodes it "
                      "would add; " + assumption)
    if notes:
        assumption += "; " + "; ".join(notes)
    ctx.lines.append(Line(anchor.urn, anchor.type, anchor.name, "node compute (Auto Mode)", "fixed", what, low, high,
                          price, assumption))
