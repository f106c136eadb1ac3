"""The three workflows, every job, run by act on real events (issue 17). One story, in file order.

The harness (tests/support/workflows_act.py) says what is real and what stands in: the workflows, their expressions,
job graph, matrices, outputs, the engine, the Pulumi CLI and the fixture program run for real; marketplace
actions are stand-ins (tests/support/standins/actions); the test job's `.ci/test` runs the deploy gate's tiers (fast,
cli) for real on the test repository's own tests and is a stand-in for the heavy ones (the suite is what runs this
file). Each scenario asserts what the jobs did (which ran, their matrix, the engine's reports in their logs,
the comment on the local GitHub server, the backend's history and the fixture cloud afterwards), through check
functions that raise AssertionError, so that test_9 can show one of them failing on a broken workflow.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import gitrepo, health_server
from tests.support.health_server import HealthServer
from tests.support.paths import ROOT
from tests.support.realcli import require_cli
from tests.support.workflows_act import (
    PASSPHRASE,
    REPO,
    TOKEN,
    ActWorld,
    Run,
    act_world,
    delete,
    dispatch,
    pull_request,
    push,
    schedule,
)

pytestmark = pytest.mark.act

WORKFLOWS = ("pull-request.yml", "deploy.yml", "cleanup.yml")
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[ActWorld]:
    choice = require_cli()
    tmp = tmp_path_factory.mktemp("act")
    with health_server.serve(HealthServer(require_https_header=True)) as health, \
            act_world(tmp, choice.path, health.url) as w:
        w.shas["initial"] = gitrepo.git(w.repo, "rev-parse", "HEAD")
        yield w
    if TIMES:  # where the tier's time goes (README "Tests"), on the terminal: a teardown's output is captured
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        text = (f"act runs' wall times ({sum(TIMES.values()):.0f} s in all): "
                + ", ".join(f"{k} {v:.0f} s" for k, v in TIMES.items()))
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line("")
                reporter.write_line(text)


def timed(name: str, world: ActWorld, event: str, payload: dict[str, Any], workflow: str, **kw: Any) -> Run:
    start = time.monotonic()
    run = world.act_run(event, payload, workflow, **kw)
    TIMES[name] = TIMES.get(name, 0.0) + time.monotonic() - start
    return run


def set_config(world: ActWorld, key: str, value: str) -> None:
    path = world.repo / "Pulumi.dev.yaml"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith(f"  fixture:{key}:")]
    lines.insert(lines.index("config:") + 1, f"  fixture:{key}: {value}")
    path.write_text("\n".join(lines) + "\n")


# -- checks (raise AssertionError; test_9 shows one failing on a broken workflow) ------------------------------

def check_jobs(run: Run, expected: dict[str, str]) -> None:
    """Exactly these jobs ran, with these results (act leaves the jobs whose `if` is false out)."""
    got: dict[str, str] = {}
    for job, result in run.jobs.items():  # a matrix's jobs ("test (fast)", "deploy-1") count as one, failed if any did
        name = re.sub(r" \(.*\)$", "", re.sub(r"-\d+$", "", job.split("/", 1)[1]))
        got[name] = result if got.get(name, "success") == "success" else got[name]
    failed = "\n".join(f"--- {job}:\n{run.output(job)[-3000:]}" for job, result in got.items() if result != "success")
    assert got == expected, f"jobs {got}, expected {expected}\n{failed or run.log[-3000:]}"


def check_matrix(run: Run, job: str, stacks: list[str]) -> list[dict[str, Any]]:
    """The matrix the plan job's output gave ``job``: one entry per stack, as the engine planned."""
    matrices = {json_key(s["matrix"]): s["matrix"] for s in run.steps if s.get("jobID") == job and s.get("matrix")}
    assert sorted(m["stack"] for m in matrices.values()) == sorted(stacks), (matrices, run.log[-3000:])
    return list(matrices.values())


def json_key(value: dict[str, Any]) -> str:
    return repr(sorted(value.items()))


