"""What each command returns: frozen results with ``to_json()``; :mod:`automation.cli.output` prints them. They are
msgspec Structs: made in microseconds, where a dataclass costs a millisecond to create (issue 29: `plan`'s start).

Every result names its command and its exit code. The JSON of every command is one object carrying
``schema_version`` and ``command`` next to the command's own keys (pinned by tests/engine/test_contract.py);
``schema_version`` changes only when a key is removed or changes meaning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from automation.model.errors import AutomationError

if TYPE_CHECKING:
    from automation.adapters.bootstrap import BootstrapResult
    from automation.config.environments import Environments, Route
    from automation.engines.pulumi_repair import StackStatus
    from automation.engines.synth import SynthResult
    from automation.flow.planner import Plan
    from automation.flow.versions import StackVersions
    from automation.model.changes import PolicyViolation
    from automation.model.outcome import HistoryEntry
    from automation.review.cost_model import Estimate
    from automation.review.render import Report

SCHEMA_VERSION = 1


class SynthOutput(msgspec.Struct, frozen=True):
    synth: SynthResult
    manifests: int | None = None  # how many manifests were written (--manifests), None: not asked
    command: str = "synth"
    exit_code: int = 0
    #: --policy: how many policies of the pack ran (None: not asked) and their violations
    policies_ran: int | None = None
    policy: tuple[PolicyViolation, ...] = ()

    def to_json(self) -> dict[str, Any]:
        doc = self.synth.to_json()
        if self.policies_ran is not None:
            doc["policy"] = {"policies": self.policies_ran, "violations": [v.to_json() for v in self.policy]}
        return doc


class EnvironmentsOutput(msgspec.Struct, frozen=True):
    environments: Environments
    #: each branch asked about, and its route (None: no rule matches; a string: why the branch is refused)
    routes: tuple[tuple[str, Route | str | None], ...] = ()
    command: str = "environments"
    exit_code: int = 0
    #: the first refused branch's error: every branch is answered first, then it is raised (exit 2)
    error: AutomationError | None = None

    def to_json(self) -> dict[str, Any]:
        rules = [{"branch": r.branch, "stack": r.stack, "kind": r.kind, "template": r.template,
                  "auto_destroy": r.auto_destroy, "ttl_days": r.ttl_days, "protected": r.protected,
                  "reviewed_plan": r.reviewed_plan, "health": r.health is not None, "auto_rollback": r.auto_rollback,
                  "drift_remediation": r.drift_remediation} for r in self.environments.rules]
        routes = [{"branch": b, "error": r} if isinstance(r, str) else
                  {"branch": b, "stack": r.stack if r else None, "kind": r.kind if r else None,
                   "rule": r.rule_index + 1 if r else None} for b, r in self.routes]
        return {"rules": rules, "infra_paths": list(self.environments.infra_paths), "routes": routes}


class PlanOutput(msgspec.Struct, frozen=True):
    plan: Plan
    github_matrix: bool = False
    command: str = "plan"
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return self.plan.github_matrix() if self.github_matrix else self.plan.to_json()


class ReportsOutput(msgspec.Struct, frozen=True):
    """The reports of the operations a command ran (run, preview/up/..., expire, drift, rollback)."""

    command: str
    reports: tuple[Report, ...]
    exit_code: int
    #: the error that stopped the run part-way: the reports are printed first, then it is raised
    error: AutomationError | None = None

    def to_json(self) -> dict[str, Any]:
        return {"reports": [r.to_json() for r in self.reports]}


class HistoryOutput(msgspec.Struct, frozen=True):
    stack: str
    entries: tuple[HistoryEntry, ...]
    command: str = "history"
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "updates": [
            {"version": e.version, "kind": e.kind, "result": e.result, "started": e.started.isoformat(),
             "ended": e.ended.isoformat() if e.ended else None, "message": e.message, "counts": dict(e.counts),
             "commit": e.commit} for e in self.entries]}


class StatusOutput(msgspec.Struct, frozen=True):
    status: StackStatus
    command: str = "status"
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return self.status.to_json()


class Check(msgspec.Struct, frozen=True):
    name: str
    status: str  # ok | warn | missing
    detail: str


class DoctorOutput(msgspec.Struct, frozen=True):
    checks: tuple[Check, ...]
    exit_code: int
    command: str = "doctor"

    def to_json(self) -> dict[str, Any]:
        return {"checks": [{"check": c.name, "status": c.status, "detail": c.detail} for c in self.checks],
                "exit_code": self.exit_code}


class VersionsOutput(msgspec.Struct, frozen=True):
    stacks: tuple[StackVersions, ...]
    #: what --issues did, one line per stack (empty without --issues)
    issues: tuple[str, ...] = ()
    command: str = "versions"
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"stacks": [s.to_json() for s in self.stacks], "issues": list(self.issues)}


class BootstrapOutput(msgspec.Struct, frozen=True):
    result: BootstrapResult
    command: str = "bootstrap"
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return self.result.to_json()


class ExtendOutput(msgspec.Struct, frozen=True):
    stack: str
    expires_after: str
    by: str
    command: str = "extend"
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "expires_after": self.expires_after, "by": self.by}


class CostOutput(msgspec.Struct, frozen=True):
    """A stack's monthly cost estimate from its synth (``cost --stack S``), and its rule's budget if any."""

    estimate: Estimate
    budget: float | None = None
    command: str = "cost"
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        over = self.budget is not None and self.estimate.high > self.budget + 0.005
        return {**self.estimate.to_json(), "budget_monthly_usd": self.budget, "over_budget": over}


#: what every command returns; automation.cli.output renders it
Result = (SynthOutput | EnvironmentsOutput | PlanOutput | ReportsOutput | HistoryOutput | StatusOutput | DoctorOutput
          | BootstrapOutput | ExtendOutput | CostOutput | VersionsOutput)
