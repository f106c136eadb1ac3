"""What happened, in CI-neutral terms: the one ``Request`` that event parsing (:mod:`automation.flow.events`) makes of
a CI event. Standard library only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

ZERO_SHA = "0" * 40
SHA = re.compile(r"^[0-9a-f]{40}$")
PR_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review", "closed"})
DISPATCH_OPERATIONS = frozenset({"preview", "up", "destroy", "refresh"})
#: GitHub includes at most this many commits in a push payload.
PUSH_PAYLOAD_COMMIT_LIMIT = 20


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    author: str
    base: str
    head: str
    head_sha: str
    base_sha: str | None
    draft: bool
    from_fork: bool
    merged: bool


@dataclass(frozen=True)
class Request:
    """What happened, in CI-neutral terms."""

    event: str  # push | pull_request | delete | schedule | workflow_dispatch | manual | unsupported
    action: str | None = None
    branch: str | None = None
    sha: str | None = None
    before: str | None = None
    pull_request: PullRequest | None = None
    #: files changed according to the payload itself, or None when the payload cannot tell
    payload_changed_files: tuple[str, ...] | None = None
    repository: str | None = None
    actor: str | None = None
    head_commit_message: str | None = None
    dispatch_stack: str | None = None
    dispatch_operation: str | None = None
    rollback: bool = False
    forced: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def created_branch(self) -> bool:
        return self.before == ZERO_SHA