def check_deployed(world: ActWorld, stack: str, versions_before: int, message_start: str) -> dict[str, Any]:
    """One more update of ``stack`` in the backend, succeeded, with the audit message the engine writes."""
    history = world.history(stack)
    assert len(history) == versions_before + 1, history
    latest = history[0]
    assert latest["result"] == "succeeded" and latest["message"].startswith(message_start), latest
    return latest


# -- the story ----------------------------------------------------------------------------------------------

def test_1_a_pull_request_is_previewed_once_and_its_comment_edited_on_synchronize(world: ActWorld) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "-b", "feature/hi")
    set_config(world, "greeting", "hi")
    head = gitrepo.commit(repo, {}, "Say hi")
    run = timed("pull_request (the first run of the scenarios)", world, "pull_request",
                pull_request("opened", 1, "Say hi", "feature/hi", head, world.shas["initial"]), "pull-request.yml")
    check_jobs(run, {"test": "success", "plan": "success", "preview": "success"})
    check_matrix(run, "preview", ["dev"])
    (comment,) = world.gh.comments.values()
    assert f"stack=dev commit={head}" in comment["body"] and "`settings`" in comment["body"]
    # every tier side by side on the pull request (one matrix job each)
    tiers = {line.split()[1] for line in (world.cache_root / "test-jobs.log").read_text().splitlines()
             if line.startswith("pull-request/test ") and line.endswith(head)}
    assert tiers == {"fast", "cli", "k8s", "db", "act"}, tiers
    assert world.history("dev") == [] and world.records("record") == [], "a preview creates nothing"
    # a second push to the pull request: the same comment, edited
    set_config(world, "greeting", "hello there")
    head2 = gitrepo.commit(repo, {}, "Say hello there")
    run = timed("pull_request synchronize (warm)", world, "pull_request",
                pull_request("synchronize", 1, "Say hi", "feature/hi", head2, world.shas["initial"]), "pull-request.yml")
    check_jobs(run, {"test": "success", "plan": "success", "preview": "success"})
    # the CLI as Pulumi users get it: pulumi/actions (its stand-in gives the pinned local build), never a build here
    assert "pulumi/actions stand-in: Pulumi CLI v3.274.1" in run.output("preview")
    (edited,) = world.gh.comments.values()
    assert edited["id"] == comment["id"] and f"commit={head2}" in edited["body"]
    world.shas["pr1"] = head2


def test_2_the_merge_pushed_to_main_is_tested_planned_and_deployed(world: ActWorld) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "main")
    gitrepo.git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #1 from acme/feature/hi\n\nSay hi", "feature/hi")
    merge = gitrepo.git(repo, "rev-parse", "HEAD")
    world.gh.commit_pulls = [{"number": 1, "title": "Say hi", "user": {"login": "alice"}, "state": "closed",
                              "merged_at": "2026-11-29T10:00:00Z", "base": {"ref": "main"},
                              "head": {"ref": "feature/hi", "sha": world.shas["pr1"]}}]
    world.gh.reviews = [{"user": {"login": "bob"}, "state": "APPROVED"}]
    run = timed("push main (deploy)", world, "push", push("main", world.shas["initial"], merge, "Merge pull request #1"),
                "deploy.yml")
    check_jobs(run, {"test": "success", "plan": "success", "deploy": "success"})
    (entry,) = check_matrix(run, "deploy", ["dev"])
    assert entry["operation"] == "up" and entry["sha"] == merge
    check_deployed(world, "dev", 0, f"main@{merge[:7]}: Say hi (#1) by alice, approved by bob")
    assert [r["content"] for r in world.records("record") if r["content"].startswith("hello")] == ["hello there zone-a,zone-b"]
    assert "the plan matches the preview reviewed on #1" in run.output("deploy")
    # the deploy gate ran the fast and real-CLI tiers only: no control plane, provider or act build before a deploy
    gate = [line.split()[1] for line in (world.cache_root / "test-jobs.log").read_text().splitlines()
            if line.startswith("deploy/test ") and line.endswith(merge)]
    assert gate == ["fast", "cli"], gate
    # ... for real: the project's test command on the test repository's tests, the CLI pulumi/actions installed
    out = re.sub(r"\x1b\[[0-9;]*m", "", run.output("test"))
    assert "test[fast]: ruff, mypy and the import layers (lint-imports) clean" in out and "test[fast]: pytest exit 0" in out, out[-3000:]
    assert "test[cli]: using the installed Pulumi CLI v3.274.1" in out and "test[cli]: pytest exit 0" in out, out[-3000:]
    world.shas["merge1"] = merge


