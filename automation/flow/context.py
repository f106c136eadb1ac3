"""What a plan's operations run with (:class:`RunContext`: engine, git, progress, locks, options, the review
lookup, interrupts) and the retry of a busy state backend that every caller shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tenacity

from automation.adapters.git import Git
from automation.adapters.locking import StackLocks
from automation.config.environments import Environments
from automation.engines.port import Engine, Progress
from automation.model.errors import (
    LockTimeout,
    StackBusyError,
)
from automation.model.health import HealthResult
from automation.model.outcome import Outcome
from automation.model.snapshot import Snapshot
from automation.review.fingerprint import Review


@dataclass(frozen=True)
class RunOptions:
    busy_attempts: int = 6
    busy_base_wait_s: float = 5.0
    busy_max_wait_s: float = 120.0
    #: deploy uncommitted changes (recorded in the audit message) instead of refusing
    allow_dirty: bool = False
    #: apply a plan that differs from the reviewed one; the reason is recorded in the audit message
    accept_plan_change: str | None = None
    #: who runs the engine (GITHUB_TRIGGERING_ACTOR, GITHUB_ACTOR or USER): who accepted an override
    operator: str | None = None
    #: skip the post-deploy health check (and so the automatic rollback)
    skip_health: bool = False
    #: apply an up whose cost estimate crosses the stack's budget; the reason is recorded in the audit message
    accept_over_budget: str | None = None


@dataclass(frozen=True)
class RunContext:
    root: Path
    envs: Environments
    engine: Engine
    locks: StackLocks
    progress: Progress
    git: Git | None = None
    options: RunOptions = field(default_factory=RunOptions)
    sleep: Callable[[float], None] = tenacity.nap.sleep
    #: answers for the offline structural diff: (root, stack, sha or None for the work tree) -> snapshot
    offline_synth: Callable[[Path, str, str | None], Snapshot] | None = None
    #: the review of the change a merge deploys, per stack (read from the PR comment by automation.flow.publish)
    review: Callable[[str], Review | None] | None = None
    #: an engine for another checkout of the project (a rollback's worktree): (root, its environments) -> engine
    engine_for: Callable[[Path, Environments], Engine] | None = None
    #: the health check (tests pass a fake clock/sleep through it)
    probe: Callable[..., HealthResult] | None = None
    #: the signal that interrupted the run (SIGTERM, SIGINT), or None (automation.adapters.interrupt)
    interrupted: Callable[[], str | None] = lambda: None


def retry_busy(ctx: RunContext, stack: str, fn: Callable[[], Outcome]) -> Outcome:
    waited = {"s": 0.0}

    def before_sleep(state: tenacity.RetryCallState) -> None:
        delay = state.next_action.sleep if state.next_action else 0.0
        waited["s"] += delay
        ctx.progress.message(f"stack {stack} is locked by another update in the state backend; "
                             f"retry {state.attempt_number}/{ctx.options.busy_attempts - 1} in {delay:.1f}s")

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(StackBusyError), reraise=True, sleep=ctx.sleep,
        stop=tenacity.stop_after_attempt(ctx.options.busy_attempts), before_sleep=before_sleep,
        wait=tenacity.wait_exponential(multiplier=ctx.options.busy_base_wait_s, max=ctx.options.busy_max_wait_s))
    try:
        result: Outcome = retrying(fn)
        return result
    except StackBusyError as exc:
        raise LockTimeout(f"stack {stack} stayed locked by another update in the state backend: gave up after "
                          f"{ctx.options.busy_attempts} attempts over {waited['s']:.1f}s of waiting. {exc}") from None
