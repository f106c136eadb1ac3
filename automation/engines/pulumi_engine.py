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
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from automation.config.stackconfig import ENGINE_WRITTEN_HEADER
from automation.engines.diy_backend import damaged_message, is_damaged
from automation.engines.plugins import missing_message, missing_plugin
from automation.engines.port import Progress, Target
from automation.engines.pulumi_errors import LOCKED, backend_error, error_tail, recovery_hint
from automation.engines.pulumi_events import EventCollector, counts_from_result, op_counts
from automation.engines.pulumi_lean import lean_types
from automation.engines.pulumi_repair import BackendRepair
from automation.engines.pulumi_tags import TAG_PREFIX, UNREAD, StackTags
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


class PulumiEngine(StackTags, BackendRepair):
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
        self._cmd = lean_types().Command(str(choice.path), VersionInfo.parse(found.lstrip("v")))
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
        lean = lean_types()
        known = self._tag_cache.get(target.stack, UNREAD)
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
            raise backend_error(f"cannot open stack {target.stack}", exc) from None
        if known is None or known is UNREAD:
            self._tag_cache.pop(target.stack, None)  # created, or not read: its tags are read when needed
        return stack


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
            if LOCKED.search(text):
                raise StackBusyError(f"stack {target.stack} is locked in the state backend by another update; "
                                     + recovery_hint(target.stack)) from None
            if is_damaged(text):
                progress.summary(target.stack, operation, collector.counts, time.monotonic() - start, False)
                raise OperationFailed(damaged_message(target.stack, self.backend_url, error_tail(exc, 1))) from None
            plugin = missing_plugin(text)
            if plugin is not None:  # before the program's own errors: they only echo the cancelled connection
                progress.summary(target.stack, operation, collector.counts, time.monotonic() - start, False)
                raise ToolMissing(f"{operation} of {target.stack}: {missing_message(plugin)}") from None
            if "validating stack config" in text or "validating project" in text:
                raise ConfigError(f"the Pulumi CLI refused the config of {target.stack}: {error_tail(exc, 2)}") from None
            violations = collector.violations()
            if any(v.blocking for v in violations):
                progress.summary(target.stack, operation, collector.counts, time.monotonic() - start, False)
                names = sorted({f"{v.policy} ({v.name})" for v in violations if v.blocking})
                raise PolicyDenied(f"{operation} of {target.stack} stopped by the policy pack before any change: "
                                   f"mandatory {', '.join(names)}", violations,
                                   planned=tuple(collector.changes.values())) from None
            detail = "; ".join(collector.errors[-3:]) or error_tail(exc)
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
            raise backend_error(f"cannot read the history of {stack}", exc) from None
        return tuple(HistoryEntry(
            version=e.version, kind=e.kind, result=e.result, started=aware(e.start_time) or e.start_time,
            ended=aware(e.end_time), message=e.message or "", counts=op_counts(e.resource_changes),
            commit=(e.environment or {}).get("git.head")) for e in entries)

    def stacks(self) -> tuple[StackInfo, ...]:
        from pulumi import automation as auto

        try:
            listed = self._workspace().list_stacks()
        except auto.CommandError as exc:
            raise backend_error("cannot list the stacks", exc) from None
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
            raise backend_error(f"cannot read the name of stack {stack}", exc) from None
        return str(result.stdout).strip()


    def deployed_commit(self, stack: str, *, from_history: bool = False) -> str | None:
        """The commit of the last successful ``up``: its ``gitops:commit`` tag (written after every successful
        ``up``: one ``stack tag ls``, which the ``up`` that follows reuses), else, for stacks deployed before tags
        or on backends without them, the history. ``from_history``: the history only (``stack history``): the CLI
        writes it before releasing the stack's lock, while the tag is written after, by the runner that deployed."""
        from pulumi import automation as auto

        if from_history:
            if self._tag_cache.get(stack, UNREAD) is None:
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


def target_project(root: Path) -> str:
    from automation.config.stackconfig import project_name

    return project_name(root)


