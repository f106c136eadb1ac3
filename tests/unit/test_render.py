"""PR comments as golden files, the 65,536-character limit, and what is called out at the top."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from automation.engines.port import resource_op
from automation.model.changes import PropertyChange, ResourceChange
from automation.model.outcome import Outcome
from automation.review.redact import Redactor
from automation.review.render import COMMENT_LIMIT, Report, Status, change_text, marker, render_markdown, render_text
from tests.support.paths import GOLDEN
from tests.support.program import check_golden


def change(op: str, type_: str, name: str, keys: tuple[str, ...] = (), *props: PropertyChange) -> ResourceChange:
    return ResourceChange(f"urn:pulumi:dev::ghost-gitops::{type_}::{name}", type_, name, resource_op(op), keys,
                          properties=props)


CONTAINER = "spec.template.spec.containers[0]"


PREVIEW = Outcome(
    stack="dev", operation="preview", succeeded=True, duration_s=42.0,
    counts={"create": 1, "update": 4, "replace": 1, "same": 50},
    changes=(
        change("update", "kubernetes:apps/v1:Deployment", "ghost-deployment", ("spec",),
               PropertyChange(f"{CONTAINER}.image", "ghost:6.65.0-alpine", "ghost:6.66.0-alpine"),
               PropertyChange(f"{CONTAINER}.resources.limits.memory", "768Mi", "1Gi")),
        change("replace", "aws:rds/instance:Instance", "dev-mysql", ("dbName", "instanceClass"),
               PropertyChange("dbName", "ghost", "ghost_dev", forces_replacement=True),
               PropertyChange("instanceClass", "db.t4g.micro", "db.t4g.small")),
        change("create", "kubernetes:networking.k8s.io/v1:NetworkPolicy", "ghost-netpol"),
        change("update", "aws:ec2/subnet:Subnet", "dev-private-0", ("tags",),
               PropertyChange('tags["cost-center"]', "platform", "platform-dev"), PropertyChange("tags.team", None, "blog")),
        change("update", "kubernetes:core/v1:ConfigMap", "ghost-db-bootstrap", ("data",),
               PropertyChange('data["bootstrap.js"]', "const a = 1;\nconst b = 2;\nrun(a, b);\n",
                              "const a = 1;\nconst b = 3;\nrun(a, b);\n")),
        change("update", "kubernetes:core/v1:Secret", "ghost-db", ("stringData",),
               PropertyChange("stringData", "[secret]", "[secret]")),
        change("same", "aws:ec2/vpc:Vpc", "dev-vpc"),
    ),
    diff="",
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
    check_golden(path, text)


def test_comment_starts_with_its_marker_and_calls_out_stateful_losses() -> None:
    text = render_markdown(CASES["preview_with_replacement"])
    assert text.startswith(marker("dev"))
    warning = text.split("\n\n")[2]
    assert "[!WARNING]" in warning and "aws:rds/instance:Instance" in warning and "dev-mysql" in warning
    rows = [line for line in text.splitlines() if line.startswith("| replace") or line.startswith("| update")]
    assert rows[0].startswith("| replace ⚠️ | `aws:rds/instance:Instance`"), "destructive changes sort first"
    assert "dev-vpc" not in text, "unchanged resources are counted, not listed"
    assert "| 1 | 4 | 1 | 0 | 50 |" in text
    # the replacement's cause at the top, with its values; every changed value below, old → new
    top = text.split("#### Changed values")[0].split("| create |")[0]
    assert "`dev-mysql` (replace because of `dbName` (`ghost` → `ghost_dev`))" in top
    for row in (f"| `{CONTAINER}.image` | `ghost:6.65.0-alpine` | `ghost:6.66.0-alpine` |",
                f"| `{CONTAINER}.resources.limits.memory` | `768Mi` | `1Gi` |",
                "| `instanceClass` | `db.t4g.micro` | `db.t4g.small` |",
                "| `dbName` ⚠️ forces replacement | `ghost` | `ghost_dev` |",
                '| `tags["cost-center"]` | `platform` | `platform-dev` |', "| `tags.team` | *(none)* | `blog` |",
                "| `stringData` | `[secret]` | `[secret]` |"):
        assert row in text, row
    assert "~~~~diff\n@@ -1,3 +1,3 @@\n const a = 1;\n-const b = 2;\n+const b = 3;\n run(a, b);\n~~~~" in text


def test_offline_comment_is_labelled() -> None:
    text = render_markdown(CASES["offline_fork"])
    assert "Offline structural diff" in text and "[!NOTE]" in text and "evaluated offline" in text


def huge_preview(resources: int, values_per_resource: int = 40) -> Outcome:
    changes = tuple(change("update", "kubernetes:core/v1:ConfigMap", f"config-{i:05d}", ("data", "metadata"),
                           *(PropertyChange(f"data.key{j}", "x" * 60, "y" * 60) for j in range(values_per_resource)))
                    for i in range(resources))
    return Outcome(stack="dev", operation="preview", succeeded=True, changes=changes,
                   counts={"update": resources, "delete": 0}, diff=change_text(changes))


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
        assert "config-00499" in text, "500 rows fit; the values are what gets trimmed"
        assert "#### Changed values" in text and "| `data.key0` | `xxxx" in text
        assert "more changed values of" in text and "not shown (the job log and `--json` have them all)" in text
    else:
        assert "more changes not shown" in text
    assert text.endswith("</sub>")


def test_markdown_injection_in_names_and_values_is_neutralised() -> None:
    outcome = Outcome(stack="dev", operation="preview", succeeded=True, counts={"create": 1, "update": 1},
                      changes=(change("create", "x:y:Z", "a|b<script>"),
                               change("update", "x:y:Z", "c", ("v",), PropertyChange("v", "a`b|c", "``<b>|"),
                                      PropertyChange("script", "~~~~\n```\n", "~~~~\n```\nx\n"))))
    text = render_markdown(Report(stack="dev", operation="preview", status=Status.SUCCEEDED, reason="r|s", outcome=outcome))
    assert "a\\|b&lt;script&gt;" in text and "<script>" not in text
    assert "| `v` | ``a`b\\|c`` | ``` ``<b>\\| ``` |" in text, "a value cannot end its code span or its table cell"
    assert text.count("~~~~") == 2, "a multi-line value cannot close its fence early"


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
    """One diff (automation.model.snapshot) behind the memory engine's preview and the offline PR diff, and one
    diff text, with the values of changed inputs only where both snapshots are known (the offline diff)."""
    from automation.config.stackconfig import StackConfig
    from automation.engines.memory_engine import MemoryEngine
    from automation.engines.port import Progress, Target
    from automation.model.snapshot import Resource, count, diff, snapshot

    old = snapshot([Resource("urn:a", "t", "a", {"x": 1, "y": 2}), Resource("urn:b", "t", "b", {})])
    new = snapshot([Resource("urn:a", "t", "a", {"x": 1, "y": 3, "z": 0}), Resource("urn:c", "t", "c", {})])
    changes = diff(old, new)
    assert [(c.urn, c.op, c.keys) for c in changes] == [
        ("urn:a", "update", ("y", "z")), ("urn:b", "delete", ()), ("urn:c", "create", ())]
    assert changes[0].properties == (PropertyChange("y", "2", "3"), PropertyChange("z", None, "0"))
    assert count(changes) == {"update": 1, "delete": 1, "create": 1}
    assert change_text(changes).splitlines() == ["~ t a [y, z]", "      y: 2 → 3", "      z: (none) → 0", "- t b", "+ t c"]
    programs = iter([old, new])
    engine = MemoryEngine(tmp_path / "state", lambda _target: (next(programs), {}))
    target = Target(stack="dev", config=StackConfig(stack="dev", project="p", values={}, secret_keys=frozenset(),
                                                    source="test"))
    engine.up(target, Progress(io.StringIO()))
    preview = engine.preview(target, Progress(io.StringIO()))
    assert preview.changes == changes and preview.counts == count(changes) and preview.diff == change_text(changes)


def test_golden_files_are_never_rewritten_in_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 28: with UPDATE_GOLDEN set, CI fails instead of rewriting (and so passing) the comparison."""
    golden = tmp_path / "g.md"
    golden.write_text("old\n")
    monkeypatch.setenv("UPDATE_GOLDEN", "1")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="UPDATE_GOLDEN is set in CI"):
        check_golden(golden, "new\n")
    assert golden.read_text() == "old\n"
    monkeypatch.setenv("CI", "")
    check_golden(golden, "new\n")
    assert golden.read_text() == "new\n"
