"""The Automation API adapter: the only module that imports ``pulumi.automation``.

- ``create_or_select_stack(work_dir=<repo root>)`` runs the project's real ``__main__.py``;
- state in the local file backend by default (``file://<repo>/.pulumi-state``), or any backend URL;
- the passphrase secrets provider by default (``PULUMI_CONFIG_PASSPHRASE``), or ``awskms://...``;
- ``show_secrets=False`` on every call that accepts it; output reaches us only as engine events;
- a pinned CLI version; a missing CLI is a clear error (exit 4), or installed when asked.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from automation.engine import HistoryEntry, Outcome, Progress, ResourceChange, StackBusyError, StackInfo, Target
from automation.errors import AutomationError, ConfigError, OperationFailed, PulumiCliMissing
from automation.stackconfig import OFFLINE_SECRET_PLACEHOLDER

#: The Pulumi CLI this project is tested with (matches the pinned SDK).
PULUMI_CLI_VERSION = "3.272.0"
DEFAULT_STATE_DIR = ".pulumi-state"
TAG_PREFIX = "gitops:"


def default_backend_url(root: Path) -> str:
    return (root / DEFAULT_STATE_DIR).resolve().as_uri()


def install_hint() -> str:
    return (f"the Pulumi CLI {PULUMI_CLI_VERSION} is not on PATH. Install it with "
            f"`curl -fsSL https://get.pulumi.com | sh -s -- --version {PULUMI_CLI_VERSION}` "
            "or re-run with --install-cli to let the engine fetch it (PulumiCommand.install)")


class EventCollector:
    """Turns engine events into progress lines and the list of resource changes."""

    def __init__(self, progress: Progress, planning: bool) -> None:
        self.progress = progress
        self.planning = planning
        self.changes: dict[str, ResourceChange] = {}
        self.started: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.duration_s: float | None = None
        self.errors: list[str] = []

    def __call__(self, event: Any) -> None:
        pre, outs, failed = event.resource_pre_event, event.res_outputs_event, event.res_op_failed_event
        if pre is not None:
            meta = pre.metadata
            name = meta.urn.rsplit("::", 1)[-1]
            op = str(getattr(meta.op, "value", meta.op))
            keys = tuple(meta.diffs or meta.keys or ()) if op != "create" else ()
            self.changes[meta.urn] = ResourceChange(meta.urn, meta.type, name, op, keys)
            self.started[meta.urn] = time.monotonic()
            if op != "same" and self.planning:
                self.progress.step(op, meta.type, name, "planned")
        elif outs is not None and not self.planning:
            meta = outs.metadata
            op = str(getattr(meta.op, "value", meta.op))
            if op != "same":
                began = self.started.get(meta.urn)
                self.progress.step(op, meta.type, meta.urn.rsplit("::", 1)[-1], "done",
                                   time.monotonic() - began if began else None)
        elif failed is not None:
            meta = failed.metadata
            self.progress.step(str(getattr(meta.op, "value", meta.op)), meta.type, meta.urn.rsplit("::", 1)[-1], "FAILED")
        elif event.diagnostic_event is not None and event.diagnostic_event.severity == "error":
            self.errors.append(event.diagnostic_event.message.strip())
        elif event.summary_event is not None:
            self.counts = _op_counts(event.summary_event.resource_changes)
            self.duration_s = float(event.summary_event.duration_seconds)


class PulumiEngine:
    def __init__(self, root: Path, *, backend_url: str | None = None, secrets_provider: str | None = None,
                 cli_root: str | None = None, install_cli: bool = False, environ: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.backend_url = backend_url or default_backend_url(root)
        self.secrets_provider = secrets_provider
        self.cli_root = cli_root
        self.install_cli = install_cli
        self.environ = dict(environ or {})
        self._cmd: Any = None

    # -- plumbing -------------------------------------------------------------------------------
    def _command(self) -> Any:
        from pulumi.automation import PulumiCommand
        from semver import VersionInfo

        if self._cmd is None:
            version = VersionInfo.parse(PULUMI_CLI_VERSION)
            try:
                self._cmd = PulumiCommand(root=self.cli_root, version=version)
            except (FileNotFoundError, PermissionError):
                if not self.install_cli:
                    raise PulumiCliMissing(install_hint()) from None
                self._cmd = PulumiCommand.install(root=self.cli_root, version=version)
        return self._cmd

    def unavailable(self) -> AutomationError | None:
        """Why a cloud operation cannot run here (the error to raise), or None."""
        try:
            self._command()
        except PulumiCliMissing as exc:
            return exc
        if self.backend_url.startswith("file:"):
            Path(self.backend_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        if not (self.secrets_provider or "PULUMI_CONFIG_PASSPHRASE" in self.environ
                or "PULUMI_CONFIG_PASSPHRASE_FILE" in self.environ or self.backend_url.startswith("https:")):
            return ConfigError("no secrets provider: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) "
                               "or pass --secrets-provider")
        return None

    def _workspace_options(self) -> Any:
        from pulumi.automation import LocalWorkspaceOptions

        env = {"PULUMI_BACKEND_URL": self.backend_url, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        return LocalWorkspaceOptions(work_dir=str(self.root), env_vars=env, secrets_provider=self.secrets_provider,
                                     pulumi_command=self._command())

    def _stack(self, target: Target, progress: Progress) -> Any:
        from pulumi import automation as auto

        if self.backend_url.startswith("file:"):
            Path(self.backend_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        try:
            stack = auto.create_or_select_stack(stack_name=target.stack, work_dir=str(self.root),
                                                opts=self._workspace_options())
        except auto.CommandError as exc:
            raise OperationFailed(f"cannot create or select stack {target.stack}: {_tail(exc)}") from None
        if target.config.personal is not None:
            # A personal stack has no file of its own: its config is the template's plus derived values.
            config = {key: auto.ConfigValue(value=value, secret=key in target.config.secret_keys)
                      for key, value in target.config.values.items()
                      if value != OFFLINE_SECRET_PLACEHOLDER and key.split(":")[0] != "pulumi"}
            stack.set_all_config(config)
        for key, value in target.tags.items():
            try:
                stack.set_tag(f"{TAG_PREFIX}{key}", value)
            except auto.CommandError:
                progress.message(f"note: this backend does not support stack tags; {key} is recorded in the update message")
                break
        return stack

    def _call(self, target: Target, operation: str, fn: Any, collector: EventCollector, progress: Progress) -> Outcome:
        from pulumi import automation as auto

        start = time.monotonic()
        try:
            result = fn()
        except auto.ConcurrentUpdateError:
            raise StackBusyError(f"stack {target.stack} has an update in progress in the state backend") from None
        except auto.CommandError as exc:
            detail = "; ".join(collector.errors[-3:]) or _tail(exc)
            progress.summary(target.stack, operation, collector.counts, time.monotonic() - start, False)
            raise OperationFailed(f"{operation} of {target.stack} failed: {detail}") from None
        counts = collector.counts or _counts_from_result(result)
        duration = collector.duration_s if collector.duration_s is not None else time.monotonic() - start
        progress.summary(target.stack, operation, counts, duration, True)
        outputs = {}
        if operation == "up":
            outputs = {k: ("[secret]" if v.secret else v.value) for k, v in result.outputs.items()}
        diff = "\n".join(f"{c.op} {c.type} {c.name}" + (f" [{', '.join(c.keys)}]" if c.keys else "")
                         for c in collector.changes.values() if c.op != "same")
        return Outcome(stack=target.stack, operation=operation, succeeded=True,
                       changes=tuple(collector.changes.values()), counts=counts, diff=diff, outputs=outputs,
                       duration_s=duration)

    # -- operations -----------------------------------------------------------------------------
    def _operate(self, operation: str, target: Target, progress: Progress, **kwargs: Any) -> Outcome:
        """Run ``Stack.<operation>`` with the audit message, the event stream and no colour, plus ``kwargs``."""
        stack = self._stack(target, progress)
        collector = EventCollector(progress, planning=operation == "preview")
        method = getattr(stack, operation)
        return self._call(target, operation, lambda: method(message=target.message or None, on_event=collector,
                                                            color="never", **kwargs), collector, progress)

    def preview(self, target: Target, progress: Progress) -> Outcome:
        return self._operate("preview", target, progress, diff=False)  # preview takes no show_secrets

    def up(self, target: Target, progress: Progress) -> Outcome:
        return self._operate("up", target, progress, show_secrets=False)

    def refresh(self, target: Target, progress: Progress) -> Outcome:
        return self._operate("refresh", target, progress, show_secrets=False)

    def destroy(self, target: Target, progress: Progress) -> Outcome:
        return self._operate("destroy", target, progress, show_secrets=False, remove=True)

    def _select(self, stack_name: str) -> Any:
        from pulumi import automation as auto

        try:
            return auto.select_stack(stack_name=stack_name, work_dir=str(self.root), opts=self._workspace_options())
        except auto.StackNotFoundError:
            raise ConfigError(f"stack {stack_name} does not exist in {self.backend_url}") from None

    def history(self, stack: str, limit: int) -> tuple[HistoryEntry, ...]:
        entries = self._select(stack).history(page_size=limit, page=1, show_secrets=False)
        return tuple(HistoryEntry(
            version=e.version, kind=e.kind, result=e.result, started=e.start_time, ended=e.end_time,
            message=e.message or "", counts=_op_counts(e.resource_changes),
            commit=(e.environment or {}).get("git.head")) for e in entries)

    def stacks(self) -> tuple[StackInfo, ...]:
        from pulumi import automation as auto

        opts = self._workspace_options()
        workspace = auto.LocalWorkspace(work_dir=opts.work_dir, env_vars=opts.env_vars,
                                        secrets_provider=opts.secrets_provider, pulumi_command=opts.pulumi_command)
        return tuple(StackInfo(name=s.name, last_update=s.last_update) for s in workspace.list_stacks())

    def deployed_commit(self, stack: str) -> str | None:
        try:
            entries = self.history(stack, 20)
        except ConfigError:
            return None
        for e in entries:
            if e.kind == "update" and e.result == "succeeded":
                return e.commit
        return None


def _op_counts(changes: Mapping[Any, Any] | None) -> dict[str, int]:
    """OpType-keyed (or string-keyed) counts -> {"create": n, ...}."""
    return {str(getattr(k, "value", k)): int(v) for k, v in (changes or {}).items()}


def _counts_from_result(result: Any) -> dict[str, int]:
    summary = getattr(result, "change_summary", None) or getattr(getattr(result, "summary", None), "resource_changes", None)
    return _op_counts(summary)


def _tail(exc: Exception, lines: int = 5) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip().splitlines()
    return " | ".join(text[-lines:])[:1000]
