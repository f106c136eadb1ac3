"""Execute a plan: for each operation, lock the stack, check supersession, run it, report.

Failures of one operation are reported and the others still run; the exit code reflects the worst.
Reporting (PR comment, job summary) never fails or undoes a deployment: its failures become notes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import tenacity

from automation.adapters.git import Git
from automation.adapters.health import probe
from automation.adapters.locking import StackLocks
from automation.config.environments import Environments, Rule
from automation.config.stackconfig import StackConfig
from automation.engines.port import Engine, Progress, Target
from automation.flow.planner import Operation, Plan, rollback_commit
from automation.model.changes import PolicyViolation
from automation.model.errors import (
    AutomationError,
    ConfigError,
    GuardRefused,
    InternalError,
    LockTimeout,
    OperationFailed,
    PolicyDenied,
    StackBusyError,
    StackMissing,
    ToolMissing,
)
from automation.model.health import HealthResult
from automation.model.outcome import Outcome
from automation.model.request import Request
from automation.model.snapshot import Snapshot, count, diff, from_json
from automation.review.audit import AuditInfo, audit_message
from automation.review.cost import CostChange, ProjectCosts, load_project, money
from automation.review.cost import estimate as estimate_cost
from automation.review.costrender import headline
from automation.review.fingerprint import Review, ReviewMode, fingerprint, judge
from automation.review.policy import POLICY_DENIED_EXIT_CODE, StackPolicy, environment_of, minor_jumps, stack_policy
from automation.review.render import Report, Status, change_text


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


class _Superseded(Exception):
    """A newer commit was deployed by another runner while this one waited: nothing is applied."""


def _superseded(ctx: RunContext, op: Operation, *, from_history: bool = False) -> str | None:
    """A reason if a newer commit of the branch is already deployed; None to go ahead. ``from_history``: read what is
    deployed from the update history (right before an up: see Engine.deployed_commit)."""
    if op.operation != "up" or op.allow_older or not op.sha or op.stack is None:
        return None
    deployed = ctx.engine.deployed_commit(op.stack, from_history=from_history)
    if not deployed or deployed == op.sha or ctx.git is None:
        return None
    newer = ctx.git.is_ancestor(op.sha, deployed)
    if newer is None and ctx.git.fetch(op.sha, deployed):
        newer = ctx.git.is_ancestor(op.sha, deployed)
    if newer is None:
        ctx.progress.message(f"cannot tell whether deployed {deployed[:7]} is newer than {op.sha[:7]}; deploying")
        return None
    if newer:
        return f"{deployed[:7]}, a newer commit of {op.branch}, is already deployed to {op.stack}"
    return None


def offline_outcome(ctx: RunContext, op: Operation, request: Request) -> Outcome:
    """The offline structural diff: synth at the PR's base commit against synth at its head."""
    assert op.stack is not None
    pr = request.pull_request
    if pr is None or not pr.base_sha:
        raise ConfigError("an offline diff needs the pull request's base commit (pull_request.base.sha)")
    if ctx.git is None:
        raise ConfigError("an offline diff needs the git repository (to check out the base commit)")
    synth = ctx.offline_synth or synth_snapshot
    base = _at(ctx, op.stack, pr.base_sha, synth)
    head = synth(ctx.root, op.stack, None)
    changes = diff(base, head)
    counts = count(changes)
    return Outcome(stack=op.stack, operation="preview", succeeded=True, changes=changes, counts=counts,
                   diff=change_text(changes), before=base, after=head)


def _at(ctx: RunContext, stack: str, sha: str, synth: Callable[[Path, str, str | None], Snapshot]) -> Snapshot:
    assert ctx.git is not None  # checked by the caller
    if not ctx.git.has_commit(sha) and not ctx.git.fetch(sha):
        raise ConfigError(f"base commit {sha[:7]} is not available locally or from origin; fetch more history")
    with ctx.git.worktree(sha) as tree:
        return synth(tree, stack, sha)


