"""The interface every engine implements (the Pulumi adapter and the in-memory engine) and its results.

Results are frozen dataclasses; secret values never enter them (outputs are sanitized first).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO, get_args

from automation.errors import AutomationError
from automation.resources import STATEFUL_TYPES
from automation.stackconfig import StackConfig

if TYPE_CHECKING:
    from automation.policy import StackPolicy
    from automation.snapshot import Resource

#: A resource step as the Pulumi engine names it (pulumi.automation.events.OpType's values; a test keeps them equal).
ResourceOp = Literal["same", "create", "update", "delete", "replace", "create-replacement", "delete-replaced", "read",
                     "read-replacement", "refresh", "discard", "discard-replaced", "remove-pending-replace", "import",
                     "import-replacement"]
RESOURCE_OPS: frozenset[str] = frozenset(get_args(ResourceOp))
DESTRUCTIVE_OPS = frozenset({"delete", "replace", "create-replacement", "delete-replaced"})


def resource_op(value: object) -> ResourceOp:
    """A step's op from an engine event (an OpType or its string). An op this engine does not know is a bug to
    fix when upgrading the SDK, not something to guess about."""
    text = str(getattr(value, "value", value))
    if text not in RESOURCE_OPS:
        raise AutomationError(f"the Pulumi engine reported a resource step {text!r} this engine does not know")
    return text  # type: ignore[return-value]


class StackBusyError(AutomationError):
    """Another update holds the stack in the state backend (Pulumi's ConcurrentUpdateError). Retried."""


@dataclass(frozen=True)
class PropertyChange:
    """One changed property of a resource, as display text that is safe to print (:mod:`automation.valuediff`
    builds it: secrets are ``[secret]`` on both sides, values the engine does not know yet are ``[unknown]``)."""

    #: a Pulumi property path: ``spec.template.spec.containers[0].image``, ``data["config.json"]``
    path: str
    #: the value before and after as text (strings as they are, everything else as compact JSON); None: absent
    old: str | None
    new: str | None
    #: the provider replaces the resource because of this property
    forces_replacement: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new, "forces_replacement": self.forces_replacement}


@dataclass(frozen=True)
class PolicyViolation:
    """A violation of a policy of the project's pack (automation.policy): from the real CLI's policy events, or
    evaluated offline on what synth records. Never carries a property value that could be secret."""

    policy: str
    #: mandatory (blocks the operation), advisory (reported)
    level: str
    urn: str
    name: str
    message: str
    type: str = ""
    #: what the policy requires and how to fix a violation
    fix: str = ""
    severity: str = ""
    #: the reason of the environments.yaml waiver that covers it; None: not waived
    waived: str | None = None

    @property
    def blocking(self) -> bool:
        return self.level == "mandatory" and self.waived is None

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "level": self.level, "severity": self.severity, "urn": self.urn,
                "type": self.type, "name": self.name, "message": self.message, "fix": self.fix, "waived": self.waived}


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    name: str
    op: ResourceOp
    keys: tuple[str, ...] = ()
    #: whether losing this resource loses data: given by the project's `stateful` patterns, else by type
    stateful: bool | None = None
    #: the changed properties with their values (updates, replacements, drift); () for creates and deletes
    properties: tuple[PropertyChange, ...] = ()

    @property
    def stateful_loss(self) -> bool:
        holds_data = self.stateful if self.stateful is not None else self.type in STATEFUL_TYPES
        return holds_data and self.op in DESTRUCTIVE_OPS

    @property
    def replaced_by(self) -> tuple[PropertyChange, ...]:
        """The properties that force this resource's replacement."""
        return tuple(p for p in self.properties if p.forces_replacement)


@dataclass(frozen=True)
class Outcome:
    """What one engine operation did (or, for a preview, would do)."""

    stack: str
    operation: str
    succeeded: bool
    changes: tuple[ResourceChange, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    diff: str = ""
    outputs: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    error: str | None = None
    #: every resource with its inputs before and after (URN -> resource; secrets ``[secret]``): what the cost
    #: estimate prices. None: the engine did not report them (a refresh, a destroy)
    before: Mapping[str, Resource] | None = None
    after: Mapping[str, Resource] | None = None
    #: the policy pack's violations (the CLI's policy events, or offline); () also when no pack ran
    policy: tuple[PolicyViolation, ...] = ()


@dataclass(frozen=True)
class HistoryEntry:
    version: int | None
    kind: str
    result: str
    started: datetime
    ended: datetime | None
    message: str
    counts: Mapping[str, int]
    commit: str | None


@dataclass(frozen=True)
class StackInfo:
    """A stack that exists in the backend, and when it was last updated (None: never)."""

    name: str
    last_update: datetime | None


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
