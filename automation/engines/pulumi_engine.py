"""The Automation API adapter: the only module that imports ``pulumi.automation``.

- the project runs as an inline program (:mod:`automation.engines.program`) with ``work_dir=<project root>``:
  the CLI reads and validates ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` as for any project;
- the CLI is the pinned one found by :mod:`automation.engines.toolchain` (exit 4 when missing or too old);
- state in the local file backend by default (``file://<repo>/.pulumi-state``), or any backend URL;
- the passphrase secrets provider by default (``PULUMI_CONFIG_PASSPHRASE``), or ``awskms://...``;
- ``show_secrets=False`` on every call that accepts it; output reaches us only as engine events;
- read-only operations never write: a preview of a stack that does not exist yet runs on a stack
  created for it and removed right after; tags are written only after a successful ``up``;
- a personal stack's file is written from its template (:func:`automation.config.stackconfig.personal_document`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from automation.config.stackconfig import ENGINE_WRITTEN_HEADER
from automation.engines.diy_backend import damaged_message, is_damaged, restore_checkpoint
from automation.engines.plugins import missing_message, missing_plugin
from automation.engines.port import Progress, Target
from automation.engines.pulumi_events import EventCollector, counts_from_result, op_counts
from automation.engines.toolchain import (
    LANGUAGE_HOST,
    POLICY_PACK_ENV,
    POLICY_PACK_LAUNCHER,
    PULUMI_CLI_VERSION,
    CliChoice,
    aws_cli,
    check_version,
    engine_environment,
    find_cli,
    known_cli_version,
)
from automation.model.errors import AutomationError, ConfigError, OperationFailed, PolicyDenied, PulumiCliMissing, StackBusyError, StackMissing, ToolMissing
from automation.model.outcome import HistoryEntry, Outcome, StackInfo
from automation.review.render import change_text

DEFAULT_STATE_DIR = ".pulumi-state"
TAG_PREFIX = "gitops:"
#: What the DIY (file://, s3://) backends say when another update holds the stack's lock.
_LOCKED = re.compile(r"the stack is currently locked by \d+ lock\(s\)", re.IGNORECASE)
#: Environment the CLI needs passed through from ours (never printed).
_PASS_THROUGH = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN", "HOME",
                 "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "PULUMI_HOME")


def default_backend_url(root: Path) -> str:
    return (root / DEFAULT_STATE_DIR).resolve().as_uri()


def aware(value: datetime | None) -> datetime | None:
    """The SDK parses CLI times into naive datetimes that are UTC: make them aware (one format everywhere)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def recovery_hint(stack: str) -> str:
    return (f"`python -m automation status --stack {stack}` shows who holds the lock; if no other update of {stack} "
            f"is running (for example a run that was killed), `python -m automation recover --stack {stack} --yes` "
            f"clears it (the same as `pulumi cancel --yes --stack {stack}` then "
            f"`pulumi refresh --stack {stack} --clear-pending-creates`, with the same PULUMI_BACKEND_URL)")


