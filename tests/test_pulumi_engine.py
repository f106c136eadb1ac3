"""The Automation API adapter, checked against the real ``pulumi.automation`` classes (autospec), and run
for real against the local backend wherever a ``pulumi`` CLI is on PATH."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from pulumi import automation as auto
from pulumi.automation import events as ev

from automation.engine import Progress, StackBusyError, Target
from automation.environments import load_environments
from automation.errors import OperationFailed, PulumiCliMissing
from automation.pulumi_engine import PULUMI_CLI_VERSION, EventCollector, PulumiEngine
from tests.conftest import ROOT

ENVS = load_environments(ROOT)
REAL_COMMAND = auto.PulumiCommand


@pytest.fixture
def stack() -> Any:
    return mock.create_autospec(auto.Stack, instance=True)


@pytest.fixture
def patched(stack: Any) -> Any:
    command = mock.create_autospec(auto.PulumiCommand, instance=True)
    with mock.patch.object(auto, "PulumiCommand", autospec=True) as cmd_cls, \
         mock.patch.object(auto, "create_or_select_stack", autospec=True) as create, \
         mock.patch.object(auto, "select_stack", autospec=True) as select:
        cmd_cls.return_value = command
        create.return_value = stack
        select.return_value = stack
        yield {"cmd_cls": cmd_cls, "create": create, "select": select, "command": command}


def target(name: str = "dev", message: str = "main@abc1234: t (#1) by a, approved by b") -> Target:
    return Target(stack=name, config=ENVS.stack_config(ROOT, name), message=message,
                  tags={"branch": "main", "commit": "a" * 40}, commit="a" * 40)


def engine(tmp_path: Path, **kw: Any) -> PulumiEngine:
    return PulumiEngine(ROOT, backend_url=(tmp_path / "state").as_uri(), environ={"PULUMI_CONFIG_PASSPHRASE": "x"}, **kw)


def up_result() -> auto.UpResult:
    summary = auto.UpdateSummary(kind="update", start_time=datetime.now(UTC), message="m", environment={}, config={},
                                 result="succeeded", resource_changes={ev.OpType.CREATE: 2})
    return auto.UpResult(stdout="", stderr="", summary=summary,
                         outputs={"ghostUrl": auto.OutputValue("http://x", False), "kubeconfig": auto.OutputValue("{...}", True)})


def test_up_calls_the_real_api_with_show_secrets_off(tmp_path: Path, patched: Any, stack: Any) -> None:
    stack.up.return_value = up_result()
    outcome = engine(tmp_path).up(target(), Progress(io.StringIO()))
    patched["cmd_cls"].assert_called_once()
    assert str(patched["cmd_cls"].call_args.kwargs["version"]) == PULUMI_CLI_VERSION
    kwargs = patched["create"].call_args.kwargs
    assert kwargs["stack_name"] == "dev" and kwargs["work_dir"] == str(ROOT)
    opts = kwargs["opts"]
    assert isinstance(opts, auto.LocalWorkspaceOptions)
    assert opts.env_vars is not None and opts.env_vars["PULUMI_BACKEND_URL"] == (tmp_path / "state").as_uri()
    assert opts.pulumi_command is patched["command"]
    up_kwargs = stack.up.call_args.kwargs
    assert up_kwargs["show_secrets"] is False
    assert up_kwargs["message"] == "main@abc1234: t (#1) by a, approved by b"
    assert isinstance(up_kwargs["on_event"], EventCollector)
    stack.set_tag.assert_any_call("gitops:branch", "main")
    stack.set_tag.assert_any_call("gitops:commit", "a" * 40)
    stack.set_all_config.assert_not_called()  # dev has its own stack file
    assert outcome.outputs == {"ghostUrl": "http://x", "kubeconfig": "[secret]"}
    assert outcome.counts == {"create": 2}


def test_personal_stack_gets_template_config_plus_derived_values(tmp_path: Path, patched: Any, stack: Any) -> None:
    stack.preview.return_value = auto.PreviewResult(stdout="", stderr="", change_summary={ev.OpType.CREATE: 16})
    engine(tmp_path).preview(target("dev-alice"), Progress(io.StringIO()))
    (config,), _ = stack.set_all_config.call_args
    assert config["ghost-gitops:ghostNamespace"].value == "ghost-alice"
    assert config["ghost-gitops:environment"].value == "personal"
    assert config["aws:region"].value == "us-east-1"
    assert all(isinstance(v, auto.ConfigValue) for v in config.values())
    assert "on_event" in stack.preview.call_args.kwargs


def test_destroy_removes_the_stack_and_hides_secrets(tmp_path: Path, patched: Any, stack: Any) -> None:
    stack.destroy.return_value = mock.create_autospec(auto.DestroyResult, instance=True)
    engine(tmp_path).destroy(target("dev-alice"), Progress(io.StringIO()))
    kwargs = stack.destroy.call_args.kwargs
    assert kwargs["remove"] is True and kwargs["show_secrets"] is False


def test_refresh_and_history_hide_secrets(tmp_path: Path, patched: Any, stack: Any) -> None:
    stack.refresh.return_value = mock.create_autospec(auto.RefreshResult, instance=True)
    engine(tmp_path).refresh(target(), Progress(io.StringIO()))
    assert stack.refresh.call_args.kwargs["show_secrets"] is False
    stack.history.return_value = [auto.UpdateSummary(
        kind="update", start_time=datetime(2026, 11, 1, tzinfo=UTC), end_time=datetime(2026, 11, 1, 0, 5, tzinfo=UTC),
        message="main@abc: x", environment={"git.head": "c" * 40}, config={}, result="succeeded", version=7,
        resource_changes={ev.OpType.UPDATE: 1})]
    (entry,) = engine(tmp_path).history("dev", 5)
    assert stack.history.call_args.kwargs == {"page_size": 5, "page": 1, "show_secrets": False}
    assert (entry.version, entry.commit, entry.counts) == (7, "c" * 40, {"update": 1})
    assert engine(tmp_path).deployed_commit("dev") == "c" * 40


def test_concurrent_update_becomes_stack_busy(tmp_path: Path, patched: Any, stack: Any) -> None:
    stack.up.side_effect = auto.ConcurrentUpdateError(auto.CommandResult(stdout="", stderr="conflict", code=255))
    with pytest.raises(StackBusyError, match="update in progress"):
        engine(tmp_path).up(target(), Progress(io.StringIO()))


def test_command_errors_become_operation_failed(tmp_path: Path, patched: Any, stack: Any) -> None:
    stack.up.side_effect = auto.CommandError(auto.CommandResult(stdout="", stderr="line1\nerror: quota exceeded", code=1))
    with pytest.raises(OperationFailed, match=r"up of dev failed: .*quota exceeded"):
        engine(tmp_path).up(target(), Progress(io.StringIO()))


def test_tags_unsupported_by_the_backend_are_a_note(tmp_path: Path, patched: Any, stack: Any) -> None:
    stack.set_tag.side_effect = auto.CommandError(auto.CommandResult(stdout="", stderr="not supported", code=1))
    stack.up.return_value = up_result()
    log = io.StringIO()
    engine(tmp_path).up(target(), Progress(log))
    assert "does not support stack tags" in log.getvalue()


def test_missing_cli_says_how_to_get_it(tmp_path: Path) -> None:
    with mock.patch.object(auto, "PulumiCommand", autospec=True) as cmd_cls:
        cmd_cls.side_effect = FileNotFoundError("pulumi")
        with pytest.raises(PulumiCliMissing, match=f"--version {PULUMI_CLI_VERSION}"):
            engine(tmp_path).up(target(), Progress(io.StringIO()))
        assert isinstance(engine(tmp_path).unavailable(), PulumiCliMissing)
        cmd_cls.install.return_value = mock.create_autospec(REAL_COMMAND, instance=True)
        assert engine(tmp_path, install_cli=True).unavailable() is None
        assert str(cmd_cls.install.call_args.kwargs["version"]) == PULUMI_CLI_VERSION


def test_event_collector_streams_steps_from_real_events() -> None:
    log = io.StringIO()
    clock = iter([0.0, 1.0, 1.5, 3.0, 3.5, 4.0, 5.0, 6.0])
    collector = EventCollector(Progress(log, clock=lambda: next(clock)), planning=False)
    urn = "urn:pulumi:dev::ghost-gitops::ghost:apps:Ghost$kubernetes:apps/v1:Deployment::ghost-deployment"
    meta = ev.StepEventMetadata(op=ev.OpType.UPDATE, urn=urn, type="kubernetes:apps/v1:Deployment", provider="p",
                                diffs=["spec"])
    collector(ev.EngineEvent(sequence=1, timestamp=0, resource_pre_event=ev.ResourcePreEvent(meta)))
    collector(ev.EngineEvent(sequence=2, timestamp=0, res_outputs_event=ev.ResOutputsEvent(meta)))
    collector(ev.EngineEvent(sequence=3, timestamp=0, summary_event=ev.SummaryEvent(
        maybe_corrupt=False, duration_seconds=7, resource_changes={ev.OpType.UPDATE: 1, ev.OpType.SAME: 40}, policy_packs={})))
    assert next(iter(collector.changes.values())).keys == ("spec",)
    assert collector.counts == {"update": 1, "same": 40} and collector.duration_s == 7.0
    assert "update   kubernetes:apps/v1:Deployment ghost-deployment: done in" in log.getvalue()


@pytest.mark.integration
def test_real_automation_api_against_the_local_backend(tmp_path: Path) -> None:
    """Runs only where a pulumi CLI exists: a tiny project through the real adapter, local file backend."""
    if shutil.which("pulumi") is None:
        pytest.skip("no `pulumi` CLI on PATH: the real Automation API cannot run here (no Pulumi CLI or provider plugins "
                    "can be installed on these machines); the autospec tests above check the calls")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: it\nruntime:\n  name: python\n")
    (project / "Pulumi.dev.yaml").write_text("config: {}\n")
    (project / "environments.yaml").write_text("environments:\n  - {branch: main, stack: dev, kind: environment}\n")
    (project / "__main__.py").write_text("import pulumi\npulumi.export('hello', 'world')\n"
                                         "pulumi.export('s', pulumi.Output.secret('CANARY-it-secret'))\n")
    eng = PulumiEngine(project, backend_url=(tmp_path / "state").as_uri(), environ={"PULUMI_CONFIG_PASSPHRASE": "it"})
    with mock.patch.dict("os.environ", {"PULUMI_CONFIG_PASSPHRASE": "it"}):
        cfg = load_environments(project).stack_config(project, "dev")
        t = Target(stack="dev", config=cfg, message="main@0000000: it", commit=None)
        log = io.StringIO()
        assert eng.preview(t, Progress(log)).succeeded
        outcome = eng.up(t, Progress(log))
        assert outcome.outputs == {"hello": "world", "s": "[secret]"}
        assert "CANARY-it-secret" not in log.getvalue()
        (entry,) = eng.history("dev", 5)
        assert entry.message == "main@0000000: it" and entry.result == "succeeded"
        eng.destroy(t, Progress(log))
