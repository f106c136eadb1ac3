"""After an up: the health probe, its record in the stack's tags, and the automatic rollback; and the guarded
rollback itself (an earlier commit's program from a worktree, refused when its preview would lose data)."""

from __future__ import annotations

from dataclasses import replace

from automation.adapters.health import probe
from automation.config.environments import Rule
from automation.engines.port import Target
from automation.flow.context import RunContext, retry_busy
from automation.flow.planner import Operation, rollback_commit
from automation.model.errors import (
    AutomationError,
    ConfigError,
    GuardRefused,
    OperationFailed,
)
from automation.model.health import HealthResult
from automation.model.outcome import Outcome
from automation.model.request import Request
from automation.review.render import Report, Status


def after_up(ctx: RunContext, op: Operation, report: Report, rule: Rule, previous_healthy: str | None,
              request: Request) -> Report:
    """Probe the deployed stack; record the result in its tags; roll back once through the guarded rollback when
    the environment enables auto_rollback. A rollback that fails or stays unhealthy needs a person: never looped."""
    assert op.stack is not None and rule.health is not None and report.outcome is not None
    spec = rule.health.spec()
    check = ctx.probe or probe
    result = check(report.outcome.outputs.get(spec.output), spec, notify=ctx.progress.message)
    _record_health(ctx, op.stack, result, op.sha)
    ctx.progress.message(f"health of {op.stack}: {'healthy' if result.healthy else 'UNHEALTHY'} ({result.detail})")
    if result.healthy:
        return replace(report, health=result)
    report = replace(report, status=Status.UNHEALTHY, health=result, error=f"health check failed: {result.detail}")
    if not rule.auto_rollback:
        return replace(report, notes=(*report.notes, f"auto_rollback is off for {op.stack}: a person decides "
                                      f"(`python -m automation rollback --stack {op.stack} --reason TEXT`)"))
    sha7 = (op.sha or "unknown")[:7]
    try:
        to = previous_healthy if previous_healthy and previous_healthy != op.sha else None
        _, target_sha = rollback_commit(ctx.engine.history(op.stack, 100), to=to)
        message = (f"rollback of {op.stack} to {target_sha[:7]} by ghost-gitops (automatic): health check failed "
                   f"after deploying {sha7}: {result.detail}")
        ctx.progress.message(f"automatic rollback of {op.stack} to {target_sha[:7]}")
        outcome = guarded_rollback(ctx, op.stack, target_sha, message, actor=request.actor or "ghost-gitops",
                                   allow_stateful_changes=False)
        after = check(outcome.outputs.get(spec.output), spec, notify=ctx.progress.message)
        _record_health(ctx, op.stack, after, target_sha)
        if after.healthy:
            what = f"rolled back to {target_sha[:7]}, healthy again ({after.detail})"
        else:
            what = f"rolled back to {target_sha[:7]} but still unhealthy ({after.detail}): needs a person"
    except AutomationError as exc:
        what = f"automatic rollback not done: {exc}: needs a person"
    ctx.progress.message(f"{op.stack}: {what}")
    return replace(report, rollback=what)


def _record_health(ctx: RunContext, stack: str, result: HealthResult, sha: str | None) -> None:
    from datetime import UTC, datetime

    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    tags = {"health": f"{'healthy' if result.healthy else 'unhealthy'} at {when} ({(sha or 'unknown')[:7]})"}
    if result.healthy and sha:
        tags["healthy-commit"] = sha
    try:
        ctx.engine.set_tags(stack, tags)
    except AutomationError as exc:
        ctx.progress.message(f"note: could not record the health of {stack} in its tags: {exc}")


def guarded_rollback(ctx: RunContext, stack: str, sha: str, message: str, *, actor: str,
                     allow_stateful_changes: bool) -> Outcome:
    """Deploy commit ``sha``'s program, from a temporary worktree with this engine, after a preview that refuses
    replacing or deleting stateful resources unless ``allow_stateful_changes``. The worktree is always removed.

    :raises GuardRefused: the preview would lose data.
    :raises ConfigError: no git repository, or the commit is neither here nor fetchable.
    """
    from automation.config.environments import load_environments

    if ctx.git is None:
        raise ConfigError("a rollback needs the git repository (it checks out the earlier commit in a worktree)")
    if ctx.engine_for is None:
        raise ConfigError("a rollback needs an engine for the earlier commit's checkout")
    if not ctx.git.has_commit(sha) and not ctx.git.fetch(sha):
        raise ConfigError(f"commit {sha[:7]} is not in this clone nor fetchable from origin; fetch more history")
    with ctx.git.worktree(sha) as tree:
        tree_envs = load_environments(tree)
        engine = ctx.engine_for(tree, tree_envs)
        target = Target(stack=stack, config=tree_envs.stack_config(tree, stack), message=message,
                        tags={"commit": sha, "owner": actor}, commit=sha)
        with ctx.locks.hold(stack):
            failed: OperationFailed | None = None
            try:
                changes = retry_busy(ctx, stack, lambda: engine.preview(target, ctx.progress)).changes
            except OperationFailed as exc:  # e.g. the provider's dry run refused the replacement it had planned
                failed, changes = exc, exc.planned
            losses = [c for c in changes if c.stateful_loss]
            if losses and not allow_stateful_changes:
                shown = ", ".join(f"{c.op} {c.type} {c.name}" for c in losses)
                then = f" (its preview then failed: {failed})" if failed is not None else ""
                raise GuardRefused(f"rollback of {stack} to {sha[:7]} would {shown}: data would be lost{then}; "
                                   "re-run with --allow-stateful-changes if that is intended")
            if failed is not None:
                raise failed
            return retry_busy(ctx, stack, lambda: engine.up(target, ctx.progress))
