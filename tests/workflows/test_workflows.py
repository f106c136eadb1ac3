"""The GitHub workflows: actionlint (built from the Go module proxy) finds nothing, and the safety properties hold."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(name: str) -> dict[str, Any]:
    raw: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    if True in raw:  # YAML 1.1 reads the key `on` as True
        raw["on"] = raw.pop(True)
    return raw


def _actionlint() -> Path:
    exe = ROOT / ".tools" / "go" / "bin" / "actionlint"
    if not exe.is_file():
        message = "actionlint is not built (.ci/setup-tests act builds it from the Go module proxy; needs Go)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return exe


@pytest.mark.act  # actionlint is built from the Go module proxy: the workflows tier
def test_workflows_pass_actionlint() -> None:
    assert len(WORKFLOWS) == 3
    proc = subprocess.run([str(_actionlint()), "-format", "{{json .}}", *map(str, WORKFLOWS)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert json.loads(proc.stdout or "[]") == [], proc.stdout
    assert proc.returncode == 0, proc.stderr


@pytest.mark.act  # actionlint is built from the Go module proxy: the workflows tier
def test_actionlint_really_lints(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    steps:\n      - run: echo ${{ matrix.nope }}\n")
    proc = subprocess.run([str(_actionlint()), str(bad)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1 and "runs-on" in proc.stdout


@pytest.mark.parametrize("name", [w.name for w in WORKFLOWS])
def test_least_privilege_and_no_stored_aws_keys(name: str) -> None:
    doc = load(name)
    assert doc["permissions"] == {"contents": "read"}, "workflow-wide permissions are read-only"
    text = (ROOT / ".github" / "workflows" / name).read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "aws-secret-access-key" not in text
    for job_name, job in doc["jobs"].items():
        for step in job.get("steps", []):
            if "configure-aws-credentials" in step.get("uses", ""):
                assert "role-to-assume" in step["with"], job_name
                assert job["permissions"].get("id-token") == "write", job_name
            assert "${{ matrix" not in step.get("run", ""), "matrix values reach scripts through env, never inline"


def test_deploys_are_serialized_per_stack_and_never_cancelled() -> None:
    for name, job in (("deploy.yml", "deploy"), ("cleanup.yml", "destroy")):
        concurrency = load(name)["jobs"][job]["concurrency"]
        assert concurrency == {"group": "stack-${{ matrix.stack }}", "cancel-in-progress": False}


def test_pipeline_shape() -> None:
    pr, deploy, cleanup = load("pull-request.yml"), load("deploy.yml"), load("cleanup.yml")
    assert set(pr["on"]["pull_request"]["types"]) == {"opened", "synchronize", "reopened", "ready_for_review"}
    assert pr["jobs"]["plan"]["needs"] == "test" and pr["jobs"]["preview"]["needs"] == "plan"
    assert deploy["jobs"]["plan"]["needs"] == "test" and deploy["jobs"]["deploy"]["needs"] == "plan"
    assert "fromJSON(needs.plan.outputs.matrix)" in pr["jobs"]["preview"]["strategy"]["matrix"]
    assert set(deploy["on"]) == {"push", "schedule", "workflow_dispatch"}
    assert set(deploy["on"]["workflow_dispatch"]["inputs"]) == {"stack", "operation", "sha", "reason", "allow_stateful_changes", "accept_plan_change",
                                                                      "accept_over_budget"}
    assert "delete" in cleanup["on"]
    # fork PRs: credentials only for same-repository pull requests
    aws = [s for s in pr["jobs"]["preview"]["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert aws[0]["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    # tiers (README "Tests"): every tier on the pull request, side by side; the deploy gate runs fast and cli only
    assert pr["jobs"]["test"]["strategy"]["matrix"]["tier"] == ["fast", "cli", "k8s", "db", "act"]
    assert [s.get("run") for s in pr["jobs"]["test"]["steps"] if s.get("run")] == ['bash .ci/test "$TIER"']
    gate = [s.get("run") for s in deploy["jobs"]["test"]["steps"] if s.get("run")]
    assert gate == ["bash .ci/test fast", "bash .ci/test cli"]
    heavy = deploy["jobs"]["heavy-tiers"]
    assert [(m["tier"], m.get("group")) for m in heavy["strategy"]["matrix"]["include"]] == [
        ("k8s", None), ("db", None), ("act", None), ("mutation", "guards"), ("mutation", "cost")]
    assert [s.get("run") for s in heavy["steps"] if s.get("run")] == ['bash .ci/test "$TIER" ${GROUP:+"$GROUP"}']
    assert deploy["jobs"]["heavy-tiers"]["if"] == "github.event_name == 'schedule'"
    # timeouts at least the measured time with margin (the comments above each say the figures)
    for doc, job, at_least in ((pr, "test", 60), (deploy, "test", 15), (deploy, "heavy-tiers", 60)):
        assert doc["jobs"][job]["timeout-minutes"] >= at_least, job


def test_jobs_that_deploy_install_the_pinned_cli_as_pulumi_users_do() -> None:
    """Every job that runs the engine on a stack gets the CLI from pulumi/actions at the version the engine pins
    (automation/engines/toolchain.py), never a build from source; only the tiers that build (k8s, act) set up Go."""
    from automation.engines.toolchain import PULUMI_CLI_VERSION

    for name in ("pull-request.yml", "deploy.yml", "cleanup.yml"):
        for job_name, job in load(name)["jobs"].items():
            steps = job.get("steps", [])
            text = json.dumps(steps)
            assert "build-pulumi" not in text, (name, job_name)
            for step in steps:
                if step.get("uses", "").startswith("pulumi/actions@"):
                    assert step["with"]["pulumi-version"] == PULUMI_CLI_VERSION, (name, job_name)
            if "automation run" in text or "automation drift" in text or "automation expire" in text \
                    or "automation destroy" in text or "automation rollback" in text or ".ci/test cli" in text:
                assert "pulumi/actions@v6" in text, (name, job_name)


def test_one_role_per_purpose_chosen_by_the_jobs_environment() -> None:
    """Roles come from the job's GitHub environment (each role trusts only its environment's OIDC `sub`)."""
    pr, deploy, cleanup = load("pull-request.yml"), load("deploy.yml"), load("cleanup.yml")
    assert pr["jobs"]["preview"]["environment"] == "preview"
    env = deploy["jobs"]["deploy"]["environment"]
    assert env == ("${{ matrix.operation == 'preview' && 'preview' || "
                   "(matrix.stack == 'prod' && 'production' || 'integration') }}")
    assert deploy["jobs"]["expire"]["environment"] == cleanup["jobs"]["destroy"]["environment"] == "integration"
    for doc in (pr, deploy, cleanup):
        for job in doc["jobs"].values():
            for step in job.get("steps", []):
                if "configure-aws-credentials" in step.get("uses", ""):
                    assert step["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
                    assert "environment" in job, "a role is only ever read from an environment"


def test_a_rollback_runs_the_old_program_with_the_current_engine() -> None:
    deploy = load("deploy.yml")
    checkout = deploy["jobs"]["test"]["steps"][0]
    assert "with" not in checkout or "ref" not in checkout["with"], "the current engine's tests, not the old commit's"
    run = next(s for s in deploy["jobs"]["deploy"]["steps"] if s.get("name") == "Run")["run"]
    assert 'automation rollback --stack "$STACK" --to "$ROLLBACK_SHA"' in run  # the guarded rollback (a worktree)
    assert "--allow-stateful-changes" in run and '"$ALLOW_STATEFUL" = "true"' in run


def test_day2_jobs_use_the_engines_commands() -> None:
    """Nightly: drift with one issue per stack on the read-only role, remediation of dev only on the deploy role,
    expiry with warnings; merges can be overridden only by a person, with a reason."""
    deploy = load("deploy.yml")
    jobs = deploy["jobs"]
    drift_run = " ".join(s.get("run", "") for s in jobs["drift"]["steps"])
    assert "automation drift --issues" in drift_run and jobs["drift"]["environment"] == "preview"
    assert jobs["drift"]["permissions"]["issues"] == "write"
    remediate_run = " ".join(s.get("run", "") for s in jobs["remediate"]["steps"])
    assert "automation drift --stack dev --remediate --issues" in remediate_run
    assert jobs["remediate"]["environment"] == "integration" and jobs["remediate"]["concurrency"]["group"] == "stack-dev"
    assert "automation expire" in " ".join(s.get("run", "") for s in jobs["expire"]["steps"])
    run = " ".join(s.get("run", "") for s in jobs["deploy"]["steps"])
    assert '--accept-plan-change "$ACCEPT_PLAN_CHANGE"' in run and "${{ inputs.accept_plan_change }}" in json.dumps(jobs["deploy"])
    assert 'accept+=(--accept-over-budget "$ACCEPT_OVER_BUDGET")' in run and "${{ inputs.accept_over_budget }}" in json.dumps(jobs["deploy"])
