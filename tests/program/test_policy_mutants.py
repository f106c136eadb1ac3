"""Mutation testing of the policy pack (issue 28): each mutant removes or weakens ONE check of policypack/rules.py --
the edits an audit made by hand, and one per hole it found -- and must be killed by the sub-check cases
(tests/program/test_policy_subchecks.py) or the waiver/version tests. The mutant is the real file with one textual edit, loaded
as a module in-process (a second or two for all of them), so this runs in the fast tier, in CI, on every change.

A mutant whose edit no longer applies (its text is gone from rules.py) fails too: update it with the rule it mutated.
Threshold: every mutant listed is killed (score 100% on this list; `python -m tests.program.test_policy_mutants` prints it).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

import pytest

from tests.support.paths import ROOT
from tests.support.policy_cases import CASES, problem

RULES = ROOT / "policypack" / "rules.py"

#: (name, the text in rules.py, what it becomes)
MUTANTS: list[tuple[str, str, str]] = [
    ("no runAsNonRoot", 'out.append(f"container {name}: runAsNonRoot must be true")', "pass"),
    ("pod runAsNonRoot wins", 'non_root = sc.get("runAsNonRoot") if "runAsNonRoot" in sc else pod_sc.get("runAsNonRoot")',
     'non_root = True if pod_sc.get("runAsNonRoot") is True else sc.get("runAsNonRoot")'),
    ("no service-account token check", 'if pod.get("automountServiceAccountToken") is not False:',
     'if pod.get("automountServiceAccountToken") is True:'),
    ("no drop ALL", 'if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):', "if False:"),
    ("no seccomp", 'if seccomp not in ("RuntimeDefault", "Localhost"):', "if seccomp is None and False:"),
    ("no privileged", 'if sc.get("privileged") is True:', "if False:"),
    ("no host namespaces", 'for host in ("hostNetwork", "hostPID", "hostIPC"):', "for host in ():"),
    ("no escalation check", 'if sc.get("allowPrivilegeEscalation") is not False:', "if False:"),
    ("no read-only root", 'if sc.get("readOnlyRootFilesystem") is not True:', "if False:"),
    ("no init containers", 'for key in ("initContainers", "containers")', 'for key in ("containers",)'),
    ("CronJob pod path", '"kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec"',
     '"kubernetes:batch/v1:CronJob": "spec.template.spec"'),
    ("no requests", 'for kind in ("requests", "limits"):', 'for kind in ("limits",):'),
    ("no limits", 'for kind in ("requests", "limits"):', 'for kind in ("requests",):'),
    ("no probes", 'for probe in ("readinessProbe", "livenessProbe"):', "for probe in ():"),
    ("no final snapshot", 'out += _require(s.props, "skipFinalSnapshot", False, "production keeps a final snapshot")', "pass"),
    ("backups 1 day", "days < 7", "days < 1"),
    ("unset backups pass", 'if days is None:\n        out.append(', 'if days is None and False:\n        out.append('),
    ("no multi-AZ", '_require(s.props, "multiAz", True, "a standby in another zone")', "[]"),
    ("no deletion protection", '_require(s.props, "deletionProtection", True, "no accidental delete")', "[]"),
    ("no minor upgrades", '_require(s.props, "autoMinorVersionUpgrade", True, "security patches")', "[]"),
    ("no log exports", 'if known(logs) and not {"error", "slowquery"} <= set(logs or []):', "if False:"),
    ("default SG ingress only", 'for key in ("ingress", "egress"):\n        value = s.props.get(key)',
     'for key in ("ingress",):\n        value = s.props.get(key)'),
    ("IMDSv2 hop limit", "if known(hop) and hop != 1:", "if known(hop) and hop > 2:"),
    ("no private endpoint", 'out = _require(eks, "endpointPrivateAccess", True, "the nodes and pods reach the API privately")',
     "out: list[str] = []"),
    ("public without CIDRs", "if public is not False and known(public) and known(cidrs) and not cidrs:", "if False:"),
    ("provider cluster settings", 'if subject.type == "aws:eks/cluster:Cluster":\n        vpc', 'if False:\n        vpc'),
    ("version floor 1.30", "int(version.split(\".\")[1]) >= 32", "int(version.split(\".\")[1]) >= 30"),
    ("waiver by URN", "or fnmatch.fnmatchcase(subject.urn, self.resource))", "or False)"),
    ("all-traffic rules", 'if protocol not in ("-1", "all"):', "if True:"),
    ("inline ingress", 'rules = s.props.get("ingress") if s.type == "aws:ec2/securityGroup:SecurityGroup" else [s.props]',
     "rules = [s.props]"),
    ("no NotAction", 'if isinstance(st, Mapping) and st.get("Effect", "Allow") == "Allow" and "NotAction" in st:', "if False:"),
    ("default deny Ingress only", '{"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])',
     '"Ingress" in (spec.get("policyTypes") or [])'),
    ("no open endpoint in prod", 'if isinstance(cidrs, list) and any(c in ("0.0.0.0/0", "::/0") for c in cidrs):', "if False:"),
    ("empty components judged", "return subject.type in COMPONENTS and not subject.props", "return False"),
    ("every component opaque", "return subject.type in COMPONENTS and not subject.props",
     "return subject.type in COMPONENTS"),
    ("no control plane logs", 'return [f"enabledClusterLogTypes misses {\', \'.join(missing)}"] if missing else []', "return []"),
]


def _load(source: str, name: str) -> ModuleType:
    module_name = f"_policy_mutant_{abs(hash(name))}"
    spec = importlib.util.spec_from_loader(module_name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses resolve their module by name
    try:
        exec(compile(source, f"<mutant {name}>", "exec"), module.__dict__)  # noqa: S102 - the pack's own source
    finally:
        sys.modules.pop(module_name, None)
    return module


def _killed_by(module: Any) -> str | None:
    """The first check that fails for ``module``, or None (the mutant survives)."""
    for case in CASES:
        why = problem(case, module)
        if why is not None:
            return why
    subject = module.Subject("urn:pulumi:dev::ghost-gitops::aws:rds/instance:Instance::dev-mysql",
                             "aws:rds/instance:Instance", "dev-mysql", {})
    if not module.Waiver("rds-backups", "urn:pulumi:dev::*::dev-mysql", "r").covers("rds-backups", subject):
        return "a waiver by URN does not match"
    ctx = module.Context(stack="dev", environment="integration")
    old = module.Subject("urn:x", "eks:index:Cluster", "dev-eks", {"version": "1.31"})
    if not [v for v in module.evaluate([old], ctx) if v.policy == "eks-supported-version"]:
        return "Kubernetes 1.31 passes the version floor without a calendar"
    # the real CLI sends a component's registration with no inputs: not judged; its provider resource is
    empty = module.Subject("urn:pulumi:dev::ghost-gitops::eks:index:Cluster::dev-eks", "eks:index:Cluster", "dev-eks", {})
    if [v for v in module.evaluate([empty], ctx) if v.policy.startswith("eks-")]:
        return "an EKS component registration without inputs is judged as if it lacked every setting"
    private_off = module.Subject("urn:pulumi:dev::ghost-gitops::eks:index:Cluster::dev-eks", "eks:index:Cluster",
                                 "dev-eks", {"endpointPrivateAccess": False})
    if not [v for v in module.evaluate([private_off], ctx) if v.policy == "eks-private-endpoint"]:
        return "an EKS component with inputs (offline) is not judged"
    return None


def _mutant_source(old: str, new: str) -> str:
    source = RULES.read_text(encoding="utf-8")
    assert source.count(old) == 1, f"the mutant's text is in rules.py {source.count(old)} times: {old!r}"
    return source.replace(old, new)


def test_the_pack_itself_passes_every_check() -> None:
    assert _killed_by(_load(RULES.read_text(encoding="utf-8"), "original")) is None


@pytest.mark.parametrize(("name", "old", "new"), MUTANTS, ids=[m[0] for m in MUTANTS])
def test_every_mutant_of_the_pack_is_killed(name: str, old: str, new: str) -> None:
    assert _killed_by(_load(_mutant_source(old, new), name)) is not None, f"mutant survived: {name}"


if __name__ == "__main__":  # the score (`python -m tests.program.test_policy_mutants`), for the README and the notes
    killed = [name for name, old, new in MUTANTS if _killed_by(_load(_mutant_source(old, new), name)) is not None]
    print(f"policy pack mutants killed: {len(killed)}/{len(MUTANTS)} ({100 * len(killed) / len(MUTANTS):.0f}%)")
    for name, _, _ in MUTANTS:
        if name not in killed:
            print(f"  survived: {name}")
