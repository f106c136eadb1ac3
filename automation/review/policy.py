"""The project's policy pack, from the engine's side: where it is, its per-stack settings, and the offline
evaluation. Pure except for reading the pack's ``rules.py`` and writing nothing.

The pack (``<project>/policypack``, README "Policy as code") keeps every policy as a pure function in
``rules.py``. On the real CLI the engine passes the pack directory and a config (levels, waivers, the project's
stateful patterns) to every preview and up, and the CLI runs the pack (an analyzer plugin). Offline (``synth
--policy``, a fork's diff) this module runs the same functions on what synth records. Either way the result is
a tuple of :class:`automation.model.changes.PolicyViolation`.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from automation.config import lifecycle
from automation.model.changes import PolicyViolation, ResourceChange
from automation.model.errors import ConfigError, nearest
from automation.model.snapshot import Resource

PACK_DIR = "policypack"
#: a mandatory violation: nothing was applied (README, exit codes; the same code as automation.flow.runner's)
POLICY_DENIED_EXIT_CODE = 9
PACK_FILE = "PulumiPolicy.yaml"


def pack_dir(root: Path) -> Path | None:
    """The project's policy pack directory, or None when the project has none (no pack runs)."""
    path = root / PACK_DIR
    return path if (path / PACK_FILE).is_file() and (path / "rules.py").is_file() else None


_LOADED: dict[tuple[str, float], ModuleType] = {}


def load_rules(pack: Path) -> ModuleType:
    """The pack's ``rules.py`` as a module (cached per file and modification time)."""
    path = (pack / "rules.py").resolve()
    key = (str(path), path.stat().st_mtime)
    if key not in _LOADED:
        name = f"_ghost_gitops_policy_rules_{len(_LOADED)}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"{path}: cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses resolve their module by name
        spec.loader.exec_module(module)
        _LOADED[key] = module
    return _LOADED[key]


@dataclass(frozen=True)
class StackPolicy:
    """What the pack is told for one stack: levels that differ from each policy's own, waivers, stateful globs."""

    pack: Path
    stack: str
    environment: str | None
    levels: Mapping[str, str]
    waivers: tuple[tuple[str, str, str], ...]  # (policy, resource glob, reason)
    stateful: tuple[str, ...] | None
    #: the version support calendar on the day of the run (automation.config.lifecycle), for the version policies
    calendar: Mapping[str, Any] | None = None

    def config(self) -> dict[str, Any]:
        """The CLI's policy pack config file (``policy_pack_configs``): per policy its enforcement level, the stack
        and its environment (a pack started as a plugin is not told the stack's config), the waivers that name it
        and the stateful patterns."""
        rules = load_rules(self.pack)
        out: dict[str, Any] = {}
        for policy in rules.POLICIES:
            entry: dict[str, Any] = {"enforcementLevel": self.levels.get(policy.name, policy.level), "stack": self.stack}
            if self.environment is not None:
                entry["environment"] = self.environment
            waived = [{"resource": r, "reason": why} for p, r, why in self.waivers if p == policy.name]
            if waived:
                entry["waivers"] = waived
            if self.stateful is not None:
                entry["stateful"] = list(self.stateful)
            if self.calendar is not None:
                entry["calendar"] = dict(self.calendar)
            out[policy.name] = entry
        return out

    @property
    def policies(self) -> int:
        """How many policies run (those not disabled)."""
        rules = load_rules(self.pack)
        return sum(1 for p in rules.POLICIES if self.levels.get(p.name, p.level) != "disabled")

    def enrich(self, violations: Iterable[PolicyViolation]) -> tuple[PolicyViolation, ...]:
        """The CLI's violations with what the pack says of each policy (how to fix it, its severity)."""
        by_name = {p.name: p for p in load_rules(self.pack).POLICIES}
        out = []
        for v in violations:
            p = by_name.get(v.policy)
            out.append(replace(v, fix=v.fix or (p.description if p else ""), severity=v.severity or (p.severity if p else "")))
        return tuple(out)

    def evaluate(self, resources: Iterable[Resource]) -> tuple[PolicyViolation, ...]:
        """The pack's verdicts on ``resources`` (offline: synth's; or the real CLI's inputs, to record waivers)."""
        rules = load_rules(self.pack)
        ctx = rules.Context(stack=self.stack, environment=self.environment, calendar=self.calendar,
                            **({"stateful": self.stateful} if self.stateful is not None else {}))
        subjects = [rules.Subject(r.urn, r.type, r.name, r.inputs, r.protect) for r in resources]
        waivers = [rules.Waiver(p, r, why) for p, r, why in self.waivers]
        found = rules.evaluate(subjects, ctx, dict(self.levels), waivers)
        return tuple(PolicyViolation(policy=v.policy, level=v.level, urn=v.urn, name=v.name, message=v.message,
                                     type=v.type, fix=v.fix, severity=v.severity, waived=v.waived) for v in found)


