"""Events in, operations out: routing and planning tables, hostile names, malformed payloads, the JSON contract."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from automation.adapters.git import ChangedFiles
from automation.cli.main import main
from automation.config.environments import load_environments, parse_environments
from automation.flow.events import parse_event
from automation.flow.planner import OPERATION_KEYS, plan
from automation.model.errors import ConfigError
from automation.model.request import Request
from tests.support.paths import EVENTS, ROOT

A, B = "a" * 40, "b" * 40
ENVS = load_environments(ROOT)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


def push(branch: str, files: list[str] | None = ("infra/network.py",), before: str = A) -> dict[str, Any]:  # type: ignore[assignment]
    doc = fixture("push")
    doc["ref"] = f"refs/heads/{branch}"
    doc["before"] = before
    if files is None:
        doc["commits"], doc["size"] = [], 0
    else:
        doc["commits"][0].update(added=[], removed=[], modified=list(files))
    return doc


def pr(name: str = "pull_request_opened", **changes: Any) -> dict[str, Any]:
    doc = fixture(name)
    for key, value in changes.items():
        target = doc
        *path, last = key.split("__")
        for part in path:
            target = target[part]
        target[last] = value
    return doc


def ops(event: str, payload: dict[str, Any], changes: ChangedFiles | None = None) -> list[tuple[str | None, str]]:
    request = parse_event(event, payload)
    return [(op.stack, op.operation) for op in plan(request, ENVS, changes).operations]


def files_of(payload: dict[str, Any]) -> ChangedFiles | None:
    request = parse_event("push", payload)
    return ChangedFiles(request.payload_changed_files, "payload") if request.payload_changed_files is not None else None


ROUTING = [
    # event, payload, expected (stack, operation)
    ("push to main with infra change -> up dev", "push", push("main"), [("dev", "up")]),
    ("push to production -> up prod", "push", push("production"), [("prod", "up")]),
    ("push to personal branch -> up personal", "push", push("dev/alice"), [("dev-alice", "up")]),
    ("push touching only docs -> none", "push", push("main", ["README.md", "docs/x.md"]), [("dev", "none")]),
    ("push touching Pulumi.prod.yaml -> up", "push", push("production", ["Pulumi.prod.yaml"]), [("prod", "up")]),
    ("push to unmatched branch -> none", "push", push("feature/x"), [(None, "none")]),
    ("push to a tag -> none", "push", {**push("main"), "ref": "refs/tags/v1.0.0"}, [(None, "none")]),
    ("PR into main -> preview dev", "pull_request", pr(), [("dev", "preview")]),
    ("PR into production -> preview prod", "pull_request", pr(pull_request__base__ref="production"), [("prod", "preview")]),
    ("PR into unmatched base -> none", "pull_request", pr(pull_request__base__ref="release/1"), [(None, "none")]),
    ("PR synchronize -> preview", "pull_request", pr(action="synchronize"), [("dev", "preview")]),
    ("PR reopened -> preview", "pull_request", pr(action="reopened"), [("dev", "preview")]),
    ("PR labeled -> none", "pull_request", pr(action="labeled"), [(None, "none")]),
    ("draft PR -> none", "pull_request", pr("pull_request_draft"), [(None, "none")]),
    ("draft ready_for_review -> preview", "pull_request", pr("pull_request_draft", action="ready_for_review"), [("dev", "preview")]),
    ("merged PR closed -> none (push deploys)", "pull_request", pr("pull_request_closed_merged"), [(None, "none")]),
    ("fork PR -> offline preview", "pull_request", pr("pull_request_fork"), [("dev", "preview")]),
    ("delete personal branch -> destroy", "delete", fixture("delete_branch"), [("dev-alice", "destroy")]),
    ("delete environment branch -> none", "delete", {**fixture("delete_branch"), "ref": "main"}, [("dev", "none")]),
    ("delete production -> none", "delete", {**fixture("delete_branch"), "ref": "production"}, [("prod", "none")]),
    ("delete a tag -> none", "delete", {**fixture("delete_branch"), "ref_type": "tag", "ref": "v1"}, [(None, "none")]),
    ("delete unmatched branch -> none", "delete", {**fixture("delete_branch"), "ref": "feature/x"}, [(None, "none")]),
    ("schedule -> drift preview of environments", "schedule", fixture("schedule"), [("prod", "preview"), ("dev", "preview")]),
    ("dispatch rollback -> up prod", "workflow_dispatch", fixture("workflow_dispatch_rollback"), [("prod", "up")]),
    ("issue_comment -> none", "issue_comment", {"action": "created", "repository": {"full_name": "acme/blog"}}, [(None, "none")]),
]


@pytest.mark.parametrize(("event", "payload", "expected"), [r[1:] for r in ROUTING], ids=[r[0] for r in ROUTING])
def test_routing_table(event: str, payload: dict[str, Any], expected: list[tuple[str | None, str]]) -> None:
    changes = files_of(payload) if event == "push" else None
    assert ops(event, payload, changes) == expected


def test_every_operation_has_a_reason() -> None:
    for _, event, payload, _ in ROUTING:
        for op in plan(parse_event(event, payload), ENVS, files_of(payload) if event == "push" else None).operations:
            assert len(op.reason) > 10


def test_fork_pr_is_offline_and_says_so() -> None:
    (op,) = plan(parse_event("pull_request", pr("pull_request_fork")), ENVS).operations
    assert op.offline and op.reason == ("pull request #12 from a fork: no cloud credentials, offline structural diff "
                                        "only"), op.reason


def test_push_with_unknown_files_deploys_and_says_why() -> None:
    request = parse_event("push", push("main", None))
    (op,) = plan(request, ENVS, ChangedFiles(None, "commits not available locally or from origin")).operations
    assert op.operation == "up" and "commits not available" in op.reason


def test_truncated_push_payload_is_not_trusted() -> None:
    payload = push("main", ["README.md"])
    payload["size"] = 25  # GitHub lists at most 20 commits: the lists are incomplete
    assert parse_event("push", payload).payload_changed_files is None


def test_new_personal_branch_creates_its_stack_even_without_infra_changes() -> None:
    request = parse_event("push", push("dev/bob", ["README.md"], before="0" * 40))
    assert request.created_branch
    (op,) = plan(request, ENVS, ChangedFiles(request.payload_changed_files, "payload commit lists")).operations
    assert (op.stack, op.operation) == ("dev-bob", "up") and "new branch dev/bob" in op.reason


def test_rollback_allows_an_older_commit() -> None:
    (op,) = plan(parse_event("workflow_dispatch", fixture("workflow_dispatch_rollback")), ENVS).operations
    assert op.allow_older and op.sha == A and "rollback" in op.reason


def test_dispatch_destroy_of_an_environment_is_refused() -> None:
    payload = fixture("workflow_dispatch_rollback")
    payload["inputs"] = {"stack": "prod", "operation": "destroy"}
    with pytest.raises(ConfigError, match="refusing to destroy environment stack 'prod'"):
        plan(parse_event("workflow_dispatch", payload), ENVS)


def test_dispatch_unknown_stack_is_bad_input() -> None:
    payload = fixture("workflow_dispatch_rollback")
    payload["inputs"] = {"stack": "staging", "operation": "up"}
    with pytest.raises(ConfigError, match="unknown stack 'staging'"):
        plan(parse_event("workflow_dispatch", payload), ENVS)


HOSTILE_BRANCHES = [
    "dev/$(rm -rf ~)", "dev/a;b", "dev/`id`", "dev/../../etc/passwd", "dev/a b", "dev/ALICE", "dev/a_b",
    "dev/" + "x" * 40, "dev/é", "dev/a\nb", "main\x00", "-rf", "dev/",
]


@pytest.mark.parametrize("branch", HOSTILE_BRANCHES)
def test_hostile_branch_names_are_rejected_with_exit_2(branch: str, tmp_path: Path) -> None:
    payload = push(branch)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    out, err = io.StringIO(), io.StringIO()
    code = main(["plan", "--event-name", "push", "--event-path", str(path)], environ={}, out=out, err=err)
    assert code == 2, (branch, err.getvalue(), out.getvalue())
    assert out.getvalue() == ""
    assert "branch" in err.getvalue() and "Traceback" not in err.getvalue()


def _malformed() -> list[tuple[str, str, Any, str]]:
    base_push, base_pr = push("main"), pr()
    no_ref = copy.deepcopy(base_push)
    del no_ref["ref"]
    bad_sha = copy.deepcopy(base_push)
    bad_sha["after"] = "not-a-sha"
    no_pr = copy.deepcopy(base_pr)
    del no_pr["pull_request"]
    bad_number = copy.deepcopy(base_pr)
    bad_number["pull_request"]["number"] = "12"
    bad_commits = copy.deepcopy(base_push)
    bad_commits["commits"] = [{"modified": "infra/x.py"}]
    bad_dispatch = fixture("workflow_dispatch_rollback")
    bad_dispatch["inputs"]["operation"] = "rm"
    short_sha = fixture("workflow_dispatch_rollback")
    short_sha["inputs"]["sha"] = "abc123"
    return [
        ("push", "missing ref", no_ref, "missing field `ref`"),
        ("push", "bad sha", bad_sha, "`after` is not a 40-character commit SHA"),
        ("push", "short ref", {**base_push, "ref": "main"}, "not a full ref"),
        ("push", "array payload", [1, 2], "must hold a JSON object"),
        ("push", "bad commit lists", bad_commits, "must be a list of paths"),
        ("pull_request", "no pull_request", no_pr, "missing field `pull_request`"),
        ("pull_request", "number as string", bad_number, "`number` should be int"),
        ("delete", "no ref_type", {"ref": "dev/a"}, "missing field `ref_type`"),
        ("workflow_dispatch", "bad operation", bad_dispatch, "input `operation` must be one of"),
        ("workflow_dispatch", "short sha", short_sha, "full 40-character commit SHA"),
    ]


@pytest.mark.parametrize(("event", "payload", "message"), [(e, p, m) for e, _, p, m in _malformed()],
                         ids=[i for _, i, _, _ in _malformed()])
def test_malformed_payloads_exit_2(event: str, payload: Any, message: str, tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    err = io.StringIO()
    code = main(["plan", "--event-name", event, "--event-path", str(path)], environ={}, out=io.StringIO(), err=err)
    assert code == 2
    assert message in err.getvalue()


def test_not_json_and_missing_event_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text("{nope")
    err = io.StringIO()
    assert main(["plan", "--event-name", "push", "--event-path", str(path)], environ={}, out=io.StringIO(), err=err) == 2
    assert "not valid JSON" in err.getvalue()
    err = io.StringIO()
    assert main(["plan"], environ={}, out=io.StringIO(), err=err) == 2
    assert "no CI event" in err.getvalue()


def test_plan_json_contract_and_env_vars(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(fixture("push")))
    out = io.StringIO()
    code = main(["plan"], environ={"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(path)}, out=out, err=io.StringIO())
    assert code == 0
    doc = json.loads(out.getvalue())
    assert list(doc["operations"][0]) == list(OPERATION_KEYS)
    assert doc["operations"][0] == {"stack": "dev", "operation": "up", "branch": "main", "sha": B, "pull_request": None,
                                    "reason": "push to main: 1 infrastructure file(s) changed (from payload commit lists)"}
    assert doc["changed_files_source"] == "payload commit lists"


def test_github_matrix_output(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(fixture("schedule")))
    gh_out = tmp_path / "out"
    out = io.StringIO()
    code = main(["plan", "--event-name", "schedule", "--event-path", str(path), "--github-matrix"],
                environ={"GITHUB_OUTPUT": str(gh_out)}, out=out, err=io.StringIO())
    assert code == 0
    matrix = json.loads(out.getvalue())
    assert [j["stack"] for j in matrix["include"]] == ["prod", "dev"]
    assert "has_work=true" in gh_out.read_text()
    path.write_text(json.dumps(push("main", ["README.md"])))
    out = io.StringIO()
    main(["plan", "--event-name", "push", "--event-path", str(path), "--github-matrix"],
         environ={"GITHUB_OUTPUT": str(gh_out)}, out=out, err=io.StringIO())
    assert json.loads(out.getvalue()) == {"include": []}
    assert gh_out.read_text().splitlines()[-1] == "has_work=false"


@pytest.mark.parametrize(("argv", "expected"), [
    (["--branch", "main", "--changed-file", "infra/x.py"], ("dev", "up")),
    (["--branch", "main", "--changed-file", "README.md"], ("dev", "none")),
    (["--branch", "dev/bob", "--base", "main", "--pr", "7"], ("dev", "preview")),
    (["--branch", "dev/bob", "--deleted"], ("dev-bob", "destroy")),
])
def test_plain_flags_for_any_ci(argv: list[str], expected: tuple[str, str]) -> None:
    out = io.StringIO()
    assert main(["plan", *argv], environ={}, out=out, err=io.StringIO()) == 0
    op = json.loads(out.getvalue())["operations"][0]
    assert (op["stack"], op["operation"]) == expected


def test_plan_does_not_import_the_providers_or_pydantic(tmp_path: Path) -> None:
    """The fast path: routing a push loads no Pulumi SDK and no pydantic (the import cost issue 18 measured)."""
    path = tmp_path / "event.json"
    path.write_text(json.dumps(fixture("push")))
    code = ("import sys, io; from automation.cli.main import main; "
            f"rc = main(['plan', '--event-name', 'push', '--event-path', {str(path)!r}], out=io.StringIO()); "
            "heavy = [m for m in ('pulumi', 'pulumi_aws', 'pulumi_eks', 'pulumi_kubernetes', 'pydantic') if m in sys.modules]; "
            "mine = sorted(m for m in sys.modules if m.startswith('automation.')); "
            "print(rc, heavy); print(' '.join(mine))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    status, loaded = proc.stdout.strip().splitlines()
    assert status == "0 []"
    # nor what only other commands need (issue 29): engines, the other commands' options, cost, reports, synth, and
    # the policy pack's module when no rule of environments.yaml names a policy (this project's)
    needless = [m for m in loaded.split() if m.startswith(("automation.engines.", "automation.cli.command_options",
                                                             "automation.review.policy",
                                                             "automation.review.cost", "automation.review.render",
                                                             "automation.flow.runner", "automation.cli.offline"))]
    assert not needless, needless


ENV_ERRORS = [
    ({"environments": []}, "at least one rule"),
    ({"environments": [{"branch": "main", "stack": "dev", "kind": "environment", "auto_destroy": True}]}, "never allowed"),
    ({"environments": [{"branch": "dev/{name}", "stack": "dev-{name}", "kind": "personal"}]}, "needs `template`"),
    ({"environments": [{"branch": "dev/{name}", "stack": "dev", "kind": "personal", "template": "dev"}]}, "{name} in both"),
    ({"environments": [{"branch": "main", "stack": "dev", "kind": "environment"},
                       {"branch": "trunk", "stack": "dev", "kind": "environment"}]}, "more than one rule"),
    ({"environments": [{"branch": "main", "stack": "dev x", "kind": "environment"}]}, "not a valid Pulumi stack name"),
    ({"environments": [{"branch": "a..b", "stack": "dev", "kind": "environment"}]}, "not a valid branch name"),
    ({"environments": [{"branch": "main", "stack": "dev", "kind": "staging"}]},
     "environments[0].kind: Invalid enum value 'staging' (allowed: environment, personal)"),
    ({"environments": [{"branch": "main", "stack": "dev", "kind": "environment", "colour": 1}]},
     "environments[0]: unknown key `colour` (known: branch, stack, kind"),
    ({"environments": [{"branch": "dev/{name}", "stack": "dev-{name}", "kind": "personal", "template": "dev", "ttl_days": 0},
                       {"branch": "main", "stack": "dev", "kind": "environment"}]},
     "environments[0].ttl_days: Expected `int` >= 1"),
    ({"environments": [{"branch": "dev/{name}", "stack": "dev-{name}", "kind": "personal", "template": "prod"}]},
     "not an environment stack"),
    ({"defaults": {"infra_path": []}, "environments": [{"branch": "main", "stack": "dev", "kind": "environment"}]},
     "unknown key(s) in defaults"),
    ([1, 2], "must be a YAML mapping"),
]


@pytest.mark.parametrize(("doc", "message"), ENV_ERRORS, ids=[m for _, m in ENV_ERRORS])
def test_environments_file_validation(doc: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_environments(doc, "environments.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("environments.yaml")


def test_environments_command_shows_rules_and_routes() -> None:
    out = io.StringIO()
    assert main(["environments", "main", "dev/zoe", "feature/y"], environ={}, out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    assert "production  prod        environment  protected" in text
    assert "branch 'dev/zoe': rule 3 (dev/{name}) -> stack dev-zoe (personal)" in text
    assert "branch 'feature/y': no rule matches" in text


def test_first_match_wins() -> None:
    envs = parse_environments({"environments": [
        {"branch": "dev/special", "stack": "dev", "kind": "environment"},
        {"branch": "dev/{name}", "stack": "dev-{name}", "kind": "personal", "template": "dev"}]}, "e.yaml")
    route = envs.route("dev/special")
    assert route is not None and route.stack == "dev"
    route = envs.route("dev/other")
    assert route is not None and route.stack == "dev-other"


def test_request_is_frozen() -> None:
    request = Request(event="push", branch="main")
    with pytest.raises(AttributeError):
        request.branch = "x"  # type: ignore[misc]


def test_rollback_picks_the_earlier_deployed_commit() -> None:
    from datetime import UTC, datetime

    from automation.flow.planner import rollback_commit
    from automation.model.outcome import HistoryEntry

    def entry(commit: str | None, result: str = "succeeded", kind: str = "update") -> HistoryEntry:
        return HistoryEntry(version=None, kind=kind, result=result, started=datetime.now(UTC), ended=None, message="",
                            counts={}, commit=commit)

    a, b, c = "a" * 40, "b" * 40, "c" * 40
    history = [entry(c), entry(b, "failed"), entry(c), entry(b), entry("x" * 40, kind="refresh"), entry(a)]
    assert rollback_commit(history) == (c, b)
    assert rollback_commit([entry(c), entry(b)]) == (c, b), "the current commit is the newest deployed one"
    assert rollback_commit(history, steps=2) == (c, a)
    assert rollback_commit(history, to=a[:7]) == (c, a)
    with pytest.raises(ConfigError, match="never deployed"):
        rollback_commit(history, to="d" * 40)
    with pytest.raises(ConfigError, match="deployed now"):
        rollback_commit(history, to=c)
    with pytest.raises(ConfigError, match="nothing to roll back to"):
        rollback_commit(history, steps=3)
    with pytest.raises(ConfigError, match=r"^nothing to roll back: the stack has no successful deployment with a "
                                          r"recorded commit$"):
        rollback_commit([entry(a, "failed")])


# -- tables that kill the mutants mutmut found surviving (bash .ci/mutation 'automation.flow.planner*') ------------------
def test_a_plan_keeps_its_event_and_a_nothing_plan_keeps_the_request() -> None:
    request = parse_event("pull_request", pr(pull_request__draft=True))
    the_plan = plan(request, ENVS)
    (op,) = the_plan.operations
    assert the_plan.event == "pull_request" and the_plan.to_json()["event"] == "pull_request"
    assert (op.stack, op.operation, op.branch, op.sha, op.pull_request) == (
        None, "none", request.branch, request.sha, request.pull_request.number if request.pull_request else -1)
    assert "notices" not in the_plan.to_json()
    fork = plan(parse_event("pull_request", pr(pull_request__head__repo__full_name="someone/fork")), ENVS)
    assert fork.event == "pull_request" and fork.operations[0].offline
    assert "offline structural diff only" in fork.operations[0].reason
    preview = plan(parse_event("pull_request", pr()), ENVS)
    assert preview.event == "pull_request" and preview.operations[0].operation == "preview"


@pytest.mark.parametrize(("merged", "says"), [(True, "merged: the push to main deploys it"), (False, "closed without merging")])
def test_a_closed_pull_request_says_whether_it_was_merged(merged: bool, says: str) -> None:
    request = parse_event("pull_request", pr(action="closed", pull_request__merged=merged))
    (op,) = plan(request, ENVS).operations
    assert op.operation == "none" and says in op.reason


def test_deleting_branches_environment_personal_and_kept() -> None:
    delete = fixture("delete_branch")
    envs = parse_environments({"environments": [
        {"branch": "main", "stack": "dev", "kind": "environment"},
        {"branch": "keep/{name}", "stack": "keep-{name}", "kind": "personal", "template": "dev"},
        {"branch": "dev/{name}", "stack": "dev-{name}", "kind": "personal", "template": "dev", "auto_destroy": True}]}, "t")
    cases = {"main": ("dev", "none", "never destroys"), "keep/bob": ("keep-bob", "none", "auto_destroy is off"),
             "dev/bob": ("dev-bob", "destroy", "deleted: destroy and remove")}
    for branch, (stack, operation, says) in cases.items():
        the_plan = plan(parse_event("delete", {**delete, "ref": branch}), envs)
        (op,) = the_plan.operations
        assert (op.stack, op.operation) == (stack, operation) and says in op.reason, (branch, op)
        assert the_plan.event == "delete" and op.branch == branch
    tag = plan(parse_event("delete", {**delete, "ref": "v1", "ref_type": "tag"}), envs).operations[0]
    assert tag.operation == "none" and "deleted tag is not a branch" in tag.reason


def test_manual_operations_are_planned_like_events() -> None:
    from automation.flow.planner import manual

    (op,) = manual(ENVS, "dev-alice", "up", sha=A, actor="carol", rollback=True).operations
    assert (op.stack, op.operation, op.branch, op.sha, op.kind, op.allow_older, op.protected) == (
        "dev-alice", "up", "dev/alice", A, "personal", True, False)
    assert op.reason == "manual up of dev-alice by carol"
    (prod,) = manual(ENVS, "prod", "up", sha=None, actor="x").operations
    assert prod.protected and prod.kind == "environment" and not prod.allow_older
    from automation.model.errors import GuardRefused

    for flag in (False, True):  # a protected stack's destroy is refused (exit 6) before any flag is asked for
        with pytest.raises(GuardRefused, match=r"stack prod is protected .*protected: true\): destroy is refused"):
            manual(ENVS, "prod", "destroy", sha=None, actor="x", destroy_environment=flag)
    (preview,) = manual(ENVS, "dev", "preview", sha=None, actor="x", rollback=True).operations
    assert not preview.allow_older, "only an up can deploy an older commit"
    (default,) = manual(ENVS, "dev", "up", sha=None, actor="x").operations
    assert not default.allow_older, "an older commit is deployed only when asked"
    assert manual(ENVS, "dev", "up", sha=None, actor="x").event == "manual"
    for stack, operation, sha, says in (("nope", "up", None, "unknown stack 'nope'"),
                                        ("dev", "destroy", None, "--yes-destroy-environment"),
                                        ("dev", "up", "abc", "full 40-character")):
        with pytest.raises(ConfigError, match=says):
            manual(ENVS, stack, operation, sha=sha, actor="x")  # type: ignore[arg-type]


def test_expiry_ttl_extensions_warnings_and_deleted_branches() -> None:
    from datetime import UTC, datetime, timedelta

    from automation.flow.planner import expired, expiry
    from automation.model.outcome import StackInfo

    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    day = timedelta(days=1)
    assert expiry(StackInfo("dev-a", now - 2 * day), 14, None) == now + 12 * day
    assert expiry(StackInfo("dev-a", now - 2 * day), 14, now + 30 * day) == now + 30 * day
    assert expiry(StackInfo("dev-a", now - 2 * day), 14, now) == now + 12 * day, "an extension never shortens"
    assert expiry(StackInfo("dev-a", None), 14, None) is None
    assert expiry(StackInfo("dev-a", (now - 2 * day).replace(tzinfo=None)), 14, None) == now + 12 * day
    stacks = [StackInfo("dev-old", now - 15 * day), StackInfo("dev-soon", now - 12 * day),
              StackInfo("dev-kept", now - 20 * day), StackInfo("dev-gone", now - 1 * day),
              StackInfo("dev-fresh", now - 1 * day), StackInfo("dev", now - 300 * day), StackInfo("dev-never", None)]
    branches = frozenset({"main", "dev/old", "dev/soon", "dev/kept", "dev/fresh", "dev/never"})
    the_plan = expired(ENVS, stacks, now, branches=branches, extensions={"dev-kept": now + 5 * day})
    ops_ = {op.stack: op for op in the_plan.operations}
    assert set(ops_) == {"dev-old", "dev-gone"} and all(op.operation == "destroy" for op in ops_.values())
    assert ops_["dev-old"].reason == "personal stack dev-old idle for 15 days, past its ttl of 14 days"
    assert ops_["dev-gone"].reason == "personal stack dev-gone: its branch 'dev/gone' no longer exists on the remote"
    assert all(op.kind == "personal" and op.branch == f"dev/{op.stack.removeprefix('dev-')}" for op in ops_.values()
               if op.stack)
    assert the_plan.event == "expire"
    (notice,) = the_plan.notices
    assert notice.startswith("personal stack dev-soon expires at 2026-11-29 12:00 UTC (in 2d 0h)")
    assert "extend --stack dev-soon --days N" in notice and the_plan.to_json()["notices"] == [notice]
    extended = expired(ENVS, [StackInfo("dev-kept", now - 20 * day)], now + 6 * day,
                       extensions={"dev-kept": now + 5 * day}).operations[0]
    assert extended.reason.endswith("(after its extension)")
    unknown = expired(ENVS, stacks, now)  # remote not listed: only the ttl applies
    assert [op.stack for op in unknown.operations] == ["dev-kept", "dev-old"]
    nothing = expired(ENVS, [StackInfo("dev-fresh", now)], now, branches=frozenset({"dev/fresh"}))
    assert [(op.stack, op.operation) for op in nothing.operations] == [(None, "none")] and not nothing.notices
    assert nothing.operations[0].reason == "no personal stack is past its ttl or without its branch"
    # the boundaries: due exactly now expires; exactly ttl_warn_days before is warned; hours are hours
    assert [op.stack for op in expired(ENVS, [StackInfo("dev-a", now - 14 * day)], now).operations] == ["dev-a"]
    (edge,) = expired(ENVS, [StackInfo("dev-a", now - 11 * day)], now).notices
    assert "(in 3d 0h)" in edge
    (hours,) = expired(ENVS, [StackInfo("dev-a", now - 12 * day - timedelta(hours=5))], now).notices
    assert "(in 1d 19h)" in hours
    # another time zone is the same instant, not a UTC wall clock
    from datetime import timezone
    plus2 = (now - 2 * day).astimezone(timezone(timedelta(hours=2)))
    assert expiry(StackInfo("dev-a", plus2), 14, None) == now + 12 * day
    # rules without auto_destroy and environment rules are never expired, whatever their age or branch
    keep = parse_environments({"environments": [
        {"branch": "main", "stack": "dev", "kind": "environment"},
        {"branch": "keep/{name}", "stack": "keep-{name}", "kind": "personal", "template": "dev", "ttl_days": 1},
        {"branch": "dev/{name}", "stack": "dev-{name}", "kind": "personal", "template": "dev", "auto_destroy": True,
         "ttl_days": 14}]}, "t")
    kept = expired(keep, [StackInfo("keep-bob", now - 99 * day), StackInfo("dev", now - 99 * day),
                          StackInfo("dev-zoe", now - 99 * day), StackInfo("unmapped", now - 99 * day)],
                   now, branches=frozenset())
    assert [op.stack for op in kept.operations] == ["dev-zoe"]
    # a personal rule without ttl_days expires nothing by age, and the stacks after it are still judged
    no_ttl = parse_environments({"environments": [
        {"branch": "main", "stack": "dev", "kind": "environment"},
        {"branch": "a/{name}", "stack": "a-{name}", "kind": "personal", "template": "dev", "auto_destroy": True},
        {"branch": "dev/{name}", "stack": "dev-{name}", "kind": "personal", "template": "dev", "auto_destroy": True,
         "ttl_days": 14}]}, "t")
    aged = expired(no_ttl, [StackInfo("a-old", now - 99 * day), StackInfo("dev-old", now - 99 * day)], now)
    assert [op.stack for op in aged.operations] == ["dev-old"]
    # a stack never deployed but given an extension expires when the extension does
    (never,) = expired(ENVS, [StackInfo("dev-x", None)], now, extensions={"dev-x": now - day}).operations
    assert never.reason == "personal stack dev-x never deployed, past its ttl of 14 days (after its extension)"


# -- manual dispatches, whole (mutation testing found the dispatch-by-branch path and the reasons untested) --------
def _dispatch(inputs: dict[str, Any] | None, ref: str | None = "refs/heads/production", actor: str | None = "alice") -> Any:
    payload = fixture("workflow_dispatch_rollback")
    payload["inputs"] = inputs or {}
    if ref is None:
        payload.pop("ref")
    else:
        payload["ref"] = ref
    if actor is None:
        payload.pop("sender")
    return plan(parse_event("workflow_dispatch", payload), ENVS)


def test_a_dispatch_without_a_stack_input_takes_the_stack_of_its_branch() -> None:
    result = _dispatch({"operation": "refresh"}, ref="refs/heads/production")
    (op,) = result.operations
    assert result.event == "workflow_dispatch"
    assert (op.stack, op.operation, op.branch, op.kind) == ("prod", "refresh", "production", "environment")
    assert op.reason == "manual refresh of prod by alice"


def test_a_dispatch_with_no_operation_is_an_up_and_names_no_one_without_an_actor() -> None:
    (op,) = _dispatch({"stack": "dev"}, actor=None).operations
    assert (op.stack, op.operation, op.reason) == ("dev", "up", "manual up of dev")


def test_a_dispatch_on_a_branch_no_rule_maps_plans_nothing_and_says_why() -> None:
    (op,) = _dispatch({}, ref="refs/heads/experiment").operations
    assert op.operation == "none" and op.stack is None
    assert op.reason == "no rule in environments.yaml matches branch 'experiment'"


def test_a_dispatch_with_neither_a_stack_nor_a_branch_is_bad_input() -> None:
    with pytest.raises(ConfigError, match=r"^workflow_dispatch needs a `stack` input or a branch ref$"):
        _dispatch({}, ref="refs/tags/v1")


def test_a_rollback_dispatch_names_the_commit_and_the_person() -> None:
    result = _dispatch({"stack": "prod", "operation": "up", "sha": A})
    (op,) = result.operations
    assert result.event == "workflow_dispatch"
    assert op.reason == f"rollback of prod to {A[:7]} requested by alice" and op.sha == A and op.allow_older


def test_destroying_an_environment_from_a_workflow_says_environments_are_never_destroyed() -> None:
    with pytest.raises(ConfigError, match=r"environments are never destroyed by the engine$"):
        _dispatch({"stack": "prod", "operation": "destroy"})


def test_a_dispatched_destroy_of_a_personal_stack_carries_the_request() -> None:
    (op,) = _dispatch({"stack": "dev-alice", "operation": "destroy"}, ref="refs/heads/dev/alice").operations
    assert (op.stack, op.operation, op.kind, op.reason) == ("dev-alice", "destroy", "personal",
                                                             "manual destroy of dev-alice by alice")


def test_deleting_a_tag_says_it_is_not_a_branch() -> None:
    (op,) = plan(parse_event("delete", {**fixture("delete_branch"), "ref_type": "tag", "ref": "v1"}), ENVS).operations
    assert op.reason == "deleted tag is not a branch: nothing to do"
    request = parse_event("delete", {**fixture("delete_branch"), "ref_type": "tag", "ref": "v1"})
    from dataclasses import replace as _replace
    (op,) = plan(_replace(request, action=None), ENVS).operations
    assert op.reason == "deleted ref is not a branch: nothing to do"


def test_a_dispatch_request_without_an_operation_is_an_up() -> None:
    """The event parser fills the operation in from the inputs; a request built by other code may carry none."""
    (op,) = plan(Request(event="workflow_dispatch", branch="main", dispatch_stack="dev"), ENVS).operations
    assert (op.stack, op.operation, op.reason) == ("dev", "up", "manual up of dev")


# -- pushes, whole: each reason and field a user reads (mutation testing: the plan is what the workflows act on) ---
def test_a_push_to_a_tag_or_of_a_deleted_branch_plans_nothing_and_says_why() -> None:
    (op,) = plan(parse_event("push", {**push("main"), "ref": "refs/tags/v1.0.0"}), ENVS).operations
    assert op.reason == "push to a tag or other non-branch ref: nothing to deploy"
    deleted = {**push("main"), "deleted": True, "after": "0" * 40}
    request = parse_event("push", deleted)
    assert request.action == "deleted"
    result = plan(request, ENVS, ChangedFiles(("infra/network.py",), "payload"))
    (op,) = result.operations
    assert (op.operation, op.reason, op.branch, result.event) == (
        "none", "branch deletion push: the delete event handles it", "main", "push")


def test_a_new_branch_deploys_whole_unless_its_stack_already_has_a_deployed_commit_to_diff_from() -> None:
    request = parse_event("push", push("dev/bob", ["README.md"], before="0" * 40))
    (op,) = plan(request, ENVS, ChangedFiles(("README.md",), "git diff against the deployed commit",
                                             since_deployed=True)).operations
    assert op.operation == "none", "the branch's stack exists: only what changed since its deployed commit counts"
    (op,) = plan(request, ENVS, ChangedFiles(("README.md",), "payload commit lists")).operations
    assert op.operation == "up" and op.reason.startswith("personal environment dev-bob created/updated: new branch")


def test_a_push_plan_names_where_the_changed_files_came_from() -> None:
    request = parse_event("push", push("main", ["README.md"]))
    result = plan(request, ENVS, ChangedFiles(("README.md",), "git diff a..b"))
    (op,) = result.operations
    assert result.event == "push" and result.changed_files_source == "git diff a..b"
    assert op.reason == "no infrastructure path changed (1 file(s) changed, from git diff a..b)"
    result = plan(parse_event("push", push("main")), ENVS, ChangedFiles(("infra/network.py",), "git diff a..b"))
    assert result.event == "push" and result.changed_files_source == "git diff a..b"
    assert result.operations[0].reason == "push to main: 1 infrastructure file(s) changed (from git diff a..b)"


def test_a_push_whose_changed_files_are_unknown_deploys_and_says_so() -> None:
    result = plan(parse_event("push", push("main")), ENVS, None)
    (op,) = result.operations
    assert result.changed_files_source is None
    assert op.reason == "push to main: changed files unknown, so the whole stack is deployed"
    (op,) = plan(parse_event("push", push("main")), ENVS, ChangedFiles(None, "a shallow clone")).operations
    assert op.reason == "push to main: a shallow clone, so the whole stack is deployed"


def test_only_a_personal_branch_says_it_is_a_personal_environment() -> None:
    (personal,) = plan(parse_event("push", push("dev/alice")), ENVS, None).operations
    (env,) = plan(parse_event("push", push("main")), ENVS, None).operations
    assert personal.reason.startswith("personal environment dev-alice created/updated: push to dev/alice")
    assert not env.reason.startswith("personal")


def test_an_operation_carries_its_pull_request_and_whether_the_stack_is_protected() -> None:
    (op,) = plan(parse_event("pull_request", pr()), ENVS).operations
    assert op.pull_request == 12 and op.to_json()["pull_request"] == 12
    (prod,) = plan(parse_event("push", push("production")), ENVS, None).operations
    (dev,) = plan(parse_event("push", push("main")), ENVS, None).operations
    assert prod.protected is True and dev.protected is False and dev.pull_request is None


def test_a_manual_operation_on_an_unknown_stack_or_sha_says_what_is_known_and_expected() -> None:
    from automation.flow.planner import manual

    with pytest.raises(ConfigError) as bad:
        manual(ENVS, "staging", "up", sha=None, actor="x")
    assert str(bad.value) == ("unknown stack 'staging': no rule in environments.yaml maps a branch to it "
                              "(known: prod, dev, and personal stacks)")
    with pytest.raises(ConfigError) as bad:
        manual(ENVS, "dev", "up", sha="abc1234", actor="x")
    assert str(bad.value) == "--sha must be a full 40-character commit SHA"


def test_the_nightly_plan_previews_each_environment_from_its_branch() -> None:
    result = plan(parse_event("schedule", fixture("schedule")), ENVS)
    assert result.event == "schedule"
    assert [(op.stack, op.operation, op.branch, op.kind, op.reason) for op in result.operations] == [
        (stack, "preview", branch, "environment", "scheduled drift check: preview against the deployed state")
        for stack, branch in (("prod", "production"), ("dev", "main"))]
