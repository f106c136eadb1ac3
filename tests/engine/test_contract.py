"""The JSON contract of every command: ``schema_version``, ``command`` and each command's own keys, pinned.

Commands run through ``main`` where they can run here in-process (the memory engine, a copy of the project
in a git repository); ``status``/``recover`` (the Pulumi engine only), ``rollback`` and ``bootstrap`` (AWS) are
rendered from their result types, which is exactly what their commands return (their real runs are in
tests/real/test_real_engine.py and tests/engine/test_bootstrap.py).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from automation.adapters.bootstrap import BootstrapResult, Step
from automation.cli.main import main
from automation.cli.output import render
from automation.cli.results import SCHEMA_VERSION, BootstrapOutput, ReportsOutput, StatusOutput
from automation.engines.pulumi_repair import StackStatus
from automation.review.render import Report, Status
from tests.support.gitrepo import project_repo
from tests.support.paths import ROOT

REPORT_KEYS = {"stack", "operation", "status", "reason", "offline", "commit", "message", "error", "notes", "counts",
               "changes", "outputs", "duration_s", "health", "rollback", "cost",
               "policy"}
CONTRACT: dict[str, set[str]] = {
    "environments": {"rules", "infra_paths", "routes"},
    "plan": {"operations", "event", "changed_files_source"},
    "up": {"reports"},
    "preview": {"reports"},
    "history": {"stack", "updates"},
    "drift": {"reports"},
    "expire": {"operations", "event"},
    "extend": {"stack", "expires_after", "by"},
    "doctor": {"checks", "exit_code"},
    "versions": {"stacks", "issues"},
    "status": {"stack", "exists", "locks", "pending_operations", "advice", "restored"},
    "recover": {"stack", "exists", "locks", "pending_operations", "advice", "restored"},
    "rollback": {"reports"},
    "synth": {"stack", "resources", "outputs", "policy"},
    "cost": {"stack", "region", "table_as_of", "priced_from", "notes", "versions", "monthly_usd", "unpriced", "usage_not_assumed", "lines", "free",
             "budget_monthly_usd", "over_budget"},
    "bootstrap": {"backend_url", "secrets_provider", "role_arns", "changed", "steps"},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    tmp = tmp_path_factory.mktemp("contract")
    yield project_repo(tmp / "repo", ROOT), tmp / "state"


def _json(*argv: str, code: int = 0) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    got = main(list(argv), environ={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}, out=out, err=err)
    assert got == code, (got, err.getvalue())
    doc: dict[str, Any] = json.loads(out.getvalue())
    return doc


def _check(command: str, doc: dict[str, Any]) -> None:
    assert doc["schema_version"] == SCHEMA_VERSION and doc["command"] == command, doc
    assert set(doc) - {"schema_version", "command"} == CONTRACT[command], (command, sorted(doc))
    for report in doc.get("reports", []):
        assert set(report) == REPORT_KEYS, sorted(report)
        assert report["status"] in {s.value for s in Status}


def test_every_command_s_json_is_pinned(project: tuple[Path, Path]) -> None:
    repo, state = project
    engine = ["--engine", "memory", "--state-dir", str(state), "--lock-dir", str(state.parent / "locks")]
    at = ["--project-dir", str(repo)]
    _check("environments", _json(*at, "environments", "--json", "main", "dev/alice", "nowhere"))
    _check("plan", _json(*at, "plan", "--branch", "main", "--sha", "a" * 40, "--changed-file", "infra/network.py"))
    _check("preview", _json(*at, "preview", "--stack", "dev", "--json", *engine))
    _check("cost", _json(*at, "cost", "--stack", "prod", "--format", "json"))
    _check("synth", _json("synth", "--stack", "prod", "--policy", "--json"))
    _check("up", _json(*at, "up", "--stack", "dev", "--json", *engine))
    _check("up", _json(*at, "up", "--stack", "dev-alice", "--json", *engine))
    _check("history", _json(*at, "history", "--stack", "dev", "--json", *engine))
    _check("drift", _json(*at, "drift", "--stack", "dev", "--json", *engine))
    _check("expire", _json(*at, "expire", "--dry-run", "--remote", "", *engine))
    _check("extend", _json(*at, "extend", "--stack", "dev-alice", "--days", "3", "--json", *engine))
    # doctor with no Pulumi CLI to find (no HOME cache, no CLI on this PATH): exit 4, and still its JSON
    _check("doctor", _json("doctor", "--json", code=4))
    _check("versions", _json(*at, "versions", "--json"))


def test_result_types_without_a_local_run_render_the_same_envelope() -> None:
    status = StackStatus("dev", True, ({"pid": 1, "username": "ci", "hostname": "h", "timestamp": "t", "alive": False},),
                         ({"type": "creating", "urn": "urn:x"},), "recover")
    _check("status", json.loads(render(StatusOutput(status), as_json=True)))
    _check("recover", json.loads(render(StatusOutput(status, command="recover"), as_json=True)))
    report = Report(stack="dev", operation="up", status=Status.SUCCEEDED, reason="rollback from a to b")
    _check("rollback", json.loads(render(ReportsOutput("rollback", (report,), 0), as_json=True)))
    boot = BootstrapResult("s3://b?region=r", "awskms://alias/x?region=r", {"preview": "arn:aws:iam::1:role/p"},
                           (Step("S3 bucket b", "created"),))
    _check("bootstrap", json.loads(render(BootstrapOutput(boot), as_json=True)))


def test_text_and_json_pass_the_redactor() -> None:
    from automation.review.redact import Redactor

    report = Report(stack="dev", operation="up", status=Status.FAILED, reason="r", error="token ghs_abcdef123456 leaked",
                    notes=(f"at {datetime.now(UTC):%Y}",))
    redact = Redactor(["ghs_abcdef123456"])
    for as_json in (True, False):
        text = render(ReportsOutput("up", (report,), 1), as_json=as_json, redact=redact)
        assert "ghs_abcdef123456" not in text and "[secret]" in text