def _check_names(pack: Path, where: str, named: Iterable[str]) -> None:
    names = sorted(p.name for p in load_rules(pack).POLICIES)
    for name in sorted(set(named)):
        if name not in names:
            guess = nearest(name, names)
            hint = f"did you mean `{guess}`?" if guess else f"the pack {pack} has: {', '.join(names)}"
            raise ConfigError(f"environments.yaml: the policy settings of {where} name an unknown policy `{name}` ({hint})")


def check_rules(root: Path, rules: Iterable[Any]) -> None:
    """Every rule's policy settings name policies of the pack (``environments`` and ``plan`` check it, as every
    operation does): a misspelt policy name is bad input (exit 2). Nothing to check without a pack."""
    pack = pack_dir(root)
    if pack is None:
        return
    for rule in rules:
        settings = getattr(rule, "policy", None)
        if settings is not None:
            _check_names(pack, f"rule {rule.branch!r}",
                         [*settings.enforcement, *(w.policy for w in settings.waivers)])


def stack_policy(root: Path, stack: str, environment: str | None, rule: Any, stateful: tuple[str, ...] | None
                 ) -> StackPolicy | None:
    """The pack settings of ``stack`` from its environments.yaml rule (``rule.policy``), checked against the pack:
    an unknown policy name is bad input (exit 2) before anything runs. None when the project has no pack."""
    pack = pack_dir(root)
    if pack is None:
        return None
    settings = getattr(rule, "policy", None) if rule is not None else None
    levels = dict(settings.enforcement) if settings is not None else {}
    waivers = tuple((w.policy, w.resource, w.reason.strip()) for w in settings.waivers) if settings is not None else ()
    _check_names(pack, stack, [*levels, *(p for p, _, _ in waivers)])
    return StackPolicy(pack=pack, stack=stack, environment=environment, levels=levels, waivers=waivers,
                       stateful=stateful, calendar=lifecycle.load().to_policy_config(lifecycle.today()))


#: the engine's own guard (not a pack policy: the pack sees only the new inputs, this needs the change)
ONE_MINOR = "kubernetes-one-minor-upgrade"
ONE_MINOR_FIX = ("EKS upgrades a cluster one Kubernetes minor at a time and cannot downgrade: change "
                 "kubernetesVersion by one minor, deploy, then the next")
_EKS_TYPES = ("eks:index:Cluster", "aws:eks/cluster:Cluster")


def _minor(text: str | None) -> int | None:
    parts = (text or "").strip('"').split(".")
    return int(parts[1]) if len(parts) == 2 and parts[0] == "1" and parts[1].isdigit() else None


def minor_jumps(changes: Iterable[ResourceChange]) -> tuple[PolicyViolation, ...]:
    """Mandatory violations of :data:`ONE_MINOR` in a plan: an EKS cluster whose ``version`` moves by more than
    one minor, or back (EKS refuses both, after the change has started)."""
    out = []
    for change in changes:
        if change.type not in _EKS_TYPES:
            continue
        for prop in change.properties:
            old, new = _minor(prop.old), _minor(prop.new)
            if prop.path != "version" or old is None or new is None or new - old in (0, 1):
                continue
            what = (f"moves {new - old} minors in one change" if new > old else "is a downgrade")
            message = (f"Kubernetes 1.{old} → 1.{new} {what}: EKS refuses it; "
                       + (f"set kubernetesVersion to 1.{old + 1} first" if new > old else "keep 1." + str(old)))
            out.append(PolicyViolation(policy=ONE_MINOR, level="mandatory", urn=change.urn, name=change.name,
                                       message=message, type=change.type, fix=ONE_MINOR_FIX, severity="high"))
    return tuple(out)


def environment_of(values: Mapping[str, Any]) -> str | None:
    """The stack's ``<project>:environment`` config value (production, integration, personal), if set."""
    return next((str(v) for k, v in values.items() if k.endswith(":environment")), None)


def from_cli_event(event: Any, known: Mapping[str, Resource]) -> PolicyViolation:
    """A violation from the CLI's ``PolicyEvent``: its policy, level (``mandatory``; the CLI says ``warning`` for
    advisory), resource and the policy's message (the event's text, without the header the CLI adds)."""
    urn = str(getattr(event, "resource_urn", "") or "")
    level = "mandatory" if str(event.enforcement_level).lower() == "mandatory" else "advisory"
    text = str(event.message or "").strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    message = lines[-1] if lines else text
    res = known.get(urn)
    return PolicyViolation(policy=str(event.policy_name), level=level, urn=urn,
                           name=res.name if res else urn.rsplit("::", 1)[-1], message=message,
                           type=res.type if res else "")
