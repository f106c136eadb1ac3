"""The price table (``automation/prices/aws.yaml``, dated, each price with its source) and the project's
``costs.yaml`` (usage assumptions per stack, prices of types the table does not know, types that bill nothing):
read and validated once; an unknown key is refused with the nearest known one named."""

from __future__ import annotations

import fnmatch
import functools
import math
from collections.abc import Mapping
from pathlib import Path

import msgspec
import yaml

from automation.model.errors import ConfigError, nearest

TABLE_PATH = Path(__file__).resolve().parents[1] / "prices" / "aws.yaml"


PROJECT_FILE = "costs.yaml"


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
#: (``usage_line``; tests/unit/test_cost.py keeps the two equal). Anything else is a typo, refused with the nearest key.
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
