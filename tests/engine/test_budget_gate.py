"""The budget gate (automation.flow.gates.check_budget) called directly, on the memory engine: each branch has a case
where it alone decides (issue 28: mutation testing found the gate covered by the real-CLI and act tiers only).
The program is one NAT gateway in us-east-1 (priced by the project's table, about $33 a month)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

from automation.config.prices import load_project
from automation.engines.memory_engine import MemoryEngine
from automation.engines.port import Progress, Target
from automation.flow.context import RunOptions
from automation.flow.gates import Checks, check_budget
from automation.flow.planner import Operation
from automation.model.errors import StackBusyError
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
