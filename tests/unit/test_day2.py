"""Day-2 building blocks, table-tested: the plan fingerprint and its verdict, the health probe on a real local server."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.adapters.health import probe
from automation.engines.port import resource_op
from automation.model.changes import ResourceChange
from automation.model.health import HealthSpec
from automation.review.fingerprint import PlanEntry, Review, fingerprint, judge, parse_marker
from tests.support import health_server
from tests.support.health_server import HealthServer

URN = "urn:pulumi:dev::ghost::aws:rds/instance:Instance::ghost-db"


def _change(op: str, keys: tuple[str, ...] = (), urn: str = URN) -> ResourceChange:
    return ResourceChange(urn, "aws:rds/instance:Instance", urn.rsplit("::", 1)[-1], resource_op(op), keys)


def test_fingerprint_merges_replacement_steps_and_ignores_unchanged() -> None:
    fp = fingerprint([_change("same", urn=URN + "x"), _change("create-replacement", ("engineVersion",)),
                      _change("delete-replaced")])
    assert fp.entries == (PlanEntry(URN, "replace", ("engineVersion",)),)
    assert fingerprint([_change("replace", ("engineVersion",))]).digest == fp.digest
    assert fingerprint([_change("update", ("engineVersion",))]).digest != fp.digest
    assert fingerprint([_change("update", ("a", "b"))]).digest == fingerprint([_change("update", ("b", "a"))]).digest


def test_marker_round_trips_and_a_hand_edited_marker_is_ignored() -> None:
    fp = fingerprint([_change("update", ("allocatedStorage",))])
    sha = "a" * 40
    text = f"<!-- ghost-gitops:report stack=dev -->\n{fp.marker('dev', sha)}\n### table"
    reviewed = parse_marker(text, "dev")
    assert reviewed is not None and reviewed.digest == fp.digest and reviewed.commit == sha
    assert reviewed.entries == fp.entries
    assert parse_marker(text, "prod") is None
    tampered = text.replace(fp.digest, "0" * 64)
    assert parse_marker(tampered, "dev") is None


@pytest.mark.parametrize(("review", "mode", "ok", "says"), [
    (None, "check", True, "not checked"),
    (None, "require", False, "no reviewed plan"),
    (Review(None, None, None), "require", False, "direct push"),
    (Review(7, None, None), "check", True, "#7 has no cloud preview"),
    (Review(None, None, None, unavailable="no GitHub access"), "check", True, "no GitHub access"),
    (Review(7, None, None), "off", True, "off"),
])
def test_verdict_without_a_reviewed_plan(review: Review | None, mode: str, ok: bool, says: str) -> None:
    verdict = judge(review, fingerprint(()), mode)  # type: ignore[arg-type]
    assert verdict.ok is ok and says in verdict.summary


def test_verdict_compares_plans_and_the_reviewed_commit() -> None:
    reviewed_fp = fingerprint([_change("update", ("allocatedStorage",))])
    head = "b" * 40
    plan = parse_marker(reviewed_fp.marker("dev", head), "dev")
    assert judge(Review(7, head, plan), reviewed_fp, "check").ok
    now = fingerprint([_change("replace", ("engineVersion",))])
    verdict = judge(Review(7, head, plan), now, "check")
    assert not verdict.ok and "#7" in verdict.summary
    assert verdict.differences == ("- update aws:rds/instance:Instance ghost-db [allocatedStorage]",
                                   "+ replace aws:rds/instance:Instance ghost-db [engineVersion]")
    stale = judge(Review(7, "c" * 40, plan), reviewed_fp, "check")
    assert not stale.ok and "never previewed" in stale.summary


@pytest.mark.parametrize(("mode", "booting", "healthy", "attempts", "detail"), [
    ("healthy", 0, True, 1, "HTTP 200"),
    ("booting", 2, True, 3, "HTTP 200"),
    ("down", 0, False, None, "last answer: HTTP 503"),
    ("redirect", 0, True, 1, "after 1 redirect(s)"),
    ("loop", 0, False, None, "redirects"),
])
def test_probe_against_a_local_server(mode: str, booting: int, healthy: bool, attempts: int | None, detail: str) -> None:
    with health_server.serve(HealthServer(mode=mode, booting_left=booting)) as server:
        result = probe(server.url, HealthSpec(timeout_s=0.5, interval_s=0.05, headers={"X-Forwarded-Proto": "https"}))
    assert result.healthy is healthy and detail in result.detail, result
    if attempts is not None:
        assert result.attempts == attempts
    else:
        assert result.attempts > 1, "an unhealthy answer is retried until the timeout"


def test_probe_sends_the_configured_headers() -> None:
    """Ghost behind a TLS load balancer redirects a request without X-Forwarded-Proto to https: the header matters."""
    with health_server.serve(HealthServer(require_https_header=True)) as server:
        with_header = probe(server.url, HealthSpec(timeout_s=0.3, interval_s=0.05, headers={"X-Forwarded-Proto": "https"}))
        without = probe(server.url, HealthSpec(timeout_s=0.3, interval_s=0.05))
    assert with_header.healthy
    assert not without.healthy and "ConnectError" in without.detail, without.detail


def test_probe_without_a_url_or_server_is_unhealthy_and_says_why() -> None:
    assert "exports no usable `healthUrl`" in probe("", HealthSpec()).detail
    with health_server.serve(HealthServer()) as server:
        url = server.url
    closed = probe(url, HealthSpec(timeout_s=0.2, interval_s=0.05))
    assert not closed.healthy and "ConnectError" in closed.detail


def test_interrupts_forward_sigint_then_kill_after_the_grace_or_a_second_signal() -> None:
    import signal
    import time

    from automation.adapters.interrupt import Interrupts

    sent: list[tuple[int, int]] = []
    lines: list[str] = []
    handler = Interrupts(lines.append, grace_s=0.2, children=lambda: [4242], kill=lambda pid, sig: sent.append((pid, sig)),
                         tree=lambda pids: [4343] if pids == [4242] else [])
    assert handler() is None
    handler.handle(signal.SIGTERM)
    assert handler() == "SIGTERM" and sent == [(4242, signal.SIGINT)]
    time.sleep(0.5)
    assert sent[-2:] == [(4242, signal.SIGKILL), (4343, signal.SIGKILL)], "its provider plugins go with it"
    assert "did not stop within 0.2s" in lines[-1]
    again = Interrupts(lines.append, grace_s=60, children=lambda: [7], kill=lambda pid, sig: sent.append((pid, sig)),
                       tree=lambda pids: [])
    again.handle(signal.SIGTERM)
    again.handle(signal.SIGTERM)
    assert sent[-2:] == [(7, signal.SIGINT), (7, signal.SIGKILL)]


def test_cli_children_finds_only_pulumi_children_of_the_process(tmp_path: Path) -> None:
    import subprocess
    import time

    from automation.adapters.interrupt import cli_children, descendants

    sleeper = subprocess.Popen(["sh", "-c", "sleep 5 & wait"])
    try:
        assert sleeper.pid not in cli_children(), "only processes named pulumi are stopped"
        assert cli_children(parent=sleeper.pid) == []
        deadline = time.monotonic() + 5
        while not descendants([sleeper.pid]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(descendants([sleeper.pid])) == 1, "the shell's own child is found"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_engine_knows_every_resource_step_the_sdk_reports() -> None:
    """An SDK upgrade adding a step kind fails here, not in the middle of a deployment."""
    from pulumi.automation.events import OpType

    from automation.model.changes import RESOURCE_OPS

    assert {o.value for o in OpType} == RESOURCE_OPS
    assert resource_op(OpType.CREATE_REPLACEMENT) == "create-replacement"
    with pytest.raises(Exception, match="does not know"):
        resource_op("teleport")