def synth_snapshot(root: Path, stack: str, _sha: str | None) -> Snapshot:
    """Synthesize ``stack`` of the project at ``root`` in a fresh process (its own program modules)."""
    engine_dir = Path(__file__).resolve().parents[2]  # the checkout holding automation/
    proc = subprocess.run([sys.executable, "-m", "automation", "--project-dir", str(root), "synth", "--stack", stack,
                           "--format", "json"], cwd=engine_dir, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise OperationFailed(f"offline synth of {stack} at {root} failed: {proc.stderr.strip()[-500:]}")
    doc = json.loads(proc.stdout)
    return from_json({r["urn"]: r for r in doc["resources"]})


@dataclass(frozen=True)
class Checks:
    """What a preview or up is checked against, read once before it runs: the project's costs.yaml, the stack's
    budget and region, and its policy pack settings (None each when they do not apply)."""

    costs: ProjectCosts | None = None
    budget: float | None = None
    region: str | None = None
    policy: StackPolicy | None = None
    #: other stacks run on this one (environments.yaml: a personal rule's template): its shared load balancer
    #: class is billed here (None: not known)
    hosts_others: bool | None = None


def cost_change(stack: str, outcome: Outcome, checks: Checks) -> tuple[CostChange | None, tuple[str, ...]]:
    """The monthly estimate before and after ``outcome`` (None if the engine reported no inventory), and notes.
    Never raises: a report (and a deployment) does not fail because its estimate did."""
    if outcome.after is None or checks.costs is None:
        return None, ()
    costs, where = checks.costs, checks.region
    try:
        after = estimate_cost(outcome.after.values(), stack=stack, region=where, project=costs,
                              hosts_others=checks.hosts_others)
        before = estimate_cost(outcome.before.values(), stack=stack, region=where, project=costs,
                               hosts_others=checks.hosts_others) \
            if outcome.before is not None else None
    except Exception as exc:  # noqa: BLE001 - an estimate is information: its failure is reported, not raised
        return None, (f"cost estimate not made: {type(exc).__name__}: {exc}",)
    return CostChange(after=after, before=before, budget=checks.budget), ()


def _with_cost(report: Report, checks: Checks) -> Report:
    if report.outcome is None or report.stack is None:
        return report
    change, notes = cost_change(report.stack, report.outcome, checks)
    return replace(report, cost=change, notes=(*report.notes, *notes))


def _check_budget(ctx: RunContext, op: Operation, target: Target, budget: float, checks: Checks,
                  preview: Outcome | None, request: Request) -> tuple[str | None, CostChange | None, str]:
    """Before an up of a stack with a budget: (refusal or None, the planned cost change, the audit message)."""
    assert op.stack is not None
    if preview is None:
        ctx.progress.message(f"previewing {op.stack} to check its cost against its budget of {money(budget)} per month")
        preview = retry_busy(ctx, op.stack, lambda: ctx.engine.preview(target, ctx.progress))
    change, _ = cost_change(op.stack, preview, checks)
    if change is None or not change.crosses_budget:
        return None, change, target.message
    what = (f"the cost estimate of {op.stack} after this change is up to {money(change.after.high)} per month "
            f"({headline(change)}), over its budget of {money(budget)} (budget_monthly_usd in environments.yaml)")
    override = ctx.options.accept_over_budget
    if override:
        who = ctx.options.operator or request.actor or "unknown"
        return None, change, f"{target.message} [over budget: {what}; accepted by {who}: {override}]"
    return (f"{what}; nothing was applied. Lower the cost, raise the budget, or re-run with --accept-over-budget REASON "
            "(workflow_dispatch input accept_over_budget; the reason is recorded in the audit message)"), change, target.message


def _checks(ctx: RunContext, op: Operation, config: StackConfig | None, rule: Rule | None) -> Checks:
    """Read and validate costs.yaml and the stack's policy settings before anything runs (bad input: exit 2)."""
    if config is None or op.stack is None:
        return Checks()
    region = config.values.get("aws:region")
    return Checks(costs=load_project(ctx.root), budget=rule.budget_monthly_usd if rule is not None else None,
                  region=region if isinstance(region, str) else None,
                  policy=stack_policy(ctx.root, op.stack, environment_of(config.values), rule, ctx.envs.stateful),
                  hosts_others=ctx.envs.hosts_others(op.stack))


def _named(violations: Iterable[PolicyViolation]) -> str:
    """``policy (resource), ...`` of the violations that deny a change, for its error line."""
    return ", ".join(sorted({f"{v.policy} ({v.name})" for v in violations}))


def _with_policy(report: Report, policy: StackPolicy | None, *, offline: bool) -> Report:
    """Attach the pack's verdicts to a report. Offline they are evaluated here on what synth recorded (and mandatory
    ones deny, as the CLI would); on the real CLI they came from its policy events, and the waived ones (which the
    pack does not report) are found by evaluating the same rules on the CLI's inputs, to be recorded."""
    out = report.outcome
    if out is None:
        return report
    jumps = minor_jumps(out.changes)  # the engine's own guard: EKS refuses these mid-update
    if policy is None and not jumps:
        return report
    if policy is None:
        found: tuple[PolicyViolation, ...] = ()
    elif offline:
        found = policy.evaluate(out.after.values()) if out.after is not None else ()
    else:
        waived = tuple(v for v in policy.evaluate(out.after.values()) if v.waived) if out.after is not None else ()
        found = (*policy.enrich(out.policy), *waived)
    report = replace(report, policy=(*jumps, *found), policies_ran=policy.policies if policy else report.policies_ran)
    blocking = [v for v in found if v.blocking and offline] + list(jumps)
    if blocking:
        names = _named(blocking)
        return replace(report, status=Status.POLICY_DENIED,
                       error=f"the policy pack denies this change: mandatory {names}"
                       + (" (evaluated offline)" if offline else ""))
    return report


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
    checks = _checks(ctx, op, config, route.rule if route else None)
    policy, budget = checks.policy, checks.budget
    if op.offline:
        return _with_policy(_with_cost(replace(base, status=Status.SUCCEEDED, offline=True,
                                               outcome=offline_outcome(ctx, op, request)), checks),
                            policy, offline=True)
    if op.operation == "destroy" and op.protected:
        return replace(base, status=Status.FAILED, error=f"stack {op.stack} is protected: destroy refused")
    unavailable = ctx.engine.unavailable()
    if unavailable is not None:
        if op.operation == "preview" and request.pull_request and request.pull_request.base_sha:
            offline = offline_outcome(ctx, op, request)
            return _with_policy(_with_cost(replace(base, status=Status.SUCCEEDED, offline=True, outcome=offline,
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
                why = _superseded(ctx, op)
                if why:
                    ctx.progress.message(f"superseded: {why}")
                    return replace(base, status=Status.SUPERSEDED, reason=why)
                merge = request.event == "push" or (request.event == "workflow_dispatch" and not op.allow_older
                                                    and ctx.options.accept_plan_change is not None)
                reviewed: Outcome | None = None
                if op.operation == "up" and merge and route is not None:
                    refused, notes, message, reviewed = _check_review(ctx, op, target, route.rule.reviewed_plan, request)
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
                        names = _named(v for v in found if v.blocking)
                        return replace(base, status=Status.POLICY_DENIED, notes=notes, message=target.message,
                                       policy=found, policies_ran=policy.policies,
                                       error=f"the policy pack denies this change: mandatory {names} (evaluated on "
                                       "the plan: this engine runs no pack)")
                jumps = minor_jumps(reviewed.changes) if op.operation == "up" and reviewed is not None else ()
                if jumps:  # EKS would refuse this in the middle of the update: stop before any change
                    return replace(base, status=Status.POLICY_DENIED, notes=notes, message=target.message, policy=jumps,
                                   policies_ran=policy.policies if policy else None,
                                   error="the engine's guard denies this change: mandatory "
                                   + _named(jumps))
                if op.operation == "up" and budget is not None and checks.costs is not None and not op.allow_older:
                    refused, planned, message = _check_budget(ctx, op, target, budget, checks, reviewed, request)
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
                    later = _superseded(ctx, op, from_history=True) if op.operation == "up" else None
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
    report = _with_policy(_with_cost(replace(base, status=Status.SUCCEEDED, outcome=outcome, notes=notes,
                                             message=target.message if op.operation == "up" else None), checks),
                          policy, offline=not ctx.engine.runs_policy_pack)
    if op.operation == "preview" and request.pull_request is not None:
        # what the reviewer reads on the PR: its fingerprint is checked again when the PR is merged
        report = replace(report, plan_marker=fingerprint(outcome.changes).marker(op.stack, op.sha))
    if op.operation == "up" and route is not None and route.rule.health is not None and not ctx.options.skip_health:
        if ctx.engine.runs_applications:
            report = _after_up(ctx, op, report, route.rule, previous_healthy, request)
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


def _check_review(ctx: RunContext, op: Operation, target: Target, mode: ReviewMode, request: Request
                  ) -> tuple[str | None, tuple[str, ...], str, Outcome | None]:
    """Compare the plan about to be applied with the one reviewed on the merged PR: (refusal or None, notes, message,
    the preview it ran or None)."""
    assert op.stack is not None
    if mode == "off":
        return None, (), target.message, None
    preview: Outcome | None = None
    review = ctx.review(op.stack) if ctx.review is not None else Review(
        None, None, None, unavailable="no GitHub access (GITHUB_TOKEN) to read the pull request's preview")
    if review is not None and review.plan is not None:
        ctx.progress.message(f"comparing the plan of {op.stack} with the preview reviewed on #{review.pr_number}")
        preview = retry_busy(ctx, op.stack, lambda: ctx.engine.preview(target, ctx.progress))
        merged = fingerprint(preview.changes)
    else:
        merged = fingerprint(())
    verdict = judge(review, merged, mode)
    notes = (verdict.summary, *verdict.differences)
    if verdict.ok:
        return None, notes, target.message, preview
    override = ctx.options.accept_plan_change
    if override:
        who = ctx.options.operator or request.actor or "unknown"
        return None, notes, f"{target.message} [plan differs from the reviewed one; accepted by {who}: {override}]", preview
    how = (f"the plan of {op.stack} is not the one reviewed ({verdict.summary}); nothing was applied. Re-run the "
           "pull request's preview and have it reviewed, or re-run this deployment with --accept-plan-change REASON "
           "(workflow_dispatch input accept_plan_change; the reason is recorded in the audit message)")
    return how, notes, target.message, preview


def _after_up(ctx: RunContext, op: Operation, report: Report, rule: Rule, previous_healthy: str | None,
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
