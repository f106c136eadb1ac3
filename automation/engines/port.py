"""The port every engine implements (the Pulumi adapter and the in-memory engine): the target of an operation, the
progress stream, and the protocol. Its results are the model's values (:mod:`automation.model.outcome`)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from automation.config.stackconfig import StackConfig
from automation.model.changes import RESOURCE_OPS, ResourceOp
from automation.model.errors import AutomationError
from automation.model.outcome import HistoryEntry, Outcome, StackInfo

if TYPE_CHECKING:
    from automation.review.policy import StackPolicy

def resource_op(value: object) -> ResourceOp:
    """A step's op from an engine event (an OpType or its string). An op this engine does not know is a bug to
    fix when upgrading the SDK, not something to guess about."""
    text = str(getattr(value, "value", value))
    if text not in RESOURCE_OPS:
        raise AutomationError(f"the Pulumi engine reported a resource step {text!r} this engine does not know")
    return text  # type: ignore[return-value]


@dataclass(frozen=True)
class Target:
    """One stack to operate on, with its config and the audit data to record."""

    stack: str
    config: StackConfig
    message: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    commit: str | None = None
    #: the project's policy pack with this stack's settings: previews and ups run it (None: no pack)
    policy: StackPolicy | None = None


class Progress:
    """Streams one line per resource step (with elapsed time), warnings, heartbeats and a summary, to stderr by
    default. Thread-safe (the heartbeat writes from its own thread); every line passes ``redact``."""

    def __init__(self, out: TextIO | None = None, clock: Any = time.monotonic,
                 redact: Callable[[str], str] | None = None, heartbeat_s: float = 60.0) -> None:
        self.out = out or sys.stderr
        self.clock = clock
        self.redact = redact or (lambda text: text)
        self.heartbeat_s = heartbeat_s
        self.started = clock()
        self._lock = threading.Lock()

    def _write(self, line: str) -> None:
        with self._lock:
            self.out.write(self.redact(line) + "\n")
            self.out.flush()

    def step(self, op: str, type_: str, name: str, status: str = "done", elapsed_s: float | None = None) -> None:
        since = self.clock() - self.started
        took = f" in {elapsed_s:.1f}s" if elapsed_s is not None else ""
        self._write(f"[{since:7.1f}s] {op:<8} {type_} {name}: {status}{took}")

    def message(self, text: str) -> None:
        self._write(f"[{self.clock() - self.started:7.1f}s] {text}")

    def summary(self, stack: str, operation: str, counts: Mapping[str, int], duration_s: float, succeeded: bool) -> None:
        parts = ", ".join(f"{n} {op}" for op, n in sorted(counts.items()) if n) or "no changes"
        state = "succeeded" if succeeded else "FAILED"
        self._write(f"{operation} {stack} {state} in {duration_s:.1f}s: {parts}")

    @contextmanager
    def heartbeat(self, in_flight: Callable[[], list[tuple[str, str, str, float]]]) -> Iterator[None]:
        """While the body runs, every ``heartbeat_s`` say which steps are still going:
        ``still creating eks:index:Cluster dev-eks (6m 10s)``. ``in_flight`` gives (op, type, name, started)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.heartbeat_s):
                now = time.monotonic()
                for op, type_, name, began in in_flight():
                    took = int(now - began)
                    self.message(f"still {_ING.get(op, op)} {type_} {name} ({took // 60}m {took % 60}s)")

        thread = threading.Thread(target=beat, name="progress-heartbeat", daemon=True)
        if self.heartbeat_s > 0:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread.is_alive():
                thread.join(timeout=5)


_ING = {"create": "creating", "update": "updating", "delete": "deleting", "replace": "replacing", "read": "reading",
        "refresh": "refreshing", "create-replacement": "creating the replacement of",
        "delete-replaced": "deleting the replaced"}


class Engine(Protocol):
    """What the orchestrator needs from an engine. Implementations raise StackBusyError when the stack is locked."""

    #: whether an `up` deploys something that answers (health checks apply); False for the in-memory engine
    runs_applications: bool
    #: whether its previews and ups run the project's policy pack (the real CLI); False: the engine's caller evaluates
    #: the pack's functions on what the engine planned, as offline (the in-memory engine)
    runs_policy_pack: bool

    def preview(self, target: Target, progress: Progress) -> Outcome: ...
    def up(self, target: Target, progress: Progress) -> Outcome: ...
    def destroy(self, target: Target, progress: Progress) -> Outcome: ...
    def refresh(self, target: Target, progress: Progress) -> Outcome: ...
    def drift(self, target: Target, progress: Progress) -> Outcome:
        """A refresh preview: resources whose cloud state differs from the recorded one (op other than `same`)."""
    def history(self, stack: str, limit: int) -> tuple[HistoryEntry, ...]: ...
    def deployed_commit(self, stack: str, *, from_history: bool = False) -> str | None:
        """The commit of the last successful ``up``. ``from_history``: read it from the update history, which the
        CLI writes before it releases the stack's lock (a tag is written after), never from a faster cache."""
        ...
    def release(self, stack: str) -> str:
        """After an interrupted operation: cancel a backend lock its stopped CLI left (never a live one's); says what
        it did."""
    def tags(self, stack: str) -> Mapping[str, str]:
        """The engine's own tags of a stack (health, ttl extension), without any backend prefix; {} if missing."""
    def set_tags(self, stack: str, tags: Mapping[str, str]) -> None:
        """Add or change the engine's tags of an existing stack (raises StackMissing otherwise)."""
    def stacks(self) -> tuple[StackInfo, ...]: ...
    def unavailable(self) -> AutomationError | None:
        """Why cloud operations cannot run here (the error to raise), or None when they can."""
    def preflight(self, tools: tuple[str, ...]) -> AutomationError | None:
        """Why an operation needing ``tools`` (see Environments.tools) cannot start, or None."""
    def writable(self) -> AutomationError | None:
        """Why an operation that writes state cannot run here (checked before any preview it needs first), or None."""