def test_3_a_push_touching_no_infrastructure_path_skips_the_deploy_job_and_failing_tests_stop_one(world: ActWorld) -> None:
    world.gh.commit_pulls, world.gh.reviews = [], []  # direct pushes: no pull request behind these commits
    before = gitrepo.git(world.repo, "rev-parse", "HEAD")
    after = gitrepo.commit(world.repo, {"NOTES.md": "release notes\n"}, "Notes only")
    run = timed("push main, no infra path", world, "push", push("main", before, after, "Notes only"), "deploy.yml")
    check_jobs(run, {"test": "success", "plan": "success"})
    assert "has_work=false" in run.output("plan")
    assert len(world.history("dev")) == 1, "nothing was deployed"
    # a change of the program whose tests fail (a typo the test repository's spelling test catches): the deploy gate's
    # test job, the project's real test command, fails; plan and deploy never start, and nothing changes
    set_config(world, "greeting", "hello agian")
    failing = gitrepo.commit(world.repo, {}, "Say hello again, with a typo a test catches")
    records = world.records("record")
    run = timed("push main, failing tests", world, "push", push("main", after, failing, "failing tests"), "deploy.yml")
    assert run.jobs.get("deploy/test") == "failure", run.jobs
    assert "deploy/plan" not in run.jobs and "deploy/deploy" not in run.jobs, run.jobs
    out = re.sub(r"\x1b\[[0-9;]*m", "", run.output("test"))  # pytest colours its output under act
    assert "misspelled in the dev stack's greeting 'hello agian': ['agian']" in out, out[-3000:]
    assert "1 failed, 1 passed" in out and "test[fast]: pytest exit 1" in out, out[-3000:]
    assert "test[fast]: ruff, mypy and the import layers (lint-imports) clean" in out, out[-3000:]
    assert len(world.history("dev")) == 1 and world.records("record") == records, "a failing test gate deploys nothing"
    # the fix (the typo corrected, the tests pass), deployed, so that test 5 has an earlier commit to go back to. It
    # touches the program again: a fix touching no infrastructure path would plan nothing, and the failed commit's
    # change would wait for the next one (the nightly drift check shows it meanwhile)
    set_config(world, "greeting", "hello again")
    after2 = gitrepo.commit(world.repo, {}, "Say hello again")
    run = timed("push main (deploy)", world, "push", push("main", failing, after2, "Say hello again"), "deploy.yml")
    check_jobs(run, {"test": "success", "plan": "success", "deploy": "success"})
    check_deployed(world, "dev", 1, f"main@{after2[:7]}")
    world.shas["main2"] = after2


