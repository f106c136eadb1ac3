"""Day-2 commands: ``drift`` (with remediation and issues), ``history``, ``status`` and ``recover``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.cli.results import (
    HistoryOutput,
    ReportsOutput,
    Result,
    StatusOutput,
)
from automation.cli.wiring import Context, engine_of, git_of, operator_of, project_root, redactor_of, run_context
from automation.model.errors import ConfigError

if TYPE_CHECKING:
    from automation.adapters.github import GitHubClient
    from automation.cli.command_options import DriftOptions, EngineOptions, HistoryOptions, RecoverOptions, StatusOptions
    from automation.engines.pulumi_engine import PulumiEngine
    from automation.flow.context import RunContext
    from automation.model.request import Request
    from automation.review.redact import Redactor
    from automation.review.render import Report


def cmd_history(opts: HistoryOptions, ctx: Context) -> HistoryOutput:
    from automation.config.environments import load_environments

    root = project_root(opts.project_dir)
    envs = load_environments(root)
    if envs.by_stack(opts.stack) is None:
        raise ConfigError(f"unknown stack {opts.stack!r}")
    return HistoryOutput(opts.stack, engine_of(opts, root, ctx, envs).history(opts.stack, opts.limit))


#: `drift` found resources whose cloud state differs from the recorded one (documented in README).
DRIFT_EXIT_CODE = 5


DRIFT_LABEL = "ghost-gitops-drift"


def cmd_drift(opts: DriftOptions, ctx: Context) -> ReportsOutput:
    """Refresh previews of environment stacks: exit 5 when any resource drifted, with each one and its keys.
    ``--remediate`` refreshes and re-applies the stacks whose rule allows it; ``--issues`` keeps one GitHub issue per
    drifted stack (opened, updated, closed when clean)."""
    import functools
    from dataclasses import replace

    from automation.config.environments import load_environments
    from automation.engines.port import Target
    from automation.flow.context import retry_busy
    from automation.flow.publish import github_client, publish
    from automation.model.errors import StackMissing
    from automation.model.request import Request
    from automation.review.render import Report, Status

    root = project_root(opts.project_dir)
    envs = load_environments(root)
    stacks = opts.stack or list(envs.environment_stacks())
    for stack in stacks:  # environments by default; a personal stack when named
        if envs.by_stack(stack) is None:
            raise ConfigError(f"drift --stack {stack!r}: not a stack of {envs.source} (environments: "
                              f"{', '.join(envs.environment_stacks())}; personal stacks by their name, e.g. dev-alice)")
    request = Request(event="schedule", actor=operator_of(ctx, root))
    gh = github_client(ctx.environ, request) if opts.issues else None
    if opts.issues and gh is None:
        raise ConfigError("drift --issues needs GITHUB_TOKEN and GITHUB_REPOSITORY (the workflow's token with "
                          "`issues: write`)")
    engine = engine_of(opts, root, ctx, envs)
    for problem in (engine.unavailable(), engine.preflight(envs.tools)):
        if problem is not None:
            raise problem
    run_ctx = run_context(opts, ctx, root, envs, engine, git_of(root, ctx.environ))
    progress = run_ctx.progress

    def check(stack: str) -> Report:
        target = Target(stack=stack, config=envs.stack_config(root, stack), message=f"drift check of {stack}")
        try:
            outcome = retry_busy(run_ctx, stack, functools.partial(engine.drift, target, progress))
        except StackMissing:
            return Report(stack=stack, operation="drift", status=Status.NONE, reason=f"{stack} is not deployed")
        drifted = [c for c in outcome.changes if c.op != "same"]
        reason = (f"{len(drifted)} resource(s) differ from the recorded state: "
                  + "; ".join(f"{c.op} {c.type} {c.name}" + (f" [{', '.join(c.keys)}]" if c.keys else "") for c in drifted)
                  if drifted else "no drift: the cloud matches the recorded state")
        return Report(stack=stack, operation="drift", status=Status.DRIFTED if drifted else Status.SUCCEEDED, reason=reason,
                      outcome=outcome)

    reports = [check(stack) for stack in stacks]
    if opts.remediate:
        reports = [_remediate(run_ctx, report, request, check) if report.status == Status.DRIFTED else report
                   for report in reports]
    redact = redactor_of(ctx)
    try:
        if gh is not None:
            reports = [replace(r, notes=(*r.notes, _drift_issue(gh, r, redact))) for r in reports if r.stack]
        publish(tuple(reports), request, ctx.environ, None, redact, ctx.err)
    finally:
        if gh is not None:
            gh.close()
    return ReportsOutput("drift", tuple(reports),
                         DRIFT_EXIT_CODE if any(r.status == Status.DRIFTED for r in reports) else 0)


def _remediate(run_ctx: RunContext, report: Report, request: Request, check: Callable[[str], Report]) -> Report:
    """Refresh (accept what the cloud holds), then `up` (re-apply the program), then check again."""
    from dataclasses import replace

    from automation.flow.planner import Operation, Plan
    from automation.flow.runner import run_all
    from automation.review.render import Status

    assert report.stack is not None
    route = run_ctx.envs.by_stack(report.stack)
    assert route is not None
    if not route.rule.drift_remediation:
        return replace(report, notes=(*report.notes, f"not remediated: drift_remediation is off for {report.stack} "
                                      f"in {run_ctx.envs.source}; a person decides (`up` re-applies the program)"))
    sha = run_ctx.git.head() if run_ctx.git is not None else None
    who = request.actor or "unknown"
    reason = f"drift remediation of {report.stack} by {who}"
    ops = (Operation(stack=report.stack, operation="refresh", branch=route.branch, sha=sha, kind=route.kind,
                     reason=f"{reason}: record what the cloud holds"),
           Operation(stack=report.stack, operation="up", branch=route.branch, sha=sha, kind=route.kind,
                     reason=f"{reason}: re-apply the program at {(sha or 'the work tree')[:7]}"))
    result = run_all(run_ctx, Plan("schedule", ops), request, None)
    problems = [f"{r.operation}: {r.error}" for r in result.reports if r.failed or r.status != Status.SUCCEEDED]
    if result.error is not None or problems:
        detail = str(result.error) if result.error is not None else "; ".join(problems)
        return replace(report, error=f"remediation failed: {detail}")
    after = check(report.stack)
    if after.status == Status.SUCCEEDED:
        return replace(after, status=Status.REMEDIATED, reason=f"drift remediated (refresh, then up of "
                       f"{(sha or 'the work tree')[:7]}): {report.reason}")
    return replace(after, notes=(*after.notes, "remediation ran but the stack still drifts"))


def _drift_issue(gh: GitHubClient, report: Report, redact: Redactor) -> str:
    """Keep the stack's drift issue in step with the report; says what it did."""
    from datetime import UTC, datetime

    from automation.adapters.github import GitHubError
    from automation.review.render import Status, render_markdown

    assert report.stack is not None
    marker = f"<!-- ghost-gitops:drift stack={report.stack} -->"
    try:
        if report.status == Status.DRIFTED:
            body = (f"{marker}\nThe nightly drift check found resources of `{report.stack}` that differ from the "
                    "recorded state. Re-apply the program (`python -m automation drift --stack "
                    f"{report.stack} --remediate`, where `drift_remediation` allows it, or an `up`), or bring the "
                    "change into the code. This issue is updated by every check and closed when the stack is "
                    "clean.\n\n" + render_markdown(report, redact=redact, limit=60_000))
            number, what = gh.open_or_update_issue(marker, DRIFT_LABEL, f"Drift detected in stack {report.stack}", body)
            return f"drift issue #{number} {what}"
        if report.status in (Status.SUCCEEDED, Status.REMEDIATED):
            when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            closed = gh.close_issue(marker, DRIFT_LABEL, f"No drift in `{report.stack}` as of {when}: "
                                    f"{redact(report.reason)}")
            return f"drift issue #{closed} closed" if closed else "no open drift issue"
    except GitHubError as exc:
        return f"drift issue not updated: {exc}"
    return "no drift issue change"


