"""The gates an operation passes before anything is applied: supersession (a newer commit already deployed), the
cost budget, the policy pack, and the reviewed plan (apply exactly what was reviewed). Each returns a verdict; the
runner acts on it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from automation.config.environments import Rule
from automation.config.prices import ProjectCosts, load_project
from automation.config.stackconfig import StackConfig
from automation.engines.port import Target
from automation.flow.context import RunContext, retry_busy
from automation.flow.planner import Operation
from automation.model.changes import PolicyViolation
from automation.model.outcome import Outcome
from automation.model.request import Request
from automation.review.cost import estimate as estimate_cost
from automation.review.cost_model import CostChange, money
from automation.review.costrender import headline
from automation.review.fingerprint import Review, ReviewMode, fingerprint, judge
from automation.review.policy import StackPolicy, environment_of, minor_jumps, stack_policy
from automation.review.render import Report, Status


def superseded(ctx: RunContext, op: Operation, *, from_history: bool = False) -> str | None:
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


def with_cost(report: Report, checks: Checks) -> Report:
    if report.outcome is None or report.stack is None:
        return report
    change, notes = cost_change(report.stack, report.outcome, checks)
    return replace(report, cost=change, notes=(*report.notes, *notes))


def check_budget(ctx: RunContext, op: Operation, target: Target, budget: float, checks: Checks,
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


def read_checks(ctx: RunContext, op: Operation, config: StackConfig | None, rule: Rule | None) -> Checks:
    """Read and validate costs.yaml and the stack's policy settings before anything runs (bad input: exit 2)."""
    if config is None or op.stack is None:
        return Checks()
    region = config.values.get("aws:region")
    return Checks(costs=load_project(ctx.root), budget=rule.budget_monthly_usd if rule is not None else None,
                  region=region if isinstance(region, str) else None,
                  policy=stack_policy(ctx.root, op.stack, environment_of(config.values), rule, ctx.envs.stateful),
                  hosts_others=ctx.envs.hosts_others(op.stack))


def named_violations(violations: Iterable[PolicyViolation]) -> str:
    """``policy (resource), ...`` of the violations that deny a change, for its error line."""
    return ", ".join(sorted({f"{v.policy} ({v.name})" for v in violations}))


def with_policy(report: Report, policy: StackPolicy | None, *, offline: bool) -> Report:
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
        names = named_violations(blocking)
        return replace(report, status=Status.POLICY_DENIED,
                       error=f"the policy pack denies this change: mandatory {names}"
                       + (" (evaluated offline)" if offline else ""))
    return report


def check_review(ctx: RunContext, op: Operation, target: Target, mode: ReviewMode, request: Request
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
