"""Backend repair for the Pulumi adapter: a stack's status (locks, who holds them and whether that process still runs,
operations a killed update left pending, what is safe to do), releasing a stopped CLI's lock, and ``recover`` (cancel
a stale lock, clear pending creates, optionally restore a damaged checkpoint first)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from automation.engines.diy_backend import damaged_message, is_damaged, restore_checkpoint
from automation.engines.port import Progress
from automation.engines.pulumi_errors import backend_error, error_tail, recovery_hint
from automation.model.errors import ConfigError, OperationFailed, StackMissing
from automation.model.outcome import StackInfo


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


class BackendRepair:
    """The adapter's repair operations (:class:`automation.engines.pulumi_engine.PulumiEngine` mixes them in); they use
    the adapter's own plumbing, declared here."""

    backend_url: str
    environ: dict[str, str]

    def stacks(self) -> tuple[StackInfo, ...]:
        raise NotImplementedError

    def _project(self) -> str:
        raise NotImplementedError

    def _workspace(self) -> Any:
        raise NotImplementedError

    def _writes_state(self) -> None:
        raise NotImplementedError

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
                raise OperationFailed(damaged_message(stack, self.backend_url, error_tail(exc, 1))) from None
            raise backend_error(f"cannot export the state of {stack}", exc) from None
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
            return f"could not cancel the lock on {stack} ({error_tail(exc, 1)}): {recovery_hint(stack)}"
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
                raise backend_error(f"cannot cancel the lock on {stack}", exc) from None
            progress.message(f"recover {stack}: cancelled {len(before.locks)} stale lock(s)")
        try:
            stack_obj.refresh(clear_pending_creates=True, show_secrets=False, color="never",
                              message=f"recover {stack}: refresh clearing pending creates")
        except auto.CommandError as exc:
            raise backend_error(f"refresh of {stack} failed while recovering", exc) from None
        progress.message(f"recover {stack}: refreshed ({len(before.pending_operations)} pending operation(s) cleared)")
        return replace(self.status(stack), restored=restored)
