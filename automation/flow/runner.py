"""Execute a plan: for each operation, lock the stack, check supersession, run it, report.

Failures of one operation are reported and the others still run; the exit code reflects the worst.
Reporting (PR comment, job summary) never fails or undoes a deployment: its failures become notes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from automation.engines.port import Engine, Progress, Target
from automation.flow.context import RunContext, retry_busy
from automation.flow.gates import check_budget, check_review, named_violations, read_checks, superseded, with_cost, with_policy
from automation.flow.offline_diff import offline_outcome
from automation.flow.planner import Operation, Plan
from automation.flow.rollback import after_up
from automation.model.errors import (
    AutomationError,
    ConfigError,
    InternalError,
    LockTimeout,
    OperationFailed,
    PolicyDenied,
    StackMissing,
    ToolMissing,
)
from automation.model.outcome import Outcome
from automation.model.request import Request
from automation.model.snapshot import count
from automation.review.audit import AuditInfo, audit_message
from automation.review.fingerprint import fingerprint
from automation.review.policy import POLICY_DENIED_EXIT_CODE, minor_jumps
from automation.review.render import Report, Status


class _Superseded(Exception):
    """A newer commit was deployed by another runner while this one waited: nothing is applied."""


def teardown_target(target: Target, values: dict[str, str]) -> Target:
    """The target with ``values`` added to its stack file (a personal stack's file is written by the engine)."""
    document = dict(target.config.document)
    document["config"] = {**dict(document.get("config") or {}), **values}
    config = replace(target.config, values={**target.config.values, **values}, document=document)
    return replace(target, config=config, message=f"teardown before destroy: {target.message}")


def run_operation(ctx: RunContext, op: Operation, request: Request, audit: AuditInfo | None) -> Report:
    base = Report(stack=op.stack, operation=op.operation, status=Status.NONE, reason=op.reason, commit=op.sha)
    if op.operation == "none" or op.stack is None:
        return base
    route = ctx.envs.by_stack(op.stack)
    # the stack file is read once; a bad costs.yaml or policy setting is bad input, refused with nothing done
    config = ctx.envs.stack_config(ctx.root, op.stack) if op.operation in ("preview", "up") else None
    checks = read_checks(ctx, op, config, route.rule if route else None)
    policy, budget = checks.policy, checks.budget
    if op.offline:
        return with_policy(with_cost(replace(base, status=Status.SUCCEEDED, offline=True,
                                               outcome=offline_outcome(ctx, op, request)), checks),
                            policy, offline=True)
    if op.operation == "destroy" and op.protected:
        return replace(base, status=Status.FAILED, error=f"stack {op.stack} is protected: destroy refused")
    unavailable = ctx.engine.unavailable()
    if unavailable is not None:
        if op.operation == "preview" and request.pull_request and request.pull_request.base_sha:
            offline = offline_outcome(ctx, op, request)
            return with_policy(with_cost(replace(base, status=Status.SUCCEEDED, offline=True, outcome=offline,
                                                   notes=(f"cloud preview unavailable: {unavailable}",)), checks),
                                policy, offline=True)
        raise unavailable
    if ctx.envs.tools:
        missing = ctx.engine.preflight(ctx.envs.tools)
        if missing is not None:
            raise missing
    if op.mutating:  # before the previews an up may run first (policy pack, budget, reviewed plan)
        unwritable = ctx.engine.writable()
        if unwritable is not None:
            raise unwritable
    message = audit_message(audit) if audit and op.operation == "up" else op.reason
    if op.operation == "up" and op.allow_older:
        message = f"rollback to {(op.sha or 'unknown')[:7]} by {request.actor or 'unknown'}: {message}"
    tags = {"branch": op.branch or "", "commit": op.sha or "", "pr": str(op.pull_request or (audit.pr_number if audit else None) or ""),
            "owner": (audit.author if audit and audit.author else request.actor) or ""}
    if op.mutating and op.sha and ctx.git is not None:
        head = ctx.git.head()
        if head is not None and head != op.sha:
            raise ConfigError(f"the work tree is at {head[:7]} but this {op.operation} is for {op.sha[:7]}: "
                              "check out that commit first (the engine deploys what is checked out)")
    if op.operation == "up" and ctx.git is not None:
        dirty = ctx.git.dirty_files(ignore=(f"Pulumi.{op.stack}.yaml",) if op.kind == "personal" else ())
        if dirty and not ctx.options.allow_dirty:
            shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
            raise ConfigError(f"the work tree has uncommitted changes ({shown}): an up deploys exactly a commit; "
                              "commit or stash them, or pass --allow-dirty (the audit then says so)")
        if dirty:
            message = f"{message} [uncommitted changes deployed: {len(dirty)} file(s)]"
    target = Target(stack=op.stack, config=config or ctx.envs.stack_config(ctx.root, op.stack),
                    message=message, tags={k: v for k, v in tags.items() if v}, commit=op.sha, policy=policy)
    call = _engine_operation(ctx.engine, op.operation)
    teardown = route.rule.before_destroy_config if route is not None and op.operation == "destroy" else None
    if teardown:
        inner = call

        def call(target: Target, progress: Progress) -> Outcome:  # the teardown `up`, then the destroy
            if target.stack in {s.name for s in ctx.engine.stacks()}:  # nothing to tear down in a missing stack
                progress.message(f"teardown of {target.stack} before destroy: up with {', '.join(sorted(teardown))}")
                ctx.engine.up(teardown_target(target, teardown), progress)
            return inner(target, progress)
    notes: tuple[str, ...] = ()
    previous_healthy: str | None = None
    try:
        if not op.mutating:
            outcome = retry_busy(ctx, op.stack, lambda: call(target, ctx.progress))
        else:
            with ctx.locks.hold(op.stack) as waited:
                if waited > 1:
                    ctx.progress.message(f"lock on {op.stack} acquired after {waited:.0f}s")
                why = superseded(ctx, op)
                if why:
                    ctx.progress.message(f"superseded: {why}")
                    return replace(base, status=Status.SUPERSEDED, reason=why)
                merge = request.event == "push" or (request.event == "workflow_dispatch" and not op.allow_older
                                                    and ctx.options.accept_plan_change is not None)
                reviewed: Outcome | None = None
                if op.operation == "up" and merge and route is not None:
                    refused, notes, message, reviewed = check_review(ctx, op, target, route.rule.reviewed_plan, request)
                    if refused is not None:
                        return replace(base, status=Status.REFUSED, error=refused, notes=notes, message=message)
                    target = replace(target, message=message)
                if op.operation == "up" and policy is not None and reviewed is None:
                    # the pack runs on a preview first: a mandatory violation then stops the up before any change
                    # (during an up, a resource policy fails only its resource, and stack policies run at the end)
                    if ctx.engine.runs_policy_pack:
                        ctx.progress.message(f"previewing {op.stack} with the policy pack ({policy.policies} policies)")
                    else:
                        ctx.progress.message(f"previewing {op.stack}; the policy pack's {policy.policies} policies are "
                                             "evaluated on its plan by the engine's caller (this engine runs no pack)")
                    reviewed = retry_busy(ctx, op.stack, lambda: ctx.engine.preview(target, ctx.progress))
                if (op.operation == "up" and policy is not None and reviewed is not None and not ctx.engine.runs_policy_pack
                        and reviewed.after is not None):
                    found = policy.evaluate(reviewed.after.values())
                    if any(v.blocking for v in found):
                        names = named_violations(v for v in found if v.blocking)
                        return replace(base, status=Status.POLICY_DENIED, notes=notes, message=target.message,
                                       policy=found, policies_ran=policy.policies,
                                       error=f"the policy pack denies this change: mandatory {names} (evaluated on "
                                       "the plan: this engine runs no pack)")
                jumps = minor_jumps(reviewed.changes) if op.operation == "up" and reviewed is not None else ()
                if jumps:  # EKS would refuse this in the middle of the update: stop before any change
                    return replace(base, status=Status.POLICY_DENIED, notes=notes, message=target.message, policy=jumps,
                                   policies_ran=policy.policies if policy else None,
                                   error="the engine's guard denies this change: mandatory "
                                   + named_violations(jumps))
                if op.operation == "up" and budget is not None and checks.costs is not None and not op.allow_older:
                    refused, planned, message = check_budget(ctx, op, target, budget, checks, reviewed, request)
                    if refused is not None:
                        return replace(base, status=Status.OVER_BUDGET, error=refused, notes=notes, message=message,
                                       cost=planned)
                    target = replace(target, message=message)
                if (op.operation == "up" and route is not None and route.rule.health is not None
                        and not ctx.options.skip_health and ctx.engine.runs_applications):
                    previous_healthy = ctx.engine.tags(op.stack).get("healthy-commit")
                final_target = target

                def attempt() -> Outcome:
                    # re-checked right before every attempt of an up: another runner (another CI job, another lock
                    # directory) may have deployed a newer commit while this one previewed or waited for the backend's lock
                    later = superseded(ctx, op, from_history=True) if op.operation == "up" else None
                    if later:
                        raise _Superseded(later)
                    return call(final_target, ctx.progress)

                outcome = retry_busy(ctx, op.stack, attempt)
    except _Superseded as exc:
        ctx.progress.message(f"superseded: {exc}")
        return replace(base, status=Status.SUPERSEDED, reason=str(exc), notes=notes)
    except StackMissing as exc:
        if op.operation != "destroy":
            raise
        return replace(base, status=Status.NONE, reason=f"{op.reason}: {exc}, nothing to destroy")
    except PolicyDenied as exc:
        # the CLI stopped the preview (or the up, or the preview before it) before any change
        return replace(base, status=Status.POLICY_DENIED, error=str(exc), message=target.message, notes=notes,
                       policy=policy.enrich(exc.violations) if policy else exc.violations,
                       policies_ran=policy.policies if policy else None,
                       outcome=Outcome(stack=op.stack, operation=op.operation, succeeded=False, changes=exc.planned,
                                       counts=count(c for c in exc.planned if not c.type.startswith("pulumi:"))))
    except OperationFailed as exc:
        signal_name = ctx.interrupted()
        if signal_name is not None and op.mutating:
            released = ctx.engine.release(op.stack)
            ctx.progress.message(f"{op.operation} of {op.stack} interrupted by {signal_name}: {released}")
            return replace(base, status=Status.INTERRUPTED, error=f"interrupted by {signal_name}: {exc}",
                           message=target.message, notes=(*notes, released))
        if signal_name is not None:
            return replace(base, status=Status.INTERRUPTED, error=f"interrupted by {signal_name}: {exc}", notes=notes)
        losses = [c for c in exc.planned if c.stateful_loss]
        if losses:  # say it even though the operation failed: the plan would have lost data
            notes = (*notes, "⚠️ before failing, it had planned to " + ", ".join(
                f"{c.op} {c.name} ({c.type}), which holds data" for c in losses))
        return replace(base, status=Status.FAILED, error=str(exc), message=target.message, notes=notes)
    report = with_policy(with_cost(replace(base, status=Status.SUCCEEDED, outcome=outcome, notes=notes,
                                             message=target.message if op.operation == "up" else None), checks),
                          policy, offline=not ctx.engine.runs_policy_pack)
    if op.operation == "preview" and request.pull_request is not None:
        # what the reviewer reads on the PR: its fingerprint is checked again when the PR is merged
        report = replace(report, plan_marker=fingerprint(outcome.changes).marker(op.stack, op.sha))
    if op.operation == "up" and route is not None and route.rule.health is not None and not ctx.options.skip_health:
        if ctx.engine.runs_applications:
            report = after_up(ctx, op, report, route.rule, previous_healthy, request)
        else:
            report = replace(report, notes=(*report.notes, "health check skipped: this engine deploys nothing that answers"))
    return report


def _engine_operation(engine: Engine, operation: str) -> Callable[[Target, Progress], Outcome]:
    """The engine call of a planned operation: an explicit table, so a new operation name cannot reach the engine."""
    table: dict[str, Callable[[Target, Progress], Outcome]] = {
        "preview": engine.preview, "up": engine.up, "destroy": engine.destroy, "refresh": engine.refresh}
    try:
        return table[operation]
    except KeyError:
        raise InternalError(f"operation {operation!r} has no engine call") from None


@dataclass(frozen=True)
class RunResult:
    """Every operation's report (those not reached are ``skipped``), and the error that stopped the run, if any."""

    reports: tuple[Report, ...]
    error: AutomationError | None = None


def run_all(ctx: RunContext, plan: Plan, request: Request, audit: AuditInfo | None) -> RunResult:
    """Run the plan's operations in order. A failed operation is reported and the next one still runs; an error
    that stops the run (bad input, a missing tool, a lock that never came, a bug) is reported on its operation,
    the remaining ones are reported as skipped, and the error is returned so the reports are published first."""
    reports: list[Report] = []
    for index, op in enumerate(plan.operations):
        signal_name = ctx.interrupted()
        if signal_name is not None:
            reports.extend(Report(stack=later.stack, operation=later.operation, status=Status.INTERRUPTED, commit=later.sha,
                                  reason=f"not started: {signal_name} received") for later in plan.operations[index:])
            break
        try:
            reports.append(run_operation(ctx, op, request, audit))
            continue
        except (ConfigError, ToolMissing, LockTimeout) as exc:
            error: AutomationError = exc
        except AutomationError as exc:
            reports.append(Report(stack=op.stack, operation=op.operation, status=Status.FAILED, reason=op.reason,
                                  commit=op.sha, error=str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - the one place a bug is turned into a report and exit 70
            error = InternalError(f"internal error during {op.operation} of {op.stack}: {type(exc).__name__}: {exc}")
            error.__cause__ = exc
        reports.append(Report(stack=op.stack, operation=op.operation, status=Status.FAILED, reason=op.reason,
                              commit=op.sha, error=str(error)))
        reports.extend(Report(stack=later.stack, operation=later.operation, status=Status.SKIPPED, commit=later.sha,
                              reason=f"not run: {op.operation} of {op.stack} stopped the run")
                       for later in plan.operations[index + 1:])
        return RunResult(tuple(reports), error)
    return RunResult(tuple(reports))


def run_plan(ctx: RunContext, plan: Plan, request: Request, audit: AuditInfo | None) -> tuple[Report, ...]:
    """Like run_all, raising the error that stopped the run (for callers that publish nothing)."""
    result = run_all(ctx, plan, request, audit)
    if result.error is not None:
        raise result.error
    return result.reports


#: a merge's plan differed from the reviewed one and was not applied (documented in README)
REFUSED_EXIT_CODE = 7


#: an up whose cost estimate would cross its stack's budget was not applied (documented in README)
OVER_BUDGET_EXIT_CODE = 8


#: the run was interrupted by SIGINT/SIGTERM (the shell's 128 + SIGINT)
INTERRUPTED_EXIT_CODE = 130


def exit_code(reports: tuple[Report, ...]) -> int:
    if any(r.status == Status.INTERRUPTED for r in reports):
        return INTERRUPTED_EXIT_CODE
    if any(r.failed for r in reports):
        return 1
    if any(r.status == Status.POLICY_DENIED for r in reports):
        return POLICY_DENIED_EXIT_CODE
    if any(r.status == Status.REFUSED for r in reports):
        return REFUSED_EXIT_CODE
    return OVER_BUDGET_EXIT_CODE if any(r.status == Status.OVER_BUDGET for r in reports) else 0
