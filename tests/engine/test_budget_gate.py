"""The budget gate (automation.flow.gates.check_budget) called directly, on the memory engine: each branch has a case
where it alone decides (issue 28: mutation testing found the gate covered by the real-CLI and act tiers only).
The program is one NAT gateway in us-east-1 (priced by the project's table, about $33 a month)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import pytest

from automation.config.prices import load_project
from automation.engines.memory_engine import MemoryEngine
from automation.engines.port import Progress, Target
from automation.flow.context import RunOptions
from automation.flow.gates import Checks, check_budget, cost_change
from automation.flow.planner import Operation
from automation.model.errors import StackBusyError
from automation.model.outcome import Outcome
from automation.model.request import Request
from automation.model.snapshot import Resource, Snapshot, snapshot
from automation.review.costrender import headline
from tests.support.memory_runs import ENVS, context
from tests.support.paths import ROOT

OP = Operation(stack="dev", operation="up", reason="merge", branch="main", sha="c" * 40)
NAT = "aws:ec2/natGateway:NatGateway"
MESSAGE = "main@ccccccc: merge"


def nat_program(target: Target) -> tuple[Snapshot, dict[str, Any]]:
    return snapshot([Resource(f"urn:pulumi:{target.stack}::p::{NAT}::nat", NAT, "nat", {"subnetId": "subnet-1"})]), {}


def _target() -> Target:
    return Target(stack="dev", config=ENVS.stack_config(ROOT, "dev"), message=MESSAGE, commit="c" * 40)


def read_checks(budget: float) -> Checks:
    return Checks(costs=load_project(ROOT), budget=budget, region="us-east-1")


def _run(tmp_path: Path, budget: float, *, preview: bool = False, actor: str | None = "alice", engine: Any = None,
         **options: Any) -> tuple[Any, MemoryEngine, str]:
    engine = engine or MemoryEngine(tmp_path / "state", nat_program)
    ctx, log, _ = context(tmp_path, engine)
    ctx = replace(ctx, options=RunOptions(**options), sleep=lambda s: None)
    given = MemoryEngine(tmp_path / "given", nat_program).preview(_target(), Progress(io.StringIO())) if preview else None
    result = check_budget(ctx, OP, _target(), budget, read_checks(budget), given, Request(event="push", actor=actor))
    return result, engine, log.getvalue()


def test_under_budget_it_applies_and_reports_the_change(tmp_path: Path) -> None:
    (refusal, change, message), engine, log = _run(tmp_path, 1000.0)
    # 730 NAT hours and dev's 20 GB through it (costs.yaml usage.dev): $32.85 + $0.90
    assert refusal is None and message == MESSAGE and change is not None and change.after.high == 33.75
    assert engine.calls == [("preview", "dev")]
    assert "previewing dev to check its cost against its budget of $1,000.00 per month" in log


def test_over_budget_it_refuses_saying_by_how_much_and_what_to_do(tmp_path: Path) -> None:
    (refusal, change, message), _, _ = _run(tmp_path, 10.0)
    assert change is not None and message == MESSAGE
    assert refusal == (f"the cost estimate of dev after this change is up to ${change.after.high:,.2f} per month "
                       f"({headline(change)}), over its budget of $10.00 (budget_monthly_usd in environments.yaml); "
                       "nothing was applied. Lower the cost, raise the budget, or re-run with --accept-over-budget "
                       "REASON (workflow_dispatch input accept_over_budget; the reason is recorded in the audit message)")


def test_an_accepted_overrun_is_applied_and_the_audit_message_names_who_and_why(tmp_path: Path) -> None:
    for operator, actor, who in (("carol", "alice", "carol"), (None, "alice", "alice"), (None, None, "unknown")):
        (refusal, change, message), _, _ = _run(tmp_path / who, 10.0, actor=actor, operator=operator,
                                                accept_over_budget="launch week")
        assert refusal is None and change is not None
        assert message.startswith(f"{MESSAGE} [over budget: the cost estimate of dev after this change is up to $")
        assert message.endswith(f"; accepted by {who}: launch week]")


def test_a_preview_already_run_is_reused(tmp_path: Path) -> None:
    (refusal, _, _), engine, log = _run(tmp_path, 10.0, preview=True)
    assert refusal is not None and engine.calls == [] and "previewing" not in log


def test_no_cost_data_means_no_gate(tmp_path: Path) -> None:
    engine = MemoryEngine(tmp_path / "state", nat_program)
    ctx, _, _ = context(tmp_path, engine)
    result = check_budget(ctx, OP, _target(), 10.0, Checks(budget=10.0), None, Request(event="push"))
    assert result == (None, None, MESSAGE)


def test_its_preview_waits_for_a_busy_backend_naming_the_stack(tmp_path: Path) -> None:
    busy = MemoryEngine(tmp_path / "state", nat_program, failures={"preview": [StackBusyError("busy"), None]})
    (refusal, _, _), _, log = _run(tmp_path, 10.0, engine=busy)
    assert refusal is not None and "stack dev is locked by another update in the state backend; retry 1/" in log


def _declared(stack: str) -> dict[str, Resource]:
    """What the real program declares for ``stack`` (its synth), as an engine reports the resources of a preview."""
    from tests.support.program import synth

    return {r.urn: Resource(r.urn, r.type, r.name, dict(r.inputs), r.protect) for r in synth(stack).resources}


@pytest.mark.parametrize("hosts_others", [False, True])
def test_both_sides_of_a_change_are_priced_alike(hosts_others: bool) -> None:
    """cost_change prices the before side exactly as the after side (region, costs.yaml, whether other stacks run on
    this one): an unchanged program costs the same on both (dev declares the personal stacks' shared ALB class,
    billed only when they run on it; costs.yaml's usage for dev prices its NAT traffic)."""
    resources = _declared("dev")
    outcome = Outcome(stack="dev", operation="preview", succeeded=True, before=resources, after=resources)
    checks = Checks(costs=load_project(ROOT), budget=500.0, region="us-east-1", hosts_others=hosts_others)
    change, notes = cost_change("dev", outcome, checks)
    assert notes == () and change is not None and change.before is not None
    assert (change.before.low, change.before.high) == (change.after.low, change.after.high)
    assert change.budget == 500.0
    shared = [line for line in change.after.lines if line.billed.startswith("shared load balancer")]
    assert bool(shared) is hosts_others, "the shared ALB is billed to dev only when personal stacks run on it"
    assert checks.costs is not None
    no_usage = replace(checks, costs=msgspec.structs.replace(checks.costs, usage={}))
    without_usage = cost_change("dev", outcome, no_usage)[0]
    assert without_usage is not None and without_usage.after.high < change.after.high, "costs.yaml's usage is priced"


def test_a_new_stack_has_no_before_side_and_no_estimate_without_resources() -> None:
    resources = _declared("dev")
    checks = Checks(costs=load_project(ROOT), budget=None, region="us-east-1")
    change, notes = cost_change("dev", Outcome(stack="dev", operation="preview", succeeded=True, after=resources), checks)
    assert notes == () and change is not None and change.before is None and change.after.high > 0
    assert cost_change("dev", Outcome(stack="dev", operation="refresh", succeeded=True), checks) == (None, ())
    assert cost_change("dev", Outcome(stack="dev", operation="preview", succeeded=True, after=resources),
                       Checks()) == (None, ())


def test_an_estimate_that_fails_is_a_note_naming_the_error_never_a_failed_deploy() -> None:
    """costs.yaml is validated when read; here a usage value that slipped past it (not a number) breaks the estimate:
    the report says so, with the error's type, and the operation goes on without a cost section."""
    resources = _declared("dev")
    costs = load_project(ROOT)
    broken = msgspec.structs.replace(costs, usage={"dev": {"nat_gateway_gb": "lots"}})  # type: ignore[dict-item]
    outcome = Outcome(stack="dev", operation="preview", succeeded=True, after=resources)
    change, notes = cost_change("dev", outcome, Checks(costs=broken, region="us-east-1"))
    assert change is None and len(notes) == 1 and notes[0].startswith("cost estimate not made: TypeError: "), notes
