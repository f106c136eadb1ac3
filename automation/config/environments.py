"""The environments file: an ordered list of branch -> stack rules, validated, first match wins. Pure.

Nothing here imports Pulumi: routing and planning must stay fast.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml

from automation.config.stackconfig import PERSONAL_NAME, STACK_NAME, PersonalSpec, StackConfig, load_stack_config, project_name
from automation.model.errors import ConfigError, nearest
from automation.model.health import HealthSpec
from automation.model.resources import STATEFUL_TYPES

FILE_NAME = "environments.yaml"
NAME_PLACEHOLDER = "{name}"
#: Branch names as git allows them, narrowed: no spaces, control characters, '..', '~^:?*[\\' or '@{'.
SAFE_BRANCH = re.compile(r"^(?![/-])(?!.*//)(?!.*\.\.)(?!.*@\{)(?!.*\.lock$)[A-Za-z0-9._/+-]{1,200}(?<![/.])$")
#: Tools ``defaults.tools`` may name: ``aws``, the aws CLI pulumi-eks runs on the deploying machine.
KNOWN_TOOLS = frozenset({"aws"})
#: the values a rule's Literal fields allow, named in the error for any other value
_CHOICES = {"kind": ("environment", "personal"), "reviewed_plan": ("off", "check", "require")}
DEFAULT_INFRA_PATHS = ("Pulumi.yaml", "Pulumi.*.yaml", "__main__.py", "infra/**", "apps/**", "requirements.txt", "environments.yaml")


class HealthRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A rule's ``health``: probe the stack's URL output after every ``up`` (see automation.adapters.health)."""

    output: str = "healthUrl"
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 300.0
    interval_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    expect_status: Annotated[int, msgspec.Meta(ge=100, le=599)] = 200
    headers: dict[str, str] = msgspec.field(default_factory=dict)

    def spec(self) -> HealthSpec:
        return HealthSpec(output=self.output, timeout_s=self.timeout_s, interval_s=self.interval_s,
                          expect_status=self.expect_status, headers=dict(self.headers))


class WaiverRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One policy waived for the resources a ``type::name`` glob (or URN) matches, with the reason (reported)."""

    policy: str
    resource: Annotated[str, msgspec.Meta(min_length=1)]
    reason: Annotated[str, msgspec.Meta(min_length=3)]


class PolicyRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A rule's ``policy``: enforcement levels per policy of the pack (default: each policy's own) and waivers.
    Policy names are checked against the pack before any operation (automation.review.policy)."""

    enforcement: dict[str, Literal["mandatory", "advisory", "disabled"]] = msgspec.field(default_factory=dict)
    waivers: tuple[WaiverRule, ...] = ()


class Rule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    branch: str
    stack: str
    kind: Literal["environment", "personal"]
    template: str | None = None
    infra_paths: tuple[str, ...] | None = None
    auto_destroy: bool = False
    ttl_days: Annotated[int, msgspec.Meta(ge=1, le=365)] | None = None
    protected: bool = False
    #: config values of an `up` the engine runs before destroying a stack of this rule, so the program can remove
    #: what Pulumi cannot delete itself (here: a personal database and MySQL user on the shared RDS instance)
    before_destroy_config: dict[str, str] | None = None
    #: merges: compare the plan with the one previewed on the pull request (off | check | require)
    reviewed_plan: Literal["off", "check", "require"] = "check"
    #: probe the stack's health URL output after every `up`
    health: HealthRule | None = None
    #: the policy pack's enforcement levels and waivers for this rule's stacks (automation.review.policy)
    policy: PolicyRule | None = None
    #: an unhealthy `up` rolls back once, through the guarded rollback, to the last healthy commit
    auto_rollback: bool = False
    #: `drift --remediate` may refresh and re-apply this environment (never by default)
    drift_remediation: bool = False
    #: personal stacks: warn this many days before the ttl destroys the stack
    ttl_warn_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 3
    #: the stack's monthly cost budget in USD: a preview over it warns; an up that would cross it is refused (exit 8)
    budget_monthly_usd: Annotated[float, msgspec.Meta(gt=0)] | None = None

    def __post_init__(self) -> None:
        """Checks across fields; a ValueError here becomes msgspec's ValidationError with the rule's path."""
        if not SAFE_BRANCH.match(self.branch.replace(NAME_PLACEHOLDER, "x")) or self.branch.count(NAME_PLACEHOLDER) > 1:
            raise ValueError(f"branch pattern {self.branch!r} is not a valid branch name (at most one {NAME_PLACEHOLDER})")
        if not STACK_NAME.match(self.stack.replace(NAME_PLACEHOLDER, "x")):
            raise ValueError(f"stack {self.stack!r} is not a valid Pulumi stack name (letters, digits, '-', '_', '.')")
        templated = NAME_PLACEHOLDER in self.branch
        if self.kind == "environment":
            if self.auto_destroy:
                raise ValueError(f"rule {self.branch!r}: auto_destroy is never allowed for an environment")
            if templated or NAME_PLACEHOLDER in self.stack:
                raise ValueError(f"rule {self.branch!r}: an environment maps one branch to one stack (no {NAME_PLACEHOLDER})")
            if self.template or self.ttl_days:
                raise ValueError(f"rule {self.branch!r}: template and ttl_days are for personal rules")
        if self.auto_rollback and self.health is None:
            raise ValueError(f"rule {self.branch!r}: auto_rollback needs `health` (what makes a deploy unhealthy)")
        if self.kind == "personal":
            if not templated or NAME_PLACEHOLDER not in self.stack:
                raise ValueError(f"rule {self.branch!r}: a personal rule needs {NAME_PLACEHOLDER} in both branch and stack")
            if not self.template:
                raise ValueError(f"rule {self.branch!r}: a personal rule needs `template` (the environment stack it derives from)")
            if self.protected:
                raise ValueError(f"rule {self.branch!r}: personal stacks cannot be protected")

    def pattern(self) -> re.Pattern[str]:
        head, _, tail = self.branch.partition(NAME_PLACEHOLDER)
        if NAME_PLACEHOLDER not in self.branch:
            return re.compile(re.escape(self.branch) + r"\Z")
        return re.compile(re.escape(head) + r"(?P<name>.+?)" + re.escape(tail) + r"\Z")


class EnvironmentsFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    environments: tuple[Rule, ...]
    defaults: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.environments:
            raise ValueError("`environments` must list at least one rule")
        unknown = set(self.defaults) - {"infra_paths", "stateful", "tools"}
        if unknown:
            raise ValueError(f"unknown key(s) in defaults: {', '.join(sorted(unknown))} "
                             "(allowed: infra_paths, stateful, tools)")
        tools = self.defaults.get("tools", [])
        if not isinstance(tools, list) or not set(tools) <= KNOWN_TOOLS:
            raise ValueError(f"defaults.tools must be a list of: {', '.join(sorted(KNOWN_TOOLS))}")
        stacks = [r.stack for r in self.environments]
        dupes = {s for s in stacks if stacks.count(s) > 1}
        if dupes:
            raise ValueError(f"stack(s) {', '.join(sorted(dupes))} appear in more than one rule")
        env_stacks = {r.stack for r in self.environments if r.kind == "environment"}
        for r in self.environments:
            if r.kind == "personal" and r.template not in env_stacks:
                raise ValueError(f"rule {r.branch!r}: template {r.template!r} is not an environment stack of this file")


@dataclass(frozen=True)
class Route:
    """Where a branch goes: the rule it hit, the stack name, and the personal name if any."""

    branch: str
    rule_index: int
    rule: Rule
    stack: str
    name: str | None
    infra_paths: tuple[str, ...]

    @property
    def kind(self) -> Literal["environment", "personal"]:
        return self.rule.kind


@dataclass(frozen=True)
class Environments:
    rules: tuple[Rule, ...]

    def hosts_others(self, stack: str) -> bool:
        """Whether personal stacks run on ``stack`` (it is the ``template`` of a personal rule)."""
        return any(r.template == stack for r in self.rules)
    infra_paths: tuple[str, ...]
    source: str
    #: patterns of resources whose replacement or deletion loses data (``type`` or ``type::name`` globs);
    #: None: the engine's built-in list of stateful types
    stateful: tuple[str, ...] | None = None
    #: tools the engine checks for before any cloud operation (``aws``: the aws CLI the cluster's kubeconfig runs)
    tools: tuple[str, ...] = ()

    def is_stateful(self, type_: str, name: str) -> bool:
        if self.stateful is None:
            return type_ in STATEFUL_TYPES
        return any(fnmatch.fnmatchcase(type_, p) or fnmatch.fnmatchcase(f"{type_}::{name}", p) for p in self.stateful)

    def route(self, branch: str) -> Route | None:
        """The first rule matching ``branch``; None if no rule matches.

        :raises ConfigError: the branch matches a personal rule but its name part is unsafe.
        """
        if not SAFE_BRANCH.match(branch):
            raise ConfigError(f"branch name {branch!r} is not a safe git branch name; refusing to route it")
        for index, rule in enumerate(self.rules):
            match = rule.pattern().match(branch)
            if not match:
                continue
            name = match.groupdict().get("name")
            if name is not None and not PERSONAL_NAME.match(name):
                raise ConfigError(
                    f"branch {branch!r} matches rule {rule.branch!r} but {name!r} is not a safe personal name: use 1-30 "
                    "lower-case letters, digits or '-' (it becomes a stack, a namespace and a database name)")
            stack = rule.stack.replace(NAME_PLACEHOLDER, name or "")
            return Route(branch=branch, rule_index=index, rule=rule, stack=stack, name=name,
                         infra_paths=rule.infra_paths if rule.infra_paths is not None else self.infra_paths)
        return None

    def by_stack(self, stack: str) -> Route | None:
        """The route of a stack name (for per-stack commands): exact environment stacks, then personal templates."""
        for index, rule in enumerate(self.rules):
            if rule.kind == "environment" and rule.stack == stack:
                return Route(branch=rule.branch, rule_index=index, rule=rule, stack=stack, name=None,
                             infra_paths=rule.infra_paths if rule.infra_paths is not None else self.infra_paths)
        for index, rule in enumerate(self.rules):
            if rule.kind != "personal":
                continue
            head, _, tail = rule.stack.partition(NAME_PLACEHOLDER)
            m = re.fullmatch(re.escape(head) + r"(?P<name>.+)" + re.escape(tail), stack)
            if m and PERSONAL_NAME.match(m["name"]):
                branch = rule.branch.replace(NAME_PLACEHOLDER, m["name"])
                return Route(branch=branch, rule_index=index, rule=rule, stack=stack, name=m["name"],
                             infra_paths=rule.infra_paths if rule.infra_paths is not None else self.infra_paths)
        return None

    def stack_config(self, root: Path, stack: str) -> StackConfig:
        """A stack's config; personal stacks are derived from their rule's template."""
        route = self.by_stack(stack)
        personal = None
        if route is not None and route.kind == "personal":
            assert route.name is not None and route.rule.template is not None  # guaranteed by validation
            personal = PersonalSpec.of(project_name(root), route.name, route.rule.template)
        return load_stack_config(root, stack, personal=personal)

    def environment_stacks(self) -> tuple[str, ...]:
        return tuple(r.stack for r in self.rules if r.kind == "environment")


