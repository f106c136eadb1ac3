"""What one engine operation did, and what the backend knows of a stack: frozen results. Standard library only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from automation.model.changes import PolicyViolation, ResourceChange

if TYPE_CHECKING:
    from automation.model.snapshot import Resource


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