def _pulumi_engine(opts: EngineOptions, root: Path, ctx: Context) -> PulumiEngine:
    from automation.engines.pulumi_engine import PulumiEngine

    engine = engine_of(opts, root, ctx)
    if not isinstance(engine, PulumiEngine):
        raise ConfigError(f"{opts.command} needs the Pulumi engine (--engine pulumi): it reads the state backend")
    problem = engine.unavailable()
    if problem is not None:
        raise problem
    return engine


def _known_stack(root: Path, stack: str) -> None:
    from automation.config.environments import load_environments

    envs = load_environments(root)
    if envs.by_stack(stack) is None:
        raise ConfigError(f"unknown stack {stack!r}: no rule in {envs.source} maps a branch to it "
                          f"(environments: {', '.join(envs.environment_stacks())}, and personal stacks)")


def cmd_status(opts: StatusOptions, ctx: Context) -> StatusOutput:

    root = project_root(opts.project_dir)
    _known_stack(root, opts.stack)
    return StatusOutput(_pulumi_engine(opts, root, ctx).status(opts.stack))


def cmd_recover(opts: RecoverOptions, ctx: Context) -> StatusOutput:
    from automation.engines.port import Progress

    root = project_root(opts.project_dir)
    restore = (operator_of(ctx, root) or "unknown", (opts.reason or "").strip()) if opts.restore_checkpoint else None
    _known_stack(root, opts.stack)
    return StatusOutput(_pulumi_engine(opts, root, ctx).recover(opts.stack, Progress(ctx.err, redact=redactor_of(ctx)),
                                                                restore=restore), command="recover")


#: this group's subcommands (automation.cli.main dispatches to them)
COMMANDS: dict[str, Callable[[Any, Context], Result]] = {"drift": cmd_drift, "history": cmd_history, "status": cmd_status, "recover": cmd_recover}