def touches_infra(paths: tuple[str, ...], changed: tuple[str, ...]) -> tuple[str, ...]:
    """The changed files that match any infrastructure glob (``**`` spans directories)."""
    return tuple(f for f in changed if any(fnmatch.fnmatchcase(f, p) for p in paths))


#: the struct at a place in the file, by the last part of its path (for unknown keys: the keys it has)
_STRUCTS: dict[str, type[msgspec.Struct]] = {"health": HealthRule, "policy": PolicyRule, "waivers": WaiverRule,
                                             "environments": Rule, "(top level)": EnvironmentsFile}


def _unknown_field(name: str, where: str) -> str:
    last = re.sub(r"\[\d+\]$", "", where.rsplit(".", 1)[-1])
    struct = _STRUCTS.get(last)
    known = list(struct.__struct_fields__) if struct is not None else []
    guess = nearest(name, known)
    hint = f"did you mean `{guess}`?" if guess else f"known: {', '.join(known)}" if known else "check its spelling"
    return f"unknown key `{name}` ({hint})"


LEVELS = ("mandatory", "advisory", "disabled")


def _check_levels(data: dict[str, Any], source: str) -> None:
    """Enforcement levels, named by rule and policy (msgspec would say only "Invalid enum value")."""
    rules = data.get("environments")
    for i, rule in enumerate(rules if isinstance(rules, list) else ()):
        policy = rule.get("policy") if isinstance(rule, dict) else None
        levels = policy.get("enforcement") if isinstance(policy, dict) else None
        for name, level in (levels.items() if isinstance(levels, dict) else ()):
            if level not in LEVELS:
                raise ConfigError(f"{source}: environments[{i}].policy.enforcement.{name}: {level!r} is not an enforcement "
                                  f"level (allowed: {', '.join(LEVELS)})")


def parse_environments(data: object, source: str) -> Environments:
    """Validate a parsed environments document. :raises ConfigError: with the first problem found."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a YAML mapping with an `environments` list")
    _check_levels(data, source)
    try:
        doc = msgspec.convert(data, EnvironmentsFile)
    except msgspec.ValidationError as exc:
        # msgspec says "<problem> - at `$.environments[0].kind`": name the place first, as a path into the file
        msg, _, where = str(exc).partition(" - at ")
        where = where.strip("`").removeprefix("$").removeprefix(".") or "(top level)"
        unknown = re.match(r"Object contains unknown field `(.+)`$", msg)
        if unknown:
            raise ConfigError(f"{source}: {where}: {_unknown_field(unknown[1], where)}") from None
        allowed = _CHOICES.get(where.rsplit(".", 1)[-1]) if msg.startswith("Invalid enum value") else None
        raise ConfigError(f"{source}: {where}: {msg}" + (f" (allowed: {', '.join(allowed)})" if allowed else "")) from None
    paths = doc.defaults.get("infra_paths", DEFAULT_INFRA_PATHS)
    if not isinstance(paths, (list, tuple)) or not all(isinstance(p, str) and p for p in paths):
        raise ConfigError(f"{source}: defaults.infra_paths must be a list of glob patterns")
    stateful = doc.defaults.get("stateful")
    if stateful is not None and (not isinstance(stateful, (list, tuple)) or not all(isinstance(p, str) and p for p in stateful)):
        raise ConfigError(f"{source}: defaults.stateful must be a list of `type` or `type::name` glob patterns")
    return Environments(rules=doc.environments, infra_paths=tuple(paths), source=source,
                        stateful=tuple(stateful) if stateful is not None else None,
                        tools=tuple(doc.defaults.get("tools", ())))


def load_environments(root: Path) -> Environments:
    path = root / FILE_NAME
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: the engine needs it to map branches to stacks") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory: it must be the environments YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_environments(data, FILE_NAME)
