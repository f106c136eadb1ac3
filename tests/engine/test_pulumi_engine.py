"""Failure injection for the Automation API adapter (autospec of the real ``pulumi.automation`` classes) and
the CLI checks against small fake ``pulumi`` executables. The adapter's real behaviour is proven on the real
CLI in tests/real/test_real_engine.py; these tests cover the failures that cannot be produced on demand there."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from pulumi import automation as auto
from pulumi.automation import events as ev

from automation.config.environments import load_environments
from automation.engines.port import Progress, Target
from automation.engines.pulumi_engine import PulumiEngine, aware
from automation.engines.pulumi_events import EventCollector
from automation.engines.toolchain import PULUMI_CLI_VERSION
from automation.model.errors import OperationFailed, PulumiCliMissing, StackBusyError
from tests.support.paths import ROOT

ENVS = load_environments(ROOT)
REAL_COMMAND = auto.PulumiCommand


@pytest.fixture
def stack() -> Any:
    return mock.create_autospec(auto.Stack, instance=True)


@pytest.fixture
def patched(stack: Any) -> Any:
    """The adapter's Automation API classes (pulumi_lean.lean_types, as the adapter names it) replaced: every stack opened is ``stack``; the
    command answers `stack output --json` (masked, as the CLI prints it) and `stack tag ls`."""
    from automation.engines.pulumi_lean import lean_types

    command = mock.create_autospec(auto.PulumiCommand, instance=True)

    def run(args: list[str], *_: Any, **__: Any) -> auto.CommandResult:
        if args[:3] == ["stack", "output", "--json"]:
            return auto.CommandResult(stdout=json.dumps({"ghostUrl": "http://x", "kubeconfig": "[secret]"}), stderr="", code=0)
        return auto.CommandResult(stdout="{}", stderr="", code=0)

    command.run.side_effect = run
    opened: list[tuple[str, Any]] = []

    def open_stack(name: str, _workspace: Any, mode: Any) -> Any:
        opened.append((name, mode))
        return stack

    lean = SimpleNamespace(Command=lambda *_: command, Workspace=lambda **_: mock.Mock(), Stack=open_stack,
                           Mode=lean_types().Mode)
    with mock.patch("automation.engines.pulumi_engine.lean_types", return_value=lean):
        yield {"command": command, "opened": opened}


def target(name: str = "dev", message: str = "main@abc1234: t (#1) by a, approved by b") -> Target:
    return Target(stack=name, config=ENVS.stack_config(ROOT, name), message=message,
                  tags={"branch": "main", "commit": "a" * 40}, commit="a" * 40)


def fake_cli(tmp_path: Path, version: str = PULUMI_CLI_VERSION, exit_code: int = 0) -> Path:
    """A directory with bin/pulumi that only answers `version` (failure injection, never a deployment)."""
    root = tmp_path / f"cli-{version or 'none'}-{exit_code}"
    (root / "bin").mkdir(parents=True, exist_ok=True)
    exe = root / "bin" / "pulumi"
    exe.write_text(f"#!/bin/sh\necho 'v{version}'\nexit {exit_code}\n" if version else f"#!/bin/sh\nexit {exit_code}\n")
    exe.chmod(0o755)
    return root


def engine(tmp_path: Path, **kw: Any) -> PulumiEngine:
    kw.setdefault("cli_root", str(fake_cli(tmp_path)))
    return PulumiEngine(ROOT, backend_url=(tmp_path / "state").as_uri(),
                        environ={"PULUMI_CONFIG_PASSPHRASE": "x", "GHOST_GITOPS_CACHE": str(tmp_path / "cache")}, **kw)


def up_result() -> auto.UpResult:
    summary = auto.UpdateSummary(kind="update", start_time=datetime.now(UTC), message="m", environment={}, config={},
                                 result="succeeded", resource_changes={ev.OpType.CREATE: 2})
    return auto.UpResult(stdout="", stderr="", summary=summary,
                         outputs={"ghostUrl": auto.OutputValue("http://x", False), "kubeconfig": auto.OutputValue("{...}", True)})


def test_a_diy_backend_lock_becomes_stack_busy_with_the_recovery_steps(tmp_path: Path, patched: Any, stack: Any) -> None:
    stack.up.side_effect = auto.CommandError(auto.CommandResult(stdout="", stderr=(
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete "
        "the lock file with `pulumi cancel`."), code=255))
    with pytest.raises(StackBusyError, match=r"pulumi cancel --yes --stack dev"):
        engine(tmp_path).up(target(), Progress(io.StringIO()))


def test_up_runs_with_show_secrets_off_and_writes_tags_after_success(tmp_path: Path, patched: Any, stack: Any) -> None:
    stack.up.return_value = up_result()
    outcome = engine(tmp_path).up(target(), Progress(io.StringIO()))
    assert stack.up.call_args.kwargs["show_secrets"] is False
    stack.set_tag.assert_any_call("gitops:commit", "a" * 40)
    # no outputs event here: read back masked, never with --show-secrets
    assert outcome.outputs == {"ghostUrl": "http://x", "kubeconfig": "[secret]"}
    assert not any("--show-secrets" in call.args[0] for call in patched["command"].run.call_args_list)
    stack.up.side_effect = auto.CommandError(auto.CommandResult(stdout="", stderr="error: boom", code=1))
    stack.set_tag.reset_mock()
    with pytest.raises(OperationFailed):
        engine(tmp_path).up(target(), Progress(io.StringIO()))
    stack.set_tag.assert_not_called()  # a failed up records nothing as deployed


@pytest.mark.parametrize(("version", "code", "message"), [
    ("3.100.0", 0, f"is version 3.100.0; this engine needs {PULUMI_CLI_VERSION} or newer"),
    ("", 0, "not a release version"),
    ("4.0.0", 0, "another major version"),
    (PULUMI_CLI_VERSION, 3, "failed (exit 3)"),
])
def test_a_too_old_or_broken_cli_is_exit_4_with_found_and_needed(tmp_path: Path, version: str, code: int, message: str) -> None:
    eng = engine(tmp_path, cli_root=str(fake_cli(tmp_path, version, code)))
    error = eng.unavailable()
    assert isinstance(error, PulumiCliMissing) and error.exit_code == 4
    assert message in str(error)


def test_the_cli_version_is_asked_once_per_binary(tmp_path: Path) -> None:
    """`pulumi version` runs once per binary (path, size, mtime); a changed binary is asked again; a cache that
    cannot be written only costs the question."""
    from automation.engines.toolchain import known_cli_version

    root = fake_cli(tmp_path)
    exe = root / "bin" / "pulumi"
    calls = tmp_path / "calls"
    exe.write_text(f"#!/bin/sh\necho x >> {calls}\necho 'v{PULUMI_CLI_VERSION}'\n")
    env = {"GHOST_GITOPS_CACHE": str(tmp_path / "cache")}
    assert [known_cli_version(exe, env) for _ in range(3)] == [f"v{PULUMI_CLI_VERSION}"] * 3
    assert calls.read_text().count("x") == 1
    exe.write_text(f"#!/bin/sh\necho x >> {calls}\necho 'v3.300.0'\n")  # upgraded in place: other size/mtime
    assert known_cli_version(exe, env) == "v3.300.0" and calls.read_text().count("x") == 2
    (tmp_path / "ro").write_text("not a directory")
    unwritable = {"GHOST_GITOPS_CACHE": str(tmp_path / "ro" / "cache")}
    assert known_cli_version(exe, unwritable) == "v3.300.0" and calls.read_text().count("x") == 3


def test_no_cli_anywhere_says_how_to_build_it(tmp_path: Path) -> None:
    eng = PulumiEngine(ROOT, backend_url=(tmp_path / "state").as_uri(),
                       environ={"PULUMI_CONFIG_PASSPHRASE": "x", "GHOST_GITOPS_CACHE": str(tmp_path / "c"), "PATH": "/usr/bin:/bin"})
    error = eng.unavailable()
    assert isinstance(error, PulumiCliMissing) and "bash .ci/build-pulumi" in str(error)
    offline = PulumiEngine(ROOT, backend_url=(tmp_path / "state").as_uri(), install_cli=True,
                           environ={"GHOST_GITOPS_CACHE": str(tmp_path / "c"), "PATH": "/usr/bin:/bin"})
    with mock.patch.object(auto.PulumiCommand, "install", side_effect=OSError("network unreachable")):
        error = offline.unavailable()
    assert isinstance(error, PulumiCliMissing) and "installer failed" in str(error) and "network unreachable" in str(error)


def test_naive_sdk_times_become_aware_utc() -> None:
    assert aware(datetime(2026, 11, 1, 12, 0)) == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert aware(None) is None


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


def test_a_replacement_in_several_steps_is_one_row_and_keys_fall_back_to_inputs() -> None:
    collector = EventCollector(Progress(io.StringIO()), planning=True, stateful=lambda t, n: n == "database")
    urn = "urn:pulumi:dev::fixture::pulumi-python:dynamic:Resource::database"
    for op in (ev.OpType.CREATE_REPLACEMENT, ev.OpType.REPLACE, ev.OpType.DELETE_REPLACED):
        meta = ev.StepEventMetadata(op=op, urn=urn, type="pulumi-python:dynamic:Resource", provider="p", keys=["db_name"],
                                    old=ev.StepEventStateMetadata(type="t", urn=urn, id="1", parent="", provider="p",
                                                                  inputs={"db_name": "a", "x": 1}, outputs={}),
                                    new=ev.StepEventStateMetadata(type="t", urn=urn, id="1", parent="", provider="p",
                                                                  inputs={"db_name": "b", "x": 1}, outputs={}))
        collector(ev.EngineEvent(sequence=1, timestamp=0, resource_pre_event=ev.ResourcePreEvent(meta)))
    (change,) = collector.changes.values()
    assert (change.op, change.keys, change.stateful_loss) == ("replace", ("db_name",), True)
    update = ev.StepEventMetadata(op=ev.OpType.UPDATE, urn=urn + "2", type="t", provider="p",
                                  old=ev.StepEventStateMetadata(type="t", urn=urn, id="1", parent="", provider="p",
                                                                inputs={"content": "a", "cloud_dir": "/c"}, outputs={}),
                                  new=ev.StepEventStateMetadata(type="t", urn=urn, id="1", parent="", provider="p",
                                                                inputs={"content": "b", "cloud_dir": "/c"}, outputs={}))
    collector(ev.EngineEvent(sequence=2, timestamp=0, resource_pre_event=ev.ResourcePreEvent(update)))
    assert collector.changes[urn + "2"].keys == ("content",)


def test_the_pack_is_the_launcher_of_a_built_cli_or_the_directory_for_a_release_with_its_language_host(
        tmp_path: Path) -> None:
    """A CLI built by .ci/build-pulumi has no language host: the CLI is given its launcher; a Pulumi release
    (pulumi/actions on a runner) ships pulumi-language-python, which runs the pack directory itself; neither: exit 4."""
    from automation.engines.toolchain import LANGUAGE_HOST, POLICY_PACK_LAUNCHER, PULUMI_CLI_VERSION
    from automation.model.errors import ToolMissing

    bin_dir = tmp_path / "cli" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "pulumi").write_text(f"#!/bin/sh\necho v{PULUMI_CLI_VERSION}\n")
    (bin_dir / "pulumi").chmod(0o755)

    def engine() -> PulumiEngine:
        return PulumiEngine(ROOT, backend_url=(tmp_path / "state").as_uri(), cli_root=str(tmp_path / "cli"),
                            environ={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})

    with pytest.raises(ToolMissing, match=f"no {LANGUAGE_HOST} beside"):
        engine()._policy_launcher()
    (bin_dir / LANGUAGE_HOST).write_text("#!/bin/sh\n")
    assert engine()._policy_launcher() == ROOT / "policypack"
    (bin_dir / POLICY_PACK_LAUNCHER).write_text("#!/bin/sh\n")
    assert engine()._policy_launcher() == bin_dir / POLICY_PACK_LAUNCHER