class PulumiEngine:
    runs_applications = True
    runs_policy_pack = True

    def __init__(self, root: Path, *, backend_url: str | None = None, secrets_provider: str | None = None,
                 cli_root: str | None = None, install_cli: bool = False, environ: Mapping[str, str] | None = None,
                 stateful: Callable[[str, str], bool] | None = None, refuse_local_state: bool = False) -> None:
        """
        :param refuse_local_state: refuse operations that write state to the default local backend (CI=true with
            no backend URL: the state would be thrown away with the runner).
        """
        self.root = root.resolve()
        self.refuse_local_state = refuse_local_state
        self.backend_url = backend_url or default_backend_url(root)
        self.secrets_provider = secrets_provider
        self.cli_root = cli_root
        self.install_cli = install_cli
        self.environ = dict(environ or {})
        self.stateful = stateful
        self._cmd: Any = None
        self._choice: CliChoice | None = None
        #: stack -> all its tags as read in this run (None: it does not exist); consumed by the next operation
        self._tag_cache: dict[str, dict[str, str] | None] = {}

    # -- plumbing -------------------------------------------------------------------------------
    def _command(self) -> Any:
        from pulumi.automation import PulumiCommand
        from semver import VersionInfo

        if self._cmd is not None:
            return self._cmd
        version = VersionInfo.parse(PULUMI_CLI_VERSION)
        try:
            choice = find_cli(self.environ, self.cli_root, check=False)
        except PulumiCliMissing:
            if not self.install_cli:
                raise
            try:
                self._cmd = PulumiCommand.install(version=version)
            except Exception as exc:  # noqa: BLE001 - the installer downloads; any failure means "no CLI"
                raise PulumiCliMissing(f"--install-cli: Pulumi's installer failed ({type(exc).__name__}: "
                                       f"{str(exc).strip()[-300:]}); build the CLI with `bash .ci/build-pulumi`") from None
            return self._cmd
        found = known_cli_version(choice.path, self.environ)
        check_version(choice.path, found)  # exit 4 with the version found and the one needed
        self._cmd = _lean_types().Command(str(choice.path), VersionInfo.parse(found.lstrip("v")))
        self._choice = replace(choice, version=found.lstrip("v"))
        return self._cmd

    def describe_cli(self) -> CliChoice:
        self._command()
        if self._choice is None:
            raise PulumiCliMissing("the Pulumi CLI was installed by --install-cli; run `doctor` again to see it")
        return self._choice

    def unavailable(self) -> AutomationError | None:
        """Why a cloud operation cannot run here (the error to raise), or None."""
        try:
            self._command()
        except PulumiCliMissing as exc:
            return exc
        if not (self.secrets_provider or self.environ.get("PULUMI_CONFIG_PASSPHRASE") is not None
                or self.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE") or self.backend_url.startswith("https:")):
            return ConfigError("no secrets provider: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) "
                               "or pass --secrets-provider")
        return None

    def preflight(self, tools: tuple[str, ...]) -> AutomationError | None:
        """The aws CLI pulumi-eks needs where it runs (its version check and ``aws eks get-token``)."""
        if "aws" in tools:
            _, problem = aws_cli(self.environ)
            if problem is not None:
                return ToolMissing(f"{problem}; install it (e.g. `pip install awscli`) where the engine runs "
                                   "(environments.yaml: defaults.tools)")
        return None

    def _env(self) -> dict[str, str]:
        env = {"PULUMI_BACKEND_URL": self.backend_url, "PULUMI_SKIP_UPDATE_CHECK": "true",
               "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true"}  # checked ourselves, once, in _command
        env.update({k: self.environ[k] for k in _PASS_THROUGH if k in self.environ})
        if self._choice is not None:
            env.update(engine_environment(self._choice, sys.executable, self.root, self.environ))
        from automation.review.policy import pack_dir

        pack = pack_dir(self.root)
        if pack is not None:
            env[POLICY_PACK_ENV] = str(pack)  # the launcher runs this directory's pack
        return env

    def _policy_launcher(self) -> Path:
        """What the CLI is given as the project's policy pack: the launcher beside a CLI built by .ci/build-pulumi
        (such a CLI has no language host), else the pack directory when the CLI is a release with its Python language
        host (pulumi/actions, the official installer: the host runs the pack); exit 4 with neither."""
        from automation.review.policy import pack_dir

        self._command()
        if self._choice is None:
            raise ToolMissing("the project has a policy pack: run the engine with the CLI built by `bash .ci/build-pulumi`, "
                              "which writes its policy launcher")
        launcher = self._choice.path.parent / POLICY_PACK_LAUNCHER
        if launcher.is_file():
            return launcher
        pack = pack_dir(self.root)
        if pack is not None and (self._choice.path.parent / LANGUAGE_HOST).is_file():
            return pack
        raise ToolMissing(f"the project has a policy pack but {launcher} is missing and there is no {LANGUAGE_HOST} "
                          f"beside {self._choice.path}: the launcher is written by `bash .ci/build-pulumi` (run it "
                          "again); a Pulumi release (pulumi/actions) brings its language host")

    def _workspace_options(self) -> Any:
        from pulumi.automation import LocalWorkspaceOptions

        cmd = self._command()
        if self.backend_url.startswith("file:"):
            try:
                Path(self.backend_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"backend {self.backend_url}: cannot create the state directory ({exc})") from None
        return LocalWorkspaceOptions(work_dir=str(self.root), env_vars=self._env(), secrets_provider=self.secrets_provider,
                                     pulumi_command=cmd)

    def _write_personal_file(self, target: Target) -> None:
        """Write a personal stack's file from its template, with the shared stack named as the backend names it."""
        personal = target.config.personal
        if personal is None:
            return
        try:
            shared = self.fully_qualified(personal.template)
        except StackMissing:
            raise StackMissing(f"personal stack {target.stack} runs on the shared stack {personal.template}, which does "
                               f"not exist in {self.backend_url}: deploy {personal.template} first") from None
        doc = dict(target.config.document)
        doc["config"] = {**doc.get("config", {}), f"{target.config.project}:sharedStack": shared}
        text = ENGINE_WRITTEN_HEADER + "\n" + yaml.safe_dump(doc, sort_keys=False)
        (self.root / f"Pulumi.{target.stack}.yaml").write_text(text, encoding="utf-8")

    def _project(self) -> str:
        return target_project(self.root)

    def _open(self, target: Target, *, create: bool) -> Any:
        """Select the stack (creating it only when ``create``); raises StackMissing otherwise. No CLI process when
        this run has just read the stack's tags (it exists, and every command names it with ``--stack``)."""
        from pulumi import automation as auto

        from automation.engines.program import inline_program

        self._write_personal_file(target)
        lean = _lean_types()
        known = self._tag_cache.get(target.stack, _UNREAD)
        opts = self._workspace_options()
        workspace = lean.Workspace(existing={target.stack} if isinstance(known, dict) else set(), work_dir=opts.work_dir,
                                   program=inline_program(self.root), env_vars=opts.env_vars,
                                   secrets_provider=opts.secrets_provider, pulumi_command=opts.pulumi_command)
        if isinstance(known, dict) or not create:
            mode = lean.Mode.SELECT
        else:
            mode = lean.Mode.CREATE if known is None else lean.Mode.CREATE_OR_SELECT
        try:
            stack = lean.Stack(target.stack, workspace, mode)
        except auto.StackNotFoundError:
            raise StackMissing(f"stack {target.stack} does not exist in {self.backend_url}") from None
        except auto.CommandError as exc:
            raise _backend_error(f"cannot open stack {target.stack}", exc) from None
        if known is None or known is _UNREAD:
            self._tag_cache.pop(target.stack, None)  # created, or not read: its tags are read when needed
        return stack

    def _read_tags(self, stack: str) -> dict[str, str] | None:
        """All tags of ``stack`` (one ``stack tag ls``), None when the stack does not exist; remembered for the
        operation that follows in this run (an ``up`` then needs no ``stack select`` and no second read).
        :raises CommandError: the backend cannot list tags."""
        from pulumi import automation as auto

        try:
            result = self._command().run(["stack", "tag", "ls", "--json", "--stack", stack, "--non-interactive"],
                                         str(self.root), self._env())
        except auto.StackNotFoundError:
            self._tag_cache[stack] = None
            return None
        parsed = json.loads(result.stdout or "{}")
        tags = {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
        self._tag_cache[stack] = tags
        return tags

    @contextmanager
    def _stack_for_reading(self, target: Target) -> Iterator[Any]:
        """The stack, or one created for this read only and removed afterwards (a preview writes nothing)."""
        from pulumi import automation as auto

        try:
            stack = self._open(target, create=False)
        except StackMissing:
            pass
        else:
            yield stack
            return
        # Creating a stack writes its secrets settings into Pulumi.<stack>.yaml: keep the file as it was.
        stack_file = self.root / f"Pulumi.{target.stack}.yaml"
        saved = stack_file.read_bytes() if stack_file.is_file() else None
        stack = self._open(target, create=True)
        try:
            yield stack
        finally:
            try:
                stack.workspace.remove_stack(target.stack, preserve_config=True)
            except auto.CommandError:
                pass
            if saved is not None:
                stack_file.write_bytes(saved)
            elif target.config.personal is None:
                stack_file.unlink(missing_ok=True)

    def _write_tags(self, stack: Any, target: Target, progress: Progress) -> None:
        from pulumi import automation as auto

        try:
            known = self._tag_cache.pop(target.stack, None)
            current = known if known is not None else (stack.list_tags() if target.tags else {})
            for key, value in target.tags.items():
                if current.get(f"{TAG_PREFIX}{key}") != value:  # one CLI process per tag: write only changes
                    stack.set_tag(f"{TAG_PREFIX}{key}", value)
        except auto.CommandError:
            progress.message("note: this backend does not support stack tags; they are recorded in the update message")

    def _call(self, target: Target, operation: str, fn: Any, collector: EventCollector, progress: Progress) -> tuple[Outcome, Any]:
        from pulumi import automation as auto

        start = time.monotonic()
        try:
            result = fn()
        except auto.ConcurrentUpdateError:
            raise StackBusyError(f"stack {target.stack} has an update in progress in the state backend; "
                                 + recovery_hint(target.stack)) from None
        except auto.CommandError as exc:
            text = f"{getattr(exc, 'stderr', '')}\n{exc}"
            if _LOCKED.search(text):
                raise StackBusyError(f"stack {target.stack} is locked in the state backend by another update; "
                                     + recovery_hint(target.stack)) from None
            if is_damaged(text):
                progress.summary(target.stack, operation, collector.counts, time.monotonic() - start, False)
                raise OperationFailed(damaged_message(target.stack, self.backend_url, _tail(exc, 1))) from None
            plugin = missing_plugin(text)
            if plugin is not None:  # before the program's own errors: they only echo the cancelled connection
                progress.summary(target.stack, operation, collector.counts, time.monotonic() - start, False)
                raise ToolMissing(f"{operation} of {target.stack}: {missing_message(plugin)}") from None
            if "validating stack config" in text or "validating project" in text:
                raise ConfigError(f"the Pulumi CLI refused the config of {target.stack}: {_tail(exc, 2)}") from None
            violations = collector.violations()
            if any(v.blocking for v in violations):
                progress.summary(target.stack, operation, collector.counts, time.monotonic() - start, False)
                names = sorted({f"{v.policy} ({v.name})" for v in violations if v.blocking})
                raise PolicyDenied(f"{operation} of {target.stack} stopped by the policy pack before any change: "
                                   f"mandatory {', '.join(names)}", violations,
                                   planned=tuple(collector.changes.values())) from None
            detail = "; ".join(collector.errors[-3:]) or _tail(exc)
            progress.summary(target.stack, operation, collector.counts, time.monotonic() - start, False)
            raise OperationFailed(f"{operation} of {target.stack} failed: {detail}",
                                  planned=tuple(collector.changes.values())) from None
        counts = collector.counts or counts_from_result(result)
        duration = collector.duration_s if collector.duration_s is not None else time.monotonic() - start
        progress.summary(target.stack, operation, counts, duration, True)
        outputs: Mapping[str, Any] = {}
        if operation == "up":
            # the stack's outputs as the event stream carried them, secrets blinded by the CLI; read back (masked,
            # never --show-secrets) only if the stream had none
            outputs = collector.stack_outputs if collector.stack_outputs is not None else self._masked_outputs(target.stack)
        diff = change_text(collector.changes.values())
        priced = operation in ("preview", "up")
        return Outcome(stack=target.stack, operation=operation, succeeded=True,
                       changes=tuple(collector.changes.values()), counts=counts, diff=diff, outputs=outputs,
                       duration_s=duration, before=dict(collector.before) if priced else None,
                       after=dict(collector.after) if priced else None, policy=collector.violations()), result

    def _run(self, stack: Any, operation: str, target: Target, progress: Progress, **kwargs: Any) -> Outcome:
        """Run ``Stack.<operation>`` with the audit message, the event stream and no colour, plus ``kwargs``."""
        collector = EventCollector(progress, planning=operation in ("preview", "preview_refresh"), stateful=self.stateful,
                                   refreshing=operation == "preview_refresh")
        method = {"preview": stack.preview, "up": stack.up, "refresh": stack.refresh, "destroy": stack.destroy,
                  "preview_refresh": stack.preview_refresh}[operation]
        with contextlib.ExitStack() as cleanup:
            if operation in ("preview", "up") and target.policy is not None:
                # the project's policy pack, with this stack's levels, waivers and stateful patterns
                config = cleanup.enter_context(tempfile.NamedTemporaryFile(
                    "w", prefix="policy-config-", suffix=".json", encoding="utf-8"))
                json.dump(target.policy.config(), config)
                config.flush()
                kwargs = {**kwargs, "policy_packs": [str(self._policy_launcher())], "policy_pack_configs": [config.name]}
            with progress.heartbeat(collector.in_flight):
                outcome, _ = self._call(target, operation, lambda: method(message=target.message or None,
                                                                          on_event=collector, color="never", **kwargs),
                                        collector, progress)
        return outcome

    # -- operations -----------------------------------------------------------------------------
    def preview(self, target: Target, progress: Progress) -> Outcome:
        with self._stack_for_reading(target) as stack:
            return self._run(stack, "preview", target, progress, diff=False)  # preview takes no show_secrets

    def writable(self) -> AutomationError | None:
        try:
            self._writes_state()
        except ConfigError as exc:
            return exc
        return None

    def _writes_state(self) -> None:
        if self.refuse_local_state:
            raise ConfigError("CI=true but PULUMI_BACKEND_URL is unset or empty: the state would be written into this "
                              "runner's checkout and thrown away with it; set the PULUMI_BACKEND_URL secret (for "
                              "example s3://<bucket>) or pass --backend-url")

    def up(self, target: Target, progress: Progress) -> Outcome:
        self._writes_state()
        stack = self._open(target, create=True)
        outcome = self._run(stack, "up", target, progress, show_secrets=False)
        self._write_tags(stack, target, progress)
        return outcome

    def refresh(self, target: Target, progress: Progress) -> Outcome:
        self._writes_state()
        self._tag_cache.pop(target.stack, None)
        return self._run(self._open(target, create=False), "refresh", target, progress, show_secrets=False)

    def drift(self, target: Target, progress: Progress) -> Outcome:
        """A refresh preview: what the cloud holds that the state does not (writes nothing). Drifted resources are
        the changes whose op is not `same`; their keys are the properties that differ (never values)."""
        return self._run(self._open(target, create=False), "preview_refresh", target, progress, show_secrets=False)

    def destroy(self, target: Target, progress: Progress) -> Outcome:
        self._writes_state()
        self._tag_cache.pop(target.stack, None)
        return self._run(self._open(target, create=False), "destroy", target, progress, show_secrets=False, remove=True)

    def _masked_outputs(self, stack: str) -> dict[str, Any]:
        result = self._command().run(["stack", "output", "--json", "--stack", stack, "--non-interactive"],
                                     str(self.root), self._env())
        parsed = json.loads(result.stdout or "{}")
        return dict(parsed) if isinstance(parsed, dict) else {}

    def _workspace(self) -> Any:
        from pulumi import automation as auto

        opts = self._workspace_options()
        return auto.LocalWorkspace(work_dir=opts.work_dir, env_vars=opts.env_vars,
                                   secrets_provider=opts.secrets_provider, pulumi_command=opts.pulumi_command)

    def history(self, stack: str, limit: int) -> tuple[HistoryEntry, ...]:
        """The stack's updates, newest first; () for a stack that was never deployed."""
        from pulumi import automation as auto

        workspace = self._workspace()
        try:
            entries = auto.Stack.select(stack, workspace).history(page_size=limit, page=1, show_secrets=False)
        except auto.StackNotFoundError:
            return ()
        except auto.CommandError as exc:
            raise _backend_error(f"cannot read the history of {stack}", exc) from None
        return tuple(HistoryEntry(
            version=e.version, kind=e.kind, result=e.result, started=aware(e.start_time) or e.start_time,
            ended=aware(e.end_time), message=e.message or "", counts=op_counts(e.resource_changes),
            commit=(e.environment or {}).get("git.head")) for e in entries)

    def stacks(self) -> tuple[StackInfo, ...]:
        from pulumi import automation as auto

        try:
            listed = self._workspace().list_stacks()
        except auto.CommandError as exc:
            raise _backend_error("cannot list the stacks", exc) from None
        return tuple(StackInfo(name=s.name.rsplit("/", 1)[-1], last_update=aware(s.last_update)) for s in listed)

    def fully_qualified(self, stack: str) -> str:
        """``organization/project/stack`` as the backend names it (asked of the CLI, never assumed)."""
        from pulumi import automation as auto

        if stack not in {s.name for s in self.stacks()}:
            raise StackMissing(f"stack {stack} does not exist in {self.backend_url}")
        try:
            result = self._command().run(["stack", "--show-name", "--fully-qualify-stack-names", "--stack", stack,
                                          "--non-interactive"], str(self.root), self._env())
        except auto.CommandError as exc:
            raise _backend_error(f"cannot read the name of stack {stack}", exc) from None
        return str(result.stdout).strip()

    def status(self, stack: str) -> StackStatus:
        """Locks held on the stack (who, where, since when, whether that process still runs on this host) and the
        operations a killed update left pending, read from the backend; and what is safe to do."""
        from pulumi import automation as auto

        from automation.engines.diy_backend import lock_documents

        try:
            names = {s.name for s in self.stacks()}
        except OperationFailed as exc:
            if not is_damaged(str(exc)):
                raise
            raise OperationFailed(damaged_message(stack, self.backend_url, str(exc).rsplit("|", 1)[-1].strip())
                                  + " (the CLI could not list the stacks: if another stack's checkpoint is the damaged "
                                  "one, name that stack)") from None
        if stack not in names:
            return StackStatus(stack, False, (), (), f"{stack} does not exist in {self.backend_url}: nothing to recover")
        documents = lock_documents(self.backend_url, self._project(), stack, self.environ)
        locks = []
        for content in documents or ():
            here = content.get("hostname") == socket.gethostname()
            alive = _pid_alive(int(content.get("pid", 0))) if here and content.get("pid") else None
            locks.append({"pid": content.get("pid"), "username": content.get("username"),
                          "hostname": content.get("hostname"), "timestamp": content.get("timestamp"), "alive": alive})
        try:
            deployment = auto.Stack.select(stack, self._workspace()).export_stack().deployment or {}
        except auto.CommandError as exc:
            if is_damaged(f"{getattr(exc, 'stderr', '')}\n{exc}"):
                raise OperationFailed(damaged_message(stack, self.backend_url, _tail(exc, 1))) from None
            raise _backend_error(f"cannot export the state of {stack}", exc) from None
        pending = tuple({"type": str(op.get("type")), "urn": str(op.get("resource", {}).get("urn"))}
                        for op in deployment.get("pending_operations") or [])
        if documents is None:
            advice = (f"this engine cannot list the locks of {self.backend_url.split('?', 1)[0]} (file:// and s3:// only): "
                      + ("pending operations remain: run `python -m automation recover --stack "
                         f"{stack} --yes` once no update runs" if pending else "check the backend before operating"))
        elif any(lock["alive"] for lock in locks):
            advice = "an update is running on this host: wait for it; do not recover"
        elif locks or pending:
            advice = (f"no live update holds {stack}: run `python -m automation recover --stack {stack} --yes` "
                      "(cancels the stale lock, then refreshes to clear pending creates)")
        else:
            advice = "not locked and nothing pending: safe to operate"
        return StackStatus(stack, True, tuple(locks), pending, advice)

    def release(self, stack: str) -> str:
        """After an interrupted operation: cancel the lock a stopped CLI left behind (never a live one's)."""
        from pulumi import automation as auto

        status = self.status(stack)
        pending = (f"; {len(status.pending_operations)} pending operation(s) remain: run `python -m automation recover "
                   f"--stack {stack} --yes`" if status.pending_operations else "")
        if not status.locks:
            return f"no lock left on {stack}{pending}"
        if any(lock["alive"] for lock in status.locks):
            return f"the lock on {stack} belongs to a process that still runs: not cancelled{pending}"
        try:
            auto.Stack.select(stack, self._workspace()).cancel()
        except auto.CommandError as exc:
            return f"could not cancel the lock on {stack} ({_tail(exc, 1)}): {recovery_hint(stack)}"
        return f"cancelled the lock the stopped CLI left on {stack}{pending}"

    def recover(self, stack: str, progress: Progress, restore: tuple[str, str] | None = None) -> StackStatus:
        """Cancel a stale lock and clear pending creates (refresh with clear_pending_creates). Refuses when the lock's
        process is still running on this host. Returns the status afterwards.

        :param restore: (who, why): first put back the newest readable version of a damaged checkpoint from the
            bucket's object versions (automation.engines.diy_backend.restore_checkpoint), recorded in the bucket."""
        from datetime import UTC, datetime

        from pulumi import automation as auto

        restored = None
        if restore is not None:
            self._writes_state()  # no `stack ls` first: a damaged checkpoint breaks it; the bucket says what exists
            restored = restore_checkpoint(self.backend_url, self._project(), stack, self.environ, by=restore[0],
                                          reason=restore[1], now=datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ"))
            progress.message(f"recover {stack}: restored the checkpoint saved {restored['restored_version_saved']} "
                             f"(version {restored['restored_version']}); recorded in {restored['audit']}")
        before = self.status(stack)
        if not before.exists:
            raise StackMissing(before.advice)
        if any(lock["alive"] for lock in before.locks):
            raise ConfigError(f"{stack}: {before.advice}")
        self._writes_state()
        stack_obj = auto.Stack.select(stack, self._workspace())
        if before.locks:
            try:
                stack_obj.cancel()
            except auto.CommandError as exc:
                raise _backend_error(f"cannot cancel the lock on {stack}", exc) from None
            progress.message(f"recover {stack}: cancelled {len(before.locks)} stale lock(s)")
        try:
            stack_obj.refresh(clear_pending_creates=True, show_secrets=False, color="never",
                              message=f"recover {stack}: refresh clearing pending creates")
        except auto.CommandError as exc:
            raise _backend_error(f"refresh of {stack} failed while recovering", exc) from None
        progress.message(f"recover {stack}: refreshed ({len(before.pending_operations)} pending operation(s) cleared)")
        return replace(self.status(stack), restored=restored)

    def tags(self, stack: str) -> Mapping[str, str]:
        """The engine's tags of ``stack`` (without the ``gitops:`` prefix); {} for a missing stack."""
        from pulumi import automation as auto

        try:
            listed = self._read_tags(stack)
        except auto.CommandError as exc:
            raise _backend_error(f"cannot read the tags of {stack}", exc) from None
        return {k.removeprefix(TAG_PREFIX): v for k, v in (listed or {}).items() if k.startswith(TAG_PREFIX)}

    def set_tags(self, stack: str, tags: Mapping[str, str]) -> None:
        """Write the engine's tags of ``stack`` (only those that changed: one CLI process each)."""
        from pulumi import automation as auto

        try:
            stack_obj = auto.Stack.select(stack, self._workspace())
            current = stack_obj.list_tags()
            for key, value in tags.items():
                if current.get(f"{TAG_PREFIX}{key}") != value:
                    stack_obj.set_tag(f"{TAG_PREFIX}{key}", value)
            self._tag_cache.pop(stack, None)
        except auto.StackNotFoundError:
            raise StackMissing(f"stack {stack} does not exist in {self.backend_url}") from None
        except auto.CommandError as exc:
            raise _backend_error(f"cannot write the tags of {stack}", exc) from None

    def deployed_commit(self, stack: str, *, from_history: bool = False) -> str | None:
        """The commit of the last successful ``up``: its ``gitops:commit`` tag (written after every successful
        ``up``: one ``stack tag ls``, which the ``up`` that follows reuses), else, for stacks deployed before tags
        or on backends without them, the history. ``from_history``: the history only (``stack history``): the CLI
        writes it before releasing the stack's lock, while the tag is written after, by the runner that deployed."""
        from pulumi import automation as auto

        if from_history:
            if self._tag_cache.get(stack, _UNREAD) is None:
                self._tag_cache.pop(stack)  # it did not exist at the first check: maybe it does now
            try:  # one CLI process (Stack.history would run `stack select` first)
                result = self._command().run(["stack", "history", "--json", "--page-size", "20", "--stack", stack,
                                              "--non-interactive"], str(self.root), self._env())
            except auto.CommandError:
                return None  # no stack (yet), or no history to read: nothing newer is known to be deployed
            entries = json.loads(result.stdout or "[]")
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and entry.get("kind") == "update" and entry.get("result") == "succeeded":
                    commit = (entry.get("environment") or {}).get("git.head")
                    return str(commit) if commit else None
            return None
        try:
            tags = self._read_tags(stack)
        except auto.CommandError:
            tags = {}
        if tags is None:
            return None
        if tags.get(f"{TAG_PREFIX}commit"):
            return tags[f"{TAG_PREFIX}commit"]
        for e in self.history(stack, 20):
            if e.kind == "update" and e.result == "succeeded":
                return e.commit
        return None


@dataclass(frozen=True)
class StackStatus:
    """Whether a stack can be operated on safely, and what to do if not."""

    stack: str
    exists: bool
    locks: tuple[Mapping[str, Any], ...]  # {pid, username, hostname, timestamp, alive} (file:// backends)
    pending_operations: tuple[Mapping[str, str], ...]  # {type, urn}
    advice: str
    #: ``recover --restore-checkpoint``: the audit record of the restore (automation.engines.diy_backend); None otherwise
    restored: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "exists": self.exists, "locks": [dict(lock) for lock in self.locks],
                "pending_operations": [dict(op) for op in self.pending_operations], "advice": self.advice,
                "restored": dict(self.restored) if self.restored is not None else None}


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs. A zombie (killed, its parent gone and not yet reaped, as
    after a runner's SIGKILL in a container whose PID 1 does not reap) does not: its lock is stale."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True  # not Linux, or gone meanwhile: as os.kill said
    return state not in ("Z", "X")


def target_project(root: Path) -> str:
    from automation.config.stackconfig import project_name

    return project_name(root)


def _backend_error(what: str, exc: Exception) -> AutomationError:
    text = f"{getattr(exc, 'stderr', '')}\n{exc}"
    if _LOCKED.search(text):
        return StackBusyError(f"{what}: the stack is locked by another update")
    return OperationFailed(f"{what}: {_tail(exc)}")


_SDK_NOISE = re.compile(r"SDK \d{4}/\d\d/\d\d \d\d:\d\d:\d\d WARN [^\n|]*")


def _tail(exc: Exception, lines: int = 5) -> str:
    """The last lines of a CLI failure for a report, without the AWS SDK's warnings."""
    raw = _SDK_NOISE.sub("", str(getattr(exc, "stderr", "") or exc))
    text = [ln for ln in raw.strip().splitlines() if ln.strip() and ln.strip() not in ("stderr:", "stdout:")]
    return " | ".join(text[-lines:])[:1000]


_UNREAD = object()


@functools.cache
def _lean_types() -> Any:
    """The Automation API's classes without the CLI processes this engine does not need. Stack.up, refresh and
    destroy end with ``stack output --json``, ``stack output --json --show-secrets`` (plaintext secrets into this
    process) and ``stack history``; selecting a stack runs ``stack select``; PulumiCommand runs ``pulumi version``.
    The engine has what those calls return from the event stream (outputs with secrets blinded, the summary
    event's counts), from the tags it just read (the stack exists) and from the version it checked
    (toolchain.known_cli_version). Everything else is the SDK's own code."""
    from pulumi.automation import LocalWorkspace, PulumiCommand, Stack, UpdateSummary
    from pulumi.automation._stack import StackInitMode  # Stack's constructor argument; the enum is not re-exported
    from semver import VersionInfo

    class Command(PulumiCommand):
        """A PulumiCommand for a CLI whose version the engine checked: the base constructor only runs `version`."""

        def __init__(self, command: str, version: VersionInfo) -> None:  # no super().__init__(): it runs the CLI
            self.command = command
            self.version = version

    class Workspace(LocalWorkspace):
        """``select_stack`` is free for a stack this run just saw exist (every command passes ``--stack``);
        outputs are never read here (the engine takes them from the event stream)."""

        def __init__(self, *, existing: set[str], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.existing = existing

        def select_stack(self, stack_name: str) -> None:
            if stack_name not in self.existing:
                super().select_stack(stack_name)

        def stack_outputs(self, stack_name: str) -> Any:
            return {}

    class LeanStack(Stack):
        """``info()`` (a ``stack history`` call after every operation) answered without the CLI: the engine reads
        the operation's counts and duration from the summary event."""

        def info(self, show_secrets: bool = True) -> Any:
            now = datetime.now(UTC)
            return UpdateSummary(kind="update", start_time=now, message="", environment={}, config={},
                                 result="succeeded", end_time=now)

    return SimpleNamespace(Command=Command, Workspace=Workspace, Stack=LeanStack, Mode=StackInitMode)
