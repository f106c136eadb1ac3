"""Orchestration (plan -> lock -> run -> report) against the in-memory engine behind the real interface."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from automation.adapters.git import Git
from automation.cli.main import main
from automation.engines.memory_engine import MemoryEngine
from automation.flow.planner import Operation, Plan
from automation.flow.runner import exit_code, run_plan
from automation.model.errors import ConfigError, LockTimeout, StackBusyError
from automation.model.request import Request
from tests.support.gitrepo import commit, git, project_repo
from tests.support.memory_runs import ENVS, context, tiny_program
from tests.support.paths import EVENTS, ROOT
from tests.support.program import shared_stack_deployed

A = "a" * 40


def up(stack: str = "dev", sha: str | None = None, **kw: Any) -> Plan:
    return Plan("manual", (Operation(stack=stack, operation="up", reason="test", branch="main", sha=sha, **kw),))


def test_up_then_preview_reports_real_changes(tmp_path: Path) -> None:
    engine = MemoryEngine(tmp_path / "state", tiny_program)
    ctx, log, _ = context(tmp_path, engine)
    (report,) = run_plan(ctx, up(), Request(event="manual", branch="main"), None)
    assert report.status == "succeeded" and report.outcome is not None
    assert report.outcome.counts == {"create": 2}
    assert "create   kubernetes:core/v1:PersistentVolumeClaim content: done" in log.getvalue()
    assert "up dev succeeded" in log.getvalue()
    preview = Plan("manual", (Operation(stack="dev", operation="preview", reason="t", branch="main"),))
    (report,) = run_plan(ctx, preview, Request(event="manual", branch="main"), None)
    assert report.outcome is not None and report.outcome.counts == {"same": 2}


def test_concurrent_update_is_retried_with_backoff(tmp_path: Path) -> None:
    busy = StackBusyError("stack dev has an update in progress")
    engine = MemoryEngine(tmp_path / "state", tiny_program, failures={"up": [busy, busy, None]})
    ctx, log, slept = context(tmp_path, engine)
    (report,) = run_plan(ctx, up(), Request(event="manual", branch="main"), None)
    assert report.status == "succeeded"
    assert slept == [2.0, 4.0]
    assert log.getvalue().count("is locked by another update in the state backend; retry") == 2


def test_concurrent_update_gives_up_with_a_clear_failure(tmp_path: Path) -> None:
    busy = StackBusyError("busy")
    engine = MemoryEngine(tmp_path / "state", tiny_program, failures={"up": [busy] * 10})
    ctx, _, slept = context(tmp_path, engine)
    with pytest.raises(LockTimeout) as info:
        run_plan(ctx, up(), Request(event="manual", branch="main"), None)
    assert "stack dev stayed locked" in str(info.value)
    assert f"{sum(slept):.1f}s of waiting" in str(info.value)
    assert len(slept) == 3 and slept == sorted(slept)


def test_failure_mid_update_is_reported_and_recorded(tmp_path: Path) -> None:
    engine = MemoryEngine(tmp_path / "state", tiny_program, failures={"up:mid": [RuntimeError("provider exploded")]})
    ctx, _, _ = context(tmp_path, engine)
    (report,) = run_plan(ctx, up(), Request(event="manual", branch="main"), None)
    assert report.status == "failed" and "provider exploded" in str(report.error)
    assert exit_code((report,)) == 1
    (entry,) = engine.history("dev", 5)
    assert entry.result == "failed"
    activity = (tmp_path / "state" / "activity.log").read_text().split("\n")
    assert "start up" in activity[0] and "end up" in activity[1]


def test_one_failed_operation_does_not_stop_the_others(tmp_path: Path) -> None:
    engine = MemoryEngine(tmp_path / "state", tiny_program, failures={"preview:mid": [RuntimeError("prod broke"), None]})
    ctx, _, _ = context(tmp_path, engine)
    plan = Plan("schedule", (Operation(stack="prod", operation="preview", reason="drift", branch="production"),
                             Operation(stack="dev", operation="preview", reason="drift", branch="main")))
    reports = run_plan(ctx, plan, Request(event="schedule"), None)
    assert [r.status for r in reports] == ["failed", "succeeded"]


def test_waits_for_a_busy_stack_then_times_out(tmp_path: Path) -> None:
    engine = MemoryEngine(tmp_path / "state", tiny_program)
    ctx, log, _ = context(tmp_path, engine, lock_timeout=0.5)
    holder = subprocess.Popen([sys.executable, "-c", "import filelock, sys, time; l = filelock.FileLock(sys.argv[1]); "
                               "l.acquire(); print('held', flush=True); time.sleep(30)", str(tmp_path / "locks" / "dev.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        (tmp_path / "locks").mkdir(exist_ok=True)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        with pytest.raises(LockTimeout, match=r"stack dev: gave up after waiting \d+s"):
            run_plan(ctx, up(), Request(event="manual", branch="main"), None)
        assert time.monotonic() - start >= 0.5
        assert "queued" in log.getvalue()
        assert engine.calls == []
    finally:
        holder.kill()
        holder.wait()


def test_protected_stack_is_never_destroyed(tmp_path: Path) -> None:
    engine = MemoryEngine(tmp_path / "state", tiny_program)
    ctx, _, _ = context(tmp_path, engine)
    plan = Plan("manual", (Operation(stack="prod", operation="destroy", reason="t", branch="production", protected=True),))
    (report,) = run_plan(ctx, plan, Request(event="manual"), None)
    assert report.status == "failed" and "protected" in str(report.error)
    assert engine.calls == []


def test_superseded_run_exits_without_deploying_and_rollback_is_allowed(tmp_path: Path) -> None:
    repo = project_repo(tmp_path / "repo", ROOT)
    older = git(repo, "rev-parse", "HEAD")
    newer = commit(repo, {"Pulumi.dev.yaml": (repo / "Pulumi.dev.yaml").read_text().replace(
        "ghostStorageGb: 5", "ghostStorageGb: 8")}, "bigger volume")
    engine = MemoryEngine(tmp_path / "state", tiny_program)
    ctx, _log, _ = context(tmp_path, engine, git_repo=Git(repo), root=repo)
    (report,) = run_plan(ctx, up(sha=newer), Request(event="manual", branch="main", sha=newer), None)
    assert report.status == "succeeded"
    git(repo, "checkout", "-q", older)
    (report,) = run_plan(ctx, up(sha=older), Request(event="manual", branch="main", sha=older), None)
    assert report.status == "superseded" and newer[:7] in report.reason
    assert exit_code((report,)) == 0
    assert len(engine.history("dev", 10)) == 1, "nothing deployed"
    (report,) = run_plan(ctx, up(sha=older, allow_older=True), Request(event="manual", branch="main", sha=older), None)
    assert report.status == "succeeded"
    assert report.outcome is not None and report.outcome.counts == {"same": 1, "update": 1}
    assert engine.deployed_commit("dev") == older


def test_refuses_to_deploy_a_commit_that_is_not_checked_out(tmp_path: Path) -> None:
    repo = project_repo(tmp_path / "repo", ROOT)
    engine = MemoryEngine(tmp_path / "state", tiny_program)
    ctx, _, _ = context(tmp_path, engine, git_repo=Git(repo), root=repo)
    with pytest.raises(ConfigError, match="check out that commit first"):
        run_plan(ctx, up(sha="a" * 40), Request(event="manual", branch="main", sha="a" * 40), None)


def test_two_processes_racing_for_one_stack_never_overlap(tmp_path: Path) -> None:
    state, locks = tmp_path / "state", tmp_path / "locks"
    argv = [sys.executable, "-m", "automation", "up", "--stack", "dev", "--engine", "memory", "--state-dir", str(state),
            "--lock-dir", str(locks), "--memory-step-delay", "1.0", "--json", "--allow-dirty"]  # a developer's checkout may be dirty
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    events = [line.split() for line in (state / "activity.log").read_text().splitlines()]
    assert [e[3] for e in events] == ["start", "end", "start", "end"], events
    first_end, second_start = float(events[1][0]), float(events[2][0])
    assert second_start >= first_end, "the second update began before the first one ended"
    assert {e[1] for e in events[:2]} != {e[1] for e in events[2:]}, "two different processes deployed"
    assert [json.loads(out)["reports"][0]["status"] for out, _ in results] == ["succeeded", "succeeded"]
    assert any("queued" in err for _, err in results), "one of them waited for the lock"


def test_run_command_end_to_end_with_the_memory_engine(tmp_path: Path) -> None:
    repo = project_repo(tmp_path / "repo", ROOT)
    head = git(repo, "rev-parse", "HEAD")
    event = tmp_path / "push.json"
    payload = json.loads((EVENTS / "push.json").read_text())
    payload["ref"] = "refs/heads/dev/carol"
    payload["after"] = head
    event.write_text(json.dumps(payload))
    out, err = io.StringIO(), io.StringIO()
    shared_stack_deployed(tmp_path / "state")
    code = main(["--project-dir", str(repo), "run", "--event-name", "push", "--event-path", str(event), "--engine", "memory",
                 "--state-dir", str(tmp_path / "state"), "--lock-dir", str(tmp_path / "locks")],
                environ={}, out=out, err=err)
    assert code == 0, err.getvalue()
    assert out.getvalue().startswith("up       dev-carol        succeeded (17 create)")
    history = io.StringIO()
    assert main(["--project-dir", str(repo), "history", "--stack", "dev-carol", "--engine", "memory", "--state-dir", str(tmp_path / "state")],
                environ={}, out=history, err=io.StringIO()) == 0
    text = history.getvalue()
    assert f"dev/carol@{head[:7]}: Bigger database (#12) by alice, approvers unknown (no GitHub token)" in text
    assert "17 create" in text and "succeeded" in text


def test_idle_personal_stacks_past_their_ttl_are_destroyed(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from automation.flow.planner import expired
    from automation.model.outcome import StackInfo

    now = datetime(2026, 11, 26, tzinfo=UTC)
    stacks = [StackInfo("dev-old", now - timedelta(days=15)), StackInfo("dev-fresh", now - timedelta(days=2)),
              StackInfo("dev", now - timedelta(days=300)), StackInfo("prod", now - timedelta(days=300)),
              StackInfo("dev-never", None), StackInfo("unmapped", now - timedelta(days=300))]
    plan = expired(ENVS, stacks, now)
    assert [(op.stack, op.operation) for op in plan.operations] == [("dev-old", "destroy")]
    assert "idle for 15 days, past its ttl of 14 days" in plan.operations[0].reason
    assert [op.operation for op in expired(ENVS, stacks[1:], now).operations] == ["none"]


def test_expire_command_with_the_memory_engine(tmp_path: Path) -> None:
    state = tmp_path / "state"
    engine = MemoryEngine(state, tiny_program)
    ctx, _, _ = context(tmp_path, engine)
    shared_stack_deployed(state)
    run_plan(ctx, up("dev-old"), Request(event="manual"), None)
    run_plan(ctx, up("dev-new"), Request(event="manual"), None)
    doc = json.loads((state / "dev-old.json").read_text())
    doc["history"][-1]["ended"] -= 30 * 86400  # last updated a month ago
    (state / "dev-old.json").write_text(json.dumps(doc))
    out = io.StringIO()
    # --remote '': this checkout's origin (a CI clone has one) knows no dev/old or dev/new branch
    assert main(["expire", "--dry-run", "--remote", "", "--engine", "memory", "--state-dir", str(state)], environ={},
                out=out, err=io.StringIO()) == 0
    assert [op["stack"] for op in json.loads(out.getvalue())["operations"]] == ["dev-old"]
    out, err = io.StringIO(), io.StringIO()
    assert main(["expire", "--remote", "", "--engine", "memory", "--state-dir", str(state), "--lock-dir",
                 str(tmp_path / "locks")], environ={}, out=out, err=err) == 0, err.getvalue()
    assert out.getvalue().startswith("destroy  dev-old          succeeded")
    assert sorted(p.stem for p in state.glob("*.json")) == ["dev", "dev-new"], "the environment is never expired"


def test_deploying_without_a_pulumi_cli_exits_4_with_how_to_get_it(tmp_path: Path) -> None:
    repo = project_repo(tmp_path / "repo", ROOT)
    err = io.StringIO()
    no_cli = {"PULUMI_CONFIG_PASSPHRASE": "x", "GHOST_GITOPS_CACHE": str(tmp_path / "empty-cache"), "PATH": "/usr/bin:/bin"}
    code = main(["--project-dir", str(repo), "up", "--stack", "dev", "--lock-dir", str(tmp_path / "locks")],
                environ=no_cli, out=io.StringIO(), err=err)
    assert code == 4
    assert "bash .ci/build-pulumi" in err.getvalue() and "--install-cli" in err.getvalue()


def test_an_interrupted_operation_is_reported_and_the_rest_is_not_started(tmp_path: Path) -> None:
    from dataclasses import replace

    from automation.model.errors import OperationFailed

    engine = MemoryEngine(tmp_path / "state", tiny_program, failures={"up": [None, OperationFailed("CLI stopped")]})
    ctx, _, _ = context(tmp_path, engine)
    # SIGTERM arrives while the second up of dev runs: the CLI stops, that up fails
    ctx = replace(ctx, interrupted=lambda: "SIGTERM" if engine.calls.count(("up", "dev")) >= 2 else None)
    run_plan(ctx, up("dev"), Request(event="manual"), None)
    two = Plan("manual", up("dev").operations + up("dev-alice").operations)
    reports = run_plan(ctx, two, Request(event="manual"), None)
    assert [r.status for r in reports] == ["interrupted", "interrupted"]
    assert reports[0].error == "interrupted by SIGTERM: CLI stopped" and reports[0].notes == ("no lock left on dev",)
    assert reports[1].reason == "not started: SIGTERM received"
    assert exit_code(reports) == 130
    assert engine.calls.count(("up", "dev-alice")) == 0


def test_a_merge_whose_plan_is_not_the_reviewed_one_is_refused_unless_accepted(tmp_path: Path) -> None:
    """The push path of the reviewed-plan check (the real CLI runs the workflow_dispatch override path)."""
    from dataclasses import replace

    from automation.review.fingerprint import Review, fingerprint, parse_marker

    engine = MemoryEngine(tmp_path / "state", tiny_program)
    ctx, _, _ = context(tmp_path, engine)
    reviewed = parse_marker(fingerprint(()).marker("dev", A), "dev")  # the PR's preview showed no change
    ctx = replace(ctx, review=lambda stack: Review(7, A, reviewed))
    merge = Request(event="push", branch="main", sha=A, actor="alice")
    (refused,) = run_plan(ctx, up("dev", A), merge, None)
    assert refused.status == "refused" and "--accept-plan-change" in (refused.error or "")
    assert any(n.startswith("+ create") for n in refused.notes) and engine.calls == [("preview", "dev")]
    assert exit_code((refused,)) == 7
    accepted = replace(ctx, options=replace(ctx.options, accept_plan_change="reviewed elsewhere", operator="carol"))
    (done,) = run_plan(accepted, up("dev", A), merge, None)
    assert done.status == "succeeded" and engine.calls[-1] == ("up", "dev")
    assert done.message is not None and done.message.endswith(
        "[plan differs from the reviewed one; accepted by carol: reviewed elsewhere]")


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_only_stack_is_refused_never_every_stack(tmp_path: Path, value: str) -> None:
    """What a workflow passes when the plan job's matrix output did not reach the matrix job ("$STACK" empty): found
    by running deploy.yml with act (tests/workflows/test_workflows_act.py test 9). Refused before anything is planned."""
    err = io.StringIO()
    code = main(["run", "--branch", "main", "--engine", "memory", "--state-dir", str(tmp_path / "state"),
                 "--only-stack", value], environ={}, out=io.StringIO(), err=err)
    assert code == 2 and "--only-stack is empty" in err.getvalue()
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").iterdir())


def test_a_forged_reviewed_plan_comment_does_not_pass_the_check(tmp_path: Path) -> None:
    """Issue 28: the reviewed plan is read only from the engine's own PR comment. A comment holding the engine's
    markers, written by another user, leaves the merge without a reviewed plan: a stack with `reviewed_plan: require`
    (dev here, as prod has it) refuses it with exit 7. The same comment by the engine's identity lets it through."""
    from dataclasses import replace

    import msgspec

    from automation.adapters.github import GitHubClient
    from automation.flow.publish import review_lookup
    from automation.review.audit import AuditInfo
    from automation.review.fingerprint import fingerprint
    from automation.review.render import marker
    from tests.support.fake_github import FakeGitHub, serve

    engine = MemoryEngine(tmp_path / "state", tiny_program)
    ctx, _, _ = context(tmp_path, engine)
    rules = tuple(msgspec.structs.replace(r, reviewed_plan="require") if r.stack == "dev" else r for r in ctx.envs.rules)
    ctx = replace(ctx, envs=replace(ctx.envs, rules=rules))
    (first,) = run_plan(ctx, up("dev", A), Request(event="manual"), None)
    assert first.status == "succeeded"  # deployed: the merge below plans no change
    body = f"{marker('dev')}\n{fingerprint(()).marker('dev', A)}\nno changes"  # exactly the merge's plan
    merge = Request(event="push", branch="main", sha=A, actor="alice")
    audit = AuditInfo(branch="main", sha=A, pr_number=7, head_sha=A)
    with serve(FakeGitHub()) as fake:
        gh = GitHubClient("ghs_test", "acme/blog", api_url=fake.url, attempts=1)
        fake.comment(7, body, login="mallory")
        (refused,) = run_plan(replace(ctx, review=review_lookup(gh, audit, merge)), up("dev", A), merge, audit)
        assert refused.status == "refused" and exit_code((refused,)) == 7, refused
        fake.comment(7, body)  # the engine's own preview comment (github-actions[bot])
        (done,) = run_plan(replace(ctx, review=review_lookup(gh, audit, merge)), up("dev", A), merge, audit)
        assert done.status == "succeeded", done
        gh.close()


@pytest.mark.parametrize(("statuses", "code"), [
    ((), 0), (("succeeded", "none", "superseded", "skipped"), 0),
    (("over-budget",), 8), (("succeeded", "refused"), 7), (("policy-denied", "refused", "over-budget"), 9),
    (("failed", "policy-denied"), 1), (("unhealthy",), 1), (("failed", "interrupted"), 130),
])
def test_the_exit_code_of_a_run_is_its_gravest_report(statuses: tuple[str, ...], code: int) -> None:
    """README "Exit codes": interrupted 130, then a failure 1, a policy denial 9, a refused plan 7, over budget 8."""
    from automation.review.render import Report, Status

    reports = tuple(Report(stack="dev", operation="up", status=Status(s), reason="test") for s in statuses)
    assert exit_code(reports) == code
