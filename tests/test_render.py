"""PR comments as golden files, the 65,536-character limit, and what is called out at the top."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from automation.engine import Outcome, ResourceChange, resource_op
from automation.render import COMMENT_LIMIT, Redactor, Report, Status, marker, render_markdown, render_text

GOLDEN = Path(__file__).parent / "golden"


def change(op: str, type_: str, name: str, keys: tuple[str, ...] = ()) -> ResourceChange:
    return ResourceChange(f"urn:pulumi:dev::ghost-gitops::{type_}::{name}", type_, name, resource_op(op), keys)


PREVIEW = Outcome(
    stack="dev", operation="preview", succeeded=True, duration_s=42.0,
    counts={"create": 1, "update": 2, "replace": 1, "same": 50},
    changes=(
        change("update", "kubernetes:apps/v1:Deployment", "ghost-deployment", ("spec",)),
        change("replace", "aws:rds/instance:Instance", "dev-mysql", ("engineVersion",)),
        change("create", "kubernetes:networking.k8s.io/v1:NetworkPolicy", "ghost-netpol"),
        change("update", "aws:ec2/subnet:Subnet", "dev-private-0", ("tags",)),
        change("same", "aws:ec2/vpc:Vpc", "dev-vpc"),
    ),
    diff="~ kubernetes:apps/v1:Deployment ghost-deployment [spec]\n+- aws:rds/instance:Instance dev-mysql [engineVersion]",
)

CASES = {
    "preview_with_replacement": Report(stack="dev", operation="preview", status=Status.SUCCEEDED,
                                       reason="pull request #12 into main (synchronize)", outcome=PREVIEW, commit="b" * 40),
    "up_succeeded": Report(stack="prod", operation="up", status=Status.SUCCEEDED, reason="push to production: 1 infrastructure file(s) changed",
                           outcome=Outcome(stack="prod", operation="up", succeeded=True, counts={"update": 1, "same": 63},
                                           changes=(change("update", "kubernetes:apps/v1:Deployment", "ghost-deployment", ("spec",)),),
                                           duration_s=95.5),
                           commit="c" * 40, message="production@ccccccc: New theme (#31) by alice, approved by bob, carol"),
    "offline_fork": Report(stack="dev", operation="preview", status=Status.SUCCEEDED, offline=True,
                           reason="pull request #40 from a fork: no cloud credentials, offline structural diff only",
                           outcome=Outcome(stack="dev", operation="preview", succeeded=True, counts={"delete": 1, "same": 53},
                                           changes=(change("delete", "kubernetes:core/v1:PersistentVolumeClaim", "ghost-content"),),
                                           diff="- kubernetes:core/v1:PersistentVolumeClaim ghost-content")),
    "failed": Report(stack="dev", operation="up", status=Status.FAILED, reason="push to main", commit="d" * 40,
                     error="up of dev failed: creating RDS instance: InvalidParameterCombination | x"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_comment_golden(name: str) -> None:
    text = render_markdown(CASES[name])
    path = GOLDEN / f"{name}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"rendering changed; review and re-run with UPDATE_GOLDEN=1 ({path})"


def test_comment_starts_with_its_marker_and_calls_out_stateful_losses() -> None:
    text = render_markdown(CASES["preview_with_replacement"])
    assert text.startswith(marker("dev"))
    warning = text.split("\n\n")[2]
    assert "[!WARNING]" in warning and "aws:rds/instance:Instance" in warning and "dev-mysql" in warning
    rows = [line for line in text.splitlines() if line.startswith("| replace") or line.startswith("| update")]
    assert rows[0].startswith("| replace ⚠️ | `aws:rds/instance:Instance`"), "destructive changes sort first"
    assert "dev-vpc" not in text, "unchanged resources are counted, not listed"
    assert "| 1 | 2 | 1 | 0 | 50 |" in text


def test_offline_comment_is_labelled() -> None:
    text = render_markdown(CASES["offline_fork"])
    assert "Offline structural diff" in text and "[!NOTE]" in text and "evaluated offline" in text


def huge_preview(resources: int, diff_lines_per_resource: int = 40) -> Outcome:
    changes = tuple(change("update", "kubernetes:core/v1:ConfigMap", f"config-{i:05d}", ("data", "metadata"))
                    for i in range(resources))
    diff = "\n".join(f"~ kubernetes:core/v1:ConfigMap config-{i:05d}\n" +
                     "\n".join(f"-     data.key{j}: \"{'x' * 60}\"" for j in range(diff_lines_per_resource))
                     for i in range(resources))
    return Outcome(stack="dev", operation="preview", succeeded=True, changes=changes,
                   counts={"update": resources, "delete": 0}, diff=diff)


@pytest.mark.parametrize("resources", [500, 5000])
def test_huge_preview_stays_under_githubs_limit_with_the_summary_kept(resources: int) -> None:
    outcome = huge_preview(resources)
    assert len(outcome.diff) > COMMENT_LIMIT * 10
    text = render_markdown(Report(stack="dev", operation="preview", status=Status.SUCCEEDED, reason="big", outcome=outcome))
    assert len(text) < COMMENT_LIMIT
    assert len(text.encode("utf-8")) < COMMENT_LIMIT + 2000
    assert text.startswith(marker("dev"))
    assert f"| 0 | {resources} | 0 | 0 | 0 |" in text, "the counts survive"
    assert "#### Changed resources" in text
    if resources == 500:
        assert "config-00499" in text, "500 rows fit; the diff is what gets trimmed"
        assert "diff trimmed" in text
    else:
        assert "more changes not shown" in text
    assert text.endswith("</sub>")


def test_markdown_injection_in_names_is_neutralised() -> None:
    outcome = Outcome(stack="dev", operation="preview", succeeded=True, counts={"create": 1},
                      changes=(change("create", "x:y:Z", "a|b<script>"),), diff="~~~~\n```")
    text = render_markdown(Report(stack="dev", operation="preview", status=Status.SUCCEEDED, reason="r|s", outcome=outcome))
    assert "a\\|b&lt;script&gt;" in text and "<script>" not in text
    assert text.count("~~~~") == 2, "a diff cannot close the fence early"


def test_redactor_masks_known_secrets_everywhere() -> None:
    redact = Redactor.from_environ({"GITHUB_TOKEN": "ghs_abcdef123456", "PATH": "/usr/bin", "DB_PASSWORD": "hunter2hunter2"})
    report = Report(stack="dev", operation="up", status=Status.FAILED, reason="x", error="token ghs_abcdef123456 and hunter2hunter2")
    for text in (render_markdown(report, redact=redact), render_text(report, redact=redact)):
        assert "ghs_abcdef123456" not in text and "hunter2hunter2" not in text and "[secret]" in text
    assert "/usr/bin" == redact("/usr/bin")


def test_nothing_to_do_renders_briefly() -> None:
    text = render_markdown(Report(stack="dev", operation="none", status=Status.NONE, reason="no infrastructure path changed"))
    assert text.startswith(marker("dev")) and "Nothing to do for `dev`" in text and "no infrastructure path changed" in text


def test_one_diff_for_the_memory_engine_the_offline_diff_and_the_renderer(tmp_path: Path) -> None:
    """One diff (automation.snapshot) behind the memory engine's preview and the offline PR diff, and one
    diff text, with the values of changed inputs only where both snapshots are known (the offline diff)."""
    from automation.engine import Progress, Target
    from automation.memory_engine import MemoryEngine
    from automation.snapshot import Resource, change_lines, count, diff, snapshot
    from automation.stackconfig import StackConfig

    old = snapshot([Resource("urn:a", "t", "a", {"x": 1, "y": 2}), Resource("urn:b", "t", "b", {})])
    new = snapshot([Resource("urn:a", "t", "a", {"x": 1, "y": 3, "z": 0}), Resource("urn:c", "t", "c", {})])
    changes = diff(old, new)
    assert [(c.urn, c.op, c.keys) for c in changes] == [
        ("urn:a", "update", ("y", "z")), ("urn:b", "delete", ()), ("urn:c", "create", ())]
    assert count(changes) == {"update": 1, "delete": 1, "create": 1}
    assert change_lines(changes, old, new).splitlines() == [
        "~ t a [y, z]", "-     y: 2", "+     y: 3", "-     z: null", "+     z: 0", "- t b", "+ t c"]
    assert change_lines(changes) == "~ t a [y, z]\n- t b\n+ t c"
    programs = iter([old, new])
    engine = MemoryEngine(tmp_path / "state", lambda _target: (next(programs), {}))
    target = Target(stack="dev", config=StackConfig(stack="dev", project="p", values={}, secret_keys=frozenset(),
                                                    source="test"))
    engine.up(target, Progress(io.StringIO()))
    preview = engine.preview(target, Progress(io.StringIO()))
    assert preview.changes == changes and preview.counts == count(changes) and preview.diff == change_lines(changes)