def test_4_a_personal_branch_is_deployed_on_push_and_destroyed_when_deleted(world: ActWorld) -> None:
    repo = world.repo
    for name in ("alice", "bob"):
        gitrepo.git(repo, "checkout", "-q", "-b", f"dev/{name}", "main")
        head = gitrepo.commit(repo, {f"{name}.txt": name}, f"{name}'s branch")
        run = timed(f"push dev/{name} (personal up)", world, "push",
                    push(f"dev/{name}", "0" * 40, head, f"{name}'s branch", created=True), "deploy.yml")
        check_jobs(run, {"test": "success", "plan": "success", "deploy": "success"})
        check_matrix(run, "deploy", [f"dev-{name}"])
        check_deployed(world, f"dev-{name}", 0, f"dev/{name}@{head[:7]}")
    gitrepo.git(repo, "checkout", "-q", "main")
    gitrepo.git(repo, "branch", "-q", "-D", "dev/alice")
    run = timed("delete dev/alice (cleanup)", world, "delete", delete("dev/alice"), "cleanup.yml")
    check_jobs(run, {"plan": "success", "destroy": "success"})
    check_matrix(run, "destroy", ["dev-alice"])
    stacks = world.engine("status", "--stack", "dev-alice", "--json")
    assert '"exists": false' in stacks.stdout, stacks.stdout
    assert any(r["content"] == "torn down dev-alice" for r in world.records("record")), "the teardown ran first"
    # deleting an environment branch destroys nothing: the plan says so, no destroy job
    run = timed("delete main (nothing)", world, "delete", delete("main"), "cleanup.yml")
    check_jobs(run, {"plan": "success"})
    assert len(world.history("dev")) == 2


def test_5_a_dispatched_rollback_runs_the_guarded_rollback_with_its_inputs(world: ActWorld) -> None:
    gitrepo.git(world.repo, "checkout", "-q", "main")
    before = len(world.history("dev"))
    inputs = {"stack": "dev", "operation": "up", "sha": world.shas["merge1"], "reason": "greeting regressed",
              "allow_stateful_changes": False, "accept_plan_change": ""}
    run = timed("workflow_dispatch rollback", world, "workflow_dispatch", dispatch("main", inputs), "deploy.yml",
                actor="carol")
    check_jobs(run, {"test": "success", "plan": "success", "deploy": "success"})
    check_deployed(world, "dev", before, f"rollback of dev to {world.shas['merge1'][:7]} by carol: greeting regressed")
    # dev is back at the merge's greeting; dev-bob, deployed from the later main, keeps its own
    assert sorted(r["content"] for r in world.records("record") if r["content"].startswith("hello")) == [
        "hello again zone-a,zone-b", "hello there zone-a,zone-b"]


def test_6_the_nightly_run_checks_drift_remediates_dev_and_expires_personal_stacks(world: ActWorld) -> None:
    # someone edits dev's "cloud" by hand; dev/bob's branch disappears without a delete event
    (record,) = [p for p in (world.cloud / "record").glob("*.json") if '"hello there' in p.read_text()]
    record.write_text(record.read_text().replace("hello there", "edited by hand"))
    gitrepo.git(world.repo, "branch", "-q", "-D", "dev/bob")
    before = len(world.history("dev"))
    run = timed("schedule (drift, remediate, expire)", world, "schedule", schedule(), "deploy.yml", actor="nightly")
    # drift fails its job (exit 5: dev drifted); remediate runs anyway (always()) and fixes dev; expire destroys bob
    check_jobs(run, {"test": "success", "heavy tier": "success", "drift": "failure", "remediate": "success",
                     "expire": "success"})
    assert "1 resource(s) differ from the recorded state" in run.output("drift"), run.output("drift")[-4000:]
    history = world.history("dev")
    assert len(history) == before + 2 and [h["kind"] for h in history[:2]] == ["update", "refresh"]
    assert history[0]["message"].startswith("drift remediation of dev by ")
    # remediation re-applies the checked-out program (main's head, after the rollback of test 5)
    assert '"hello again zone-a,zone-b"' in record.read_text(), record.read_text()
    (issue,) = [i for i in world.gh.issues.values() if i["title"].startswith("Drift")]
    assert issue["title"] == "Drift detected in stack dev" and issue["state"] == "closed"
    # dev pins Kubernetes 1.34, past its end of standard support: one version issue, opened by the nightly job
    (version,) = [i for i in world.gh.issues.values() if i["title"].startswith("Versions of stack")]
    assert version["title"] == "Versions of stack dev leave standard support soon" and version["state"] == "open"
    assert "| EKS Kubernetes 1.34 | extended | 2026-12-02 | 2027-12-02 | upgrade to 1.35" in version["body"]
    assert "dev: version issue #" in run.output("drift")
    # the next night (the engine's step, run directly against the same GitHub): updated, never a second one
    again = world.engine("versions", "--issues", extra_env={"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO,
                                                            "GITHUB_API_URL": world.gh.url})
    assert again.returncode == 0 and "updated" in again.stdout, again.stdout + again.stderr
    assert len([i for i in world.gh.issues.values() if i["title"].startswith("Versions of stack")]) == 1
    assert '"exists": false' in world.engine("status", "--stack", "dev-bob", "--json").stdout, "bob's stack expired"
    assert "dev-bob" in run.output("expire")


