"""Every documented failure, driven through ``main()``: its exit code, one clear line, no traceback; and the
reports of operations that finished before a run was stopped are still published."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import filelock
import pytest

from automation.cli.main import main
from automation.engines.memory_engine import MemoryEngine
from tests.support.gitrepo import git, project_repo
from tests.support.paths import EVENTS, ROOT
from tests.support.realcli import require_cli


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Path, Path], tuple[list[str], dict[str, str]]]  # (tmp, repo) -> (argv, environ)
    code: int
    message: str
    needs_cli: bool = False


def _memory(tmp: Path, repo: Path, *extra: str) -> list[str]:
    return ["--project-dir", str(repo), *extra, "--engine", "memory", "--state-dir", str(tmp / "state"),
            "--lock-dir", str(tmp / "locks")]


def _event_dir(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    (tmp / "event").mkdir()
    return ["--project-dir", str(repo), "plan", "--event-name", "push", "--event-path", str(tmp / "event")], {}


def _environments_dir(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    (repo / "environments.yaml").unlink()
    (repo / "environments.yaml").mkdir()
    return ["--project-dir", str(repo), "environments"], {}


def _stack_file_dir(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    (repo / "Pulumi.prod.yaml").unlink()
    (repo / "Pulumi.prod.yaml").mkdir()
    return ["--project-dir", str(repo), "synth", "--stack", "prod"], {}


def _lock_dir_file(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    (tmp / "locks").write_text("not a directory")
    return [*_memory(tmp, repo, "up", "--stack", "dev")], {}


def _state_dir_file(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    (tmp / "state").write_text("not a directory")
    return [*_memory(tmp, repo, "history", "--stack", "dev")], {}


def _github_output_dir(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    (tmp / "out").mkdir()
    sha = git(repo, "rev-parse", "HEAD")
    return (["--project-dir", str(repo), "plan", "--branch", "main", "--sha", sha, "--github-matrix"],
            {"GITHUB_OUTPUT": str(tmp / "out")})


def _dirty(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    (repo / "infra" / "network.py").write_text((repo / "infra" / "network.py").read_text() + "\n# local edit\n")
    return [*_memory(tmp, repo, "up", "--stack", "dev")], {}


def _lock_timeout(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    (tmp / "locks").mkdir()
    lock = filelock.FileLock(str(tmp / "locks" / "dev.lock"))
    lock.acquire()  # held by this test process for the rest of the case
    _HELD.append(lock)
    return [*_memory(tmp, repo, "up", "--stack", "dev"), "--lock-timeout", "0.5"], {}


def _old_cli(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    root = tmp / "old-cli"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "pulumi").write_text("#!/bin/sh\necho v3.100.0\n")
    (root / "bin" / "pulumi").chmod(0o755)
    return (["--project-dir", str(repo), "up", "--stack", "dev", "--lock-dir", str(tmp / "locks")],
            {"GHOST_GITOPS_PULUMI_ROOT": str(root), "PULUMI_CONFIG_PASSPHRASE": "x"})


def _broken_cli(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    root = tmp / "broken-cli"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "pulumi").write_text("#!/bin/sh\necho 'panic: runtime error' >&2\nexit 2\n")
    (root / "bin" / "pulumi").chmod(0o755)
    return (["--project-dir", str(repo), "history", "--stack", "dev"],
            {"GHOST_GITOPS_PULUMI_ROOT": str(root), "PULUMI_CONFIG_PASSPHRASE": "x"})


def _ci_without_backend(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    cli = require_cli()
    return (["--project-dir", str(repo), "up", "--stack", "dev", "--lock-dir", str(tmp / "locks")],
            {"CI": "true", "PULUMI_BACKEND_URL": "", "PULUMI_CONFIG_PASSPHRASE": "x", "HOME": str(tmp),
             "GHOST_GITOPS_PULUMI_ROOT": str(cli.path.parent.parent),
             "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})


def _unknown_stack(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    return [*_memory(tmp, repo, "up", "--stack", "staging")], {}


def _bad_sha(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    return [*_memory(tmp, repo, "up", "--stack", "dev", "--sha", "abc")], {}


def _bad_dispatch_sha(tmp: Path, repo: Path) -> tuple[list[str], dict[str, str]]:
    payload = json.loads((EVENTS / "workflow_dispatch_rollback.json").read_text())
    payload["inputs"]["sha"] = "not-a-sha"
    (tmp / "e.json").write_text(json.dumps(payload))
    return ["--project-dir", str(repo), "plan", "--event-name", "workflow_dispatch", "--event-path", str(tmp / "e.json")], {}


_HELD: list[filelock.FileLock] = []

CASES = [
    Case("event file is a directory", _event_dir, 2, "is a directory, not a JSON file"),
    Case("environments.yaml is a directory", _environments_dir, 2, "is a directory"),
    Case("a stack file is a directory", _stack_file_dir, 2, "is a directory, not a YAML file"),
    Case("--lock-dir is a file", _lock_dir_file, 2, "a file is in the way"),
    Case("--state-dir is a file", _state_dir_file, 2, "a file is in the way"),
    Case("GITHUB_OUTPUT cannot be written", _github_output_dir, 2, "cannot append the matrix"),
    Case("uncommitted changes", _dirty, 2, "uncommitted changes (infra/network.py)"),
    Case("lock held by another operation", _lock_timeout, 3, "gave up after waiting"),
    Case("CLI older than the pinned one", _old_cli, 4, "is version 3.100.0; this engine needs 3.274.1 or newer"),
    Case("broken CLI", _broken_cli, 4, "failed (exit 2)"),
    Case("CI without a state backend", _ci_without_backend, 2, "PULUMI_BACKEND_URL is unset or empty", needs_cli=True),
    Case("unknown stack", _unknown_stack, 2, "unknown stack 'staging'"),
    Case("malformed --sha", _bad_sha, 2, "--sha must be a full 40-character commit SHA"),
    Case("malformed dispatch sha", _bad_dispatch_sha, 2, "workflow_dispatch input `sha`"),
]


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.cli) if c.needs_cli else c for c in CASES],
                         ids=[c.name for c in CASES])
def test_documented_failure(case: Case, tmp_path: Path) -> None:
    repo = project_repo(tmp_path / "repo", ROOT)
    (repo / ".gitignore").write_text(".pulumi-state/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "ignore state")
    try:
        argv, environ = case.setup(tmp_path, repo)
        out, err = io.StringIO(), io.StringIO()
        code = main(argv, environ=environ, out=out, err=err)
    finally:
        while _HELD:
            _HELD.pop().release()
    text = err.getvalue()
    assert code == case.code, text
    assert case.message in text, text
    assert "Traceback" not in text + out.getvalue()
    errors = [line for line in text.splitlines() if line.startswith(("error:", "internal error:"))]
    assert len(errors) == 1, text


def test_a_bug_mid_plan_is_exit_70_and_finished_reports_are_still_published(tmp_path: Path) -> None:
    """The nightly drift check previews dev, then prod; a bug during the second still publishes the first."""
    repo = project_repo(tmp_path / "repo", ROOT)
    summary = tmp_path / "summary.md"
    real_preview = MemoryEngine.preview
    calls: list[str] = []

    def preview(self: MemoryEngine, target: Any, progress: Any) -> Any:
        calls.append(target.stack)
        if len(calls) == 2:
            raise KeyError("injected bug")
        return real_preview(self, target, progress)

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(MemoryEngine, "preview", preview):
        code = main([*_memory(tmp_path, repo, "run", "--event-name", "schedule", "--event-path",
                              str(EVENTS / "schedule.json")), "--json"],
                    environ={"GITHUB_STEP_SUMMARY": str(summary)}, out=out, err=err)
    assert code == 70, err.getvalue()
    reports = json.loads(out.getvalue())["reports"]
    assert [(r["stack"], r["status"]) for r in reports] == [(calls[0], "succeeded"), (calls[1], "failed")]
    assert "internal error" in reports[1]["error"] and "KeyError" in reports[1]["error"]
    assert calls[0] in summary.read_text() and calls[1] in summary.read_text()
    assert "Traceback" not in err.getvalue()


def test_a_failed_preview_still_names_the_data_holding_resource_it_had_planned_to_replace(tmp_path: Path) -> None:
    """Failure injection for what the real pulumi-kubernetes provider does (tests/real/test_k8s_real.py, test 4): it plans
    to replace a volume claim, then its dry run of the replacement is refused and the preview fails."""
    from automation.model.changes import ResourceChange
    from automation.model.errors import OperationFailed

    repo = project_repo(tmp_path / "repo", ROOT)
    claim = ResourceChange("urn:pulumi:dev::ghost-gitops::ghost:apps:Ghost$kubernetes:core/v1:PersistentVolumeClaim::"
                           "ghost-content", "kubernetes:core/v1:PersistentVolumeClaim", "ghost-content", "replace")
    config = ResourceChange("urn:pulumi:dev::ghost-gitops::ghost:apps:Ghost$kubernetes:core/v1:ConfigMap::ghost-config",
                            "kubernetes:core/v1:ConfigMap", "ghost-config", "update", ("data",))

    def preview(self: MemoryEngine, target: Any, progress: Any) -> Any:
        raise OperationFailed("preview of dev failed: spec is immutable after creation", planned=(config, claim))

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(MemoryEngine, "preview", preview):
        code = main([*_memory(tmp_path, repo, "preview", "--stack", "dev"), "--json"], environ={}, out=out, err=err)
    assert code == 1, err.getvalue()
    (report,) = json.loads(out.getvalue())["reports"]
    assert report["status"] == "failed" and "spec is immutable" in report["error"]
    assert report["notes"] == ["⚠️ before failing, it had planned to replace ghost-content "
                               "(kubernetes:core/v1:PersistentVolumeClaim), which holds data"], report["notes"]
