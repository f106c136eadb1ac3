"""The reviewed-plan check (automation.flow.gates.check_review) called directly, on the memory engine: each of its
branches has a case where it alone decides (issue 28: mutation testing found the no-GitHub path, the override's
attribution and the refusal's instructions untested)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from automation.engines.memory_engine import MemoryEngine
from automation.engines.port import Progress, Target
from automation.flow.context import RunOptions
from automation.flow.gates import check_review
from automation.flow.planner import Operation
from automation.model.request import Request
from automation.review.fingerprint import Review, ReviewedPlan, fingerprint
from tests.support.memory_runs import ENVS, context, tiny_program
from tests.support.paths import ROOT

OP = Operation(stack="dev", operation="up", reason="merge", branch="main", sha="c" * 40)
REFUSAL = ("the plan of dev is not the one reviewed ({summary}); nothing was applied. Re-run the pull request's preview "
           "and have it reviewed, or re-run this deployment with --accept-plan-change REASON (workflow_dispatch input "
           "accept_plan_change; the reason is recorded in the audit message)")


def _target() -> Target:
    return Target(stack="dev", config=ENVS.stack_config(ROOT, "dev"),
                  message="main@ccccccc: merge", commit="c" * 40)


def _ctx(tmp_path: Path, review: Any = "absent", **options: Any) -> tuple[Any, MemoryEngine, io.StringIO]:
    engine = MemoryEngine(tmp_path / "state", tiny_program)
    ctx, log, _ = context(tmp_path, engine)
    from dataclasses import replace
    ctx = replace(ctx, options=RunOptions(**options), review=None if review == "absent" else (lambda stack: review))
    return ctx, engine, log


def _reviewed(tmp_path: Path) -> ReviewedPlan:
    """The plan the memory engine will preview for dev: what a PR comment of this very change holds."""
    engine = MemoryEngine(tmp_path / "probe", tiny_program)
    digest = fingerprint(engine.preview(_target(), Progress(io.StringIO())).changes).digest
    return ReviewedPlan(stack="dev", commit="c" * 40, digest=digest, entries=None)


def test_off_compares_nothing_and_asks_no_one(tmp_path: Path) -> None:
    asked: list[str] = []
    ctx, engine, _ = _ctx(tmp_path)
    from dataclasses import replace
    ctx = replace(ctx, review=lambda stack: asked.append(stack))  # type: ignore[func-returns-value]
    assert check_review(ctx, OP, _target(), "off", Request(event="push")) == (None, (), "main@ccccccc: merge", None)
    assert asked == [] and engine.calls == []


def test_without_github_access_require_refuses_and_says_why(tmp_path: Path) -> None:
    ctx, engine, _ = _ctx(tmp_path)
    refusal, notes, _, preview = check_review(ctx, OP, _target(), "require", Request(event="push"))
    summary = "no reviewed plan to compare with: no GitHub access (GITHUB_TOKEN) to read the pull request's preview"
    assert notes == (summary,) and refusal == REFUSAL.format(summary=summary)
    assert preview is None and engine.calls == [], "nothing to compare with: no preview is run"
    refusal, notes, _, _ = check_review(ctx, OP, _target(), "check", Request(event="push"))
    assert refusal is None and notes == ("reviewed plan not checked: no GitHub access (GITHUB_TOKEN) to read the pull "
                                         "request's preview",)


def test_the_reviewed_plan_is_compared_with_a_preview_of_this_stack(tmp_path: Path) -> None:
    review = Review(7, "c" * 40, _reviewed(tmp_path))
    ctx, engine, log = _ctx(tmp_path, review)
    refusal, notes, message, preview = check_review(ctx, OP, _target(), "require", Request(event="push"))
    assert refusal is None and message == "main@ccccccc: merge" and preview is not None
    assert notes[0].startswith("the plan matches the preview reviewed on #7 at ccccccc")
    assert engine.calls == [("preview", "dev")]
    assert "comparing the plan of dev with the preview reviewed on #7" in log.getvalue()


def test_a_review_without_a_plan_compares_with_an_empty_plan(tmp_path: Path) -> None:
    ctx, engine, _ = _ctx(tmp_path, Review(7, "c" * 40, None))
    refusal, notes, _, preview = check_review(ctx, OP, _target(), "require", Request(event="push"))
    assert preview is None and engine.calls == []
    assert notes == ("no reviewed plan to compare with: pull request #7 has no cloud preview of this stack (its comment "
                     "holds no plan)",) and refusal is not None


def test_an_accepted_difference_names_who_accepted_it(tmp_path: Path) -> None:
    other = ReviewedPlan(stack="dev", commit="c" * 40, digest="0" * 64, entries=())
    for operator, actor, who in (("carol", "alice", "carol"), (None, "alice", "alice"), (None, None, "unknown")):
        ctx, _, _ = _ctx(tmp_path / (who or "x"), Review(7, "c" * 40, other), accept_plan_change="hotfix",
                         operator=operator)
        refusal, _, message, _ = check_review(ctx, OP, _target(), "require", Request(event="push", actor=actor))
        assert refusal is None
        assert message == f"main@ccccccc: merge [plan differs from the reviewed one; accepted by {who}: hotfix]"


def test_a_difference_is_refused_with_what_to_do(tmp_path: Path) -> None:
    other = ReviewedPlan(stack="dev", commit="c" * 40, digest="0" * 64, entries=())
    ctx, _, _ = _ctx(tmp_path, Review(7, "c" * 40, other))
    refusal, notes, message, _ = check_review(ctx, OP, _target(), "require", Request(event="push", actor="alice"))
    assert refusal == REFUSAL.format(summary="the plan differs from the preview reviewed on #7")
    assert message == "main@ccccccc: merge" and any(n.startswith("+ ") for n in notes)


def test_the_comparing_preview_waits_for_a_busy_backend_naming_the_stack(tmp_path: Path) -> None:
    from dataclasses import replace

    from automation.model.errors import StackBusyError

    review = Review(7, "c" * 40, _reviewed(tmp_path))
    ctx, _, log = _ctx(tmp_path, review)
    busy = MemoryEngine(tmp_path / "state", tiny_program, failures={"preview": [StackBusyError("busy"), None]})
    ctx = replace(ctx, engine=busy, sleep=lambda s: None)
    refusal, _, _, _ = check_review(ctx, OP, _target(), "require", Request(event="push"))
    assert refusal is None and "stack dev is locked by another update in the state backend; retry 1/" in log.getvalue()