def test_6b_a_merge_over_budget_fails_its_deploy_then_a_dispatch_with_a_reason_deploys_it(world: ActWorld) -> None:
    """The budget guard through deploy.yml: dev gets `budget_monthly_usd: 30` and a database of 100 GB at the
    fixture's test price ($50 a month, tests/data/fixture_project/costs.yaml); the push's `up` exits 8 and applies
    nothing; a workflow_dispatch with `accept_over_budget` deploys it, the reason in the audit message."""
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "main")
    world.gh.commit_pulls, world.gh.reviews = [], []
    before_sha = gitrepo.git(repo, "rev-parse", "HEAD")
    rules = (repo / "environments.yaml").read_text()
    assert "    stack: dev\n    kind: environment\n" in rules
    set_config(world, "databaseSizeGb", "100")
    head = gitrepo.commit(repo, {"environments.yaml": rules.replace(
        "    stack: dev\n    kind: environment\n", "    stack: dev\n    kind: environment\n    budget_monthly_usd: 30\n", 1)},
        "A bigger database, and a budget for dev")
    versions = len(world.history("dev"))
    run = timed("push main over budget", world, "push", push("main", before_sha, head, "bigger db"), "deploy.yml")
    check_jobs(run, {"test": "success", "plan": "success", "deploy": "failure"})
    assert "over-budget" in run.output("deploy") and "over its budget of $30.00" in run.output("deploy"), \
        run.output("deploy")[-3000:]
    assert len(world.history("dev")) == versions, "nothing was applied"
    inputs = {"stack": "dev", "operation": "up", "sha": "", "reason": "", "allow_stateful_changes": False,
              "accept_plan_change": "", "accept_over_budget": "finance approved the bigger database"}
    run = timed("workflow_dispatch accept_over_budget", world, "workflow_dispatch", dispatch("main", inputs),
                "deploy.yml", actor="carol")
    check_jobs(run, {"test": "success", "plan": "success", "deploy": "success"})
    latest = check_deployed(world, "dev", versions, "")
    assert "accepted by carol: finance approved the bigger database]" in latest["message"], latest
    (db,) = world.records("database")
    assert db["size_gb"] == 100


@pytest.mark.parametrize(("event", "payload", "says"), [
    ("workflow_dispatch", dispatch("main", {"stack": "nope", "operation": "up", "sha": "", "reason": "",
                                            "allow_stateful_changes": False, "accept_plan_change": ""}),
     "unknown stack 'nope'"),
    ("push", None, "is not a safe git branch name"),
])
def test_7_bad_input_fails_the_run_with_the_engines_message_and_applies_nothing(
        world: ActWorld, event: str, payload: dict[str, Any] | None, says: str) -> None:
    before = {s: len(world.history(s)) for s in ("dev",)}
    if payload is None:  # a branch name with shell metacharacters (git allows them in ref names)
        head = gitrepo.git(world.repo, "rev-parse", "HEAD")
        payload = push("dev/x$(touch${IFS}pwned);y", "0" * 40, head, "evil", created=True)
    run = timed(f"bad input ({event})", world, event, payload, "deploy.yml")
    assert run.code != 0
    assert run.jobs.get("deploy/plan") == "failure" and "deploy/deploy" not in run.jobs, run.jobs
    assert says in run.output("plan"), run.output("plan")[-3000:]
    assert {s: len(world.history(s)) for s in before} == before, "nothing was applied"
    assert not list(world.tmp.rglob("pwned")), "the branch name never reached a shell"


def test_8_every_job_of_the_three_workflows_ran(world: ActWorld) -> None:
    declared = set()
    for wf in WORKFLOWS:
        doc = yaml.safe_load((ROOT / ".github" / "workflows" / wf).read_text())
        # a job with a `name` (the tiers' matrices: "test (fast)") runs under that name, its matrix value filled in
        declared |= {f"{doc['name']}/{re.sub(r' [(].*[)]$', '', job.get('name', job_id))}"
                     for job_id, job in doc["jobs"].items()}
    ran = {re.sub(r" [(].*[)]$", "", re.sub(r"-\d+$", "", job)) for run in world.runs for job in run.jobs}
    assert declared <= ran, f"never ran: {sorted(declared - ran)}"


def test_9_a_scenario_check_fails_on_a_broken_workflow_then_passes_when_fixed(world: ActWorld, tmp_path: Path) -> None:
    """The deploy job reads the plan job's `matrix` output; a typo in the output's name (easy to make, invisible to
    actionlint, which does not know what `plan` prints) leaves the deploy matrix empty: check_deployed fails.
    Running this for real found a bug: act then runs the matrix job once with an empty `stack`, and the engine took
    `--only-stack ""` as "every stack" and deployed. It now refuses an empty --only-stack (exit 2)."""
    repo = world.repo
    workflow = repo / ".github" / "workflows" / "deploy.yml"
    good = workflow.read_text()
    broken = good.replace("matrix: ${{ steps.plan.outputs.matrix }}", "matrix: ${{ steps.plan.outputs.matrx }}", 1)
    assert broken != good
    gitrepo.git(repo, "checkout", "-q", "main")
    before_sha = gitrepo.git(repo, "rev-parse", "HEAD")
    set_config(world, "greeting", "broken workflow")
    workflow.write_text(broken)
    head = gitrepo.commit(repo, {}, "A typo in deploy.yml")
    versions = len(world.history("dev"))
    run = timed("push with a broken workflow", world, "push", push("main", before_sha, head, "typo"), "deploy.yml")
    with pytest.raises(AssertionError):
        check_deployed(world, "dev", versions, f"main@{head[:7]}")
    assert run.jobs.get("deploy/deploy") != "success"
    assert "--only-stack is empty" in run.output("deploy"), run.output("deploy")[-3000:]
    workflow.write_text(good)
    set_config(world, "greeting", "fixed workflow")
    fixed = gitrepo.commit(repo, {}, "Fix the typo")
    run = timed("push with the fixed workflow", world, "push", push("main", head, fixed, "fix"), "deploy.yml")
    check_jobs(run, {"test": "success", "plan": "success", "deploy": "success"})
    check_deployed(world, "dev", versions, f"main@{fixed[:7]}")


def test_10_no_secret_reaches_a_job_log_a_comment_an_issue_or_a_file(world: ActWorld) -> None:
    """The canary (tests/support/workflows_act.py: the stack's secret config `apiToken`, which act does not mask, as GitHub
    would not: it is not a repository secret) never appears in any job's log of any run above, in a PR comment or an
    issue the engine wrote, nor in a file of the repository or the backend; the repository secrets act was given
    reach the logs only masked."""
    canary = "act-canary-token"
    assert len(world.runs) >= 10, "the scenarios above ran"
    for number, run in enumerate(world.runs):
        for secret in (canary, PASSPHRASE, TOKEN):
            assert secret not in run.log, f"run {number} printed a secret ({secret[:3]}...)"
    texts = [c["body"] for c in world.gh.comments.values()] + [json.dumps(i) for i in world.gh.issues.values()]
    assert texts, "the engine wrote comments"
    assert not [t for t in texts if canary in t or PASSPHRASE in t]
    leaked = [p for root in (world.repo, world.backend) for p in root.rglob("*")
              if p.is_file() and ".git" not in p.parts and canary.encode() in p.read_bytes()]
    assert not leaked, leaked
