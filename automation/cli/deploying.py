"""The commands that deploy: ``plan`` (what the event would do), ``run`` (execute it), ``preview``/``up``/``destroy``/
``refresh`` of one stack, and ``rollback`` (an earlier deployed commit, guarded)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from automation.cli.results import (
    PlanOutput,
    ReportsOutput,
    Result,
)
from automation.cli.wiring import Context, engine_of, execute, git_of, operator_of, plan_event, project_root, run_context
from automation.model.errors import ConfigError

if TYPE_CHECKING:
    from automation.cli.command_options import RollbackOptions, RunOptions, StackOperationOptions
    from automation.cli.options import PlanOptions
    from automation.config.environments import Environments
    from automation.engines.port import Engine
    from automation.flow.planner import OperationName


def cmd_plan(opts: PlanOptions, ctx: Context) -> PlanOutput:

    _, _, _, _, the_plan = plan_event(opts, ctx)
    if opts.github_matrix:
        matrix = the_plan.github_matrix()
        out_file = ctx.environ.get("GITHUB_OUTPUT")
        if out_file:
            try:
                with open(out_file, "a", encoding="utf-8") as fh:
                    fh.write(f"matrix={json.dumps(matrix, separators=(',', ':'))}\n")
                    fh.write(f"has_work={'true' if matrix['include'] else 'false'}\n")
            except OSError as exc:
                raise ConfigError(f"GITHUB_OUTPUT {out_file}: cannot append the matrix ({exc.strerror})") from None
    return PlanOutput(the_plan, github_matrix=opts.github_matrix)


def cmd_run(opts: RunOptions, ctx: Context) -> ReportsOutput:
    from dataclasses import replace

    built: list[Engine] = []  # one engine for planning and running (its CLI is found and checked once)

    def engine_for(root: Path, envs: Environments) -> Engine:
        if not built:
            built.append(engine_of(opts, root, ctx, envs))
        return built[0]

    root, envs, request, git, the_plan = plan_event(opts, ctx, engine_for)
    if opts.only_stack:
        kept = tuple(op for op in the_plan.operations if op.stack == opts.only_stack)
        if not kept:
            raise ConfigError(f"--only-stack {opts.only_stack!r}: the plan for this event has no operation on that stack")
        the_plan = replace(the_plan, operations=kept)
    return execute(opts, ctx, root, envs, request, git, the_plan, engine_for(root, envs))


def cmd_stack_operation(opts: StackOperationOptions, ctx: Context) -> ReportsOutput:
    """One operation on one stack, planned like an event (automation.flow.planner.manual)."""
    from automation.config.environments import load_environments
    from automation.flow.planner import manual
    from automation.model.request import Request

    root = project_root(opts.project_dir)
    envs = load_environments(root)
    git = git_of(root, ctx.environ)
    who = operator_of(ctx, root) or "unknown"
    sha = opts.sha or (git.head() if git else None)
    the_plan = manual(envs, opts.stack, cast("OperationName", opts.command), sha=sha, actor=who, rollback=opts.rollback,
                      destroy_environment=opts.yes_destroy_environment)
    route = envs.by_stack(opts.stack)
    request = Request(event="manual", branch=route.branch if route else None, sha=sha, actor=who)
    return execute(opts, ctx, root, envs, request, git, the_plan, command=opts.command)


def cmd_rollback(opts: RollbackOptions, ctx: Context) -> ReportsOutput:
    """Deploy an earlier deployed commit's program, run by this engine from a temporary worktree, after a preview
    that refuses replacing or deleting stateful resources unless --allow-stateful-changes."""
    from automation.config.environments import load_environments
    from automation.flow.planner import rollback_commit
    from automation.flow.rollback import guarded_rollback
    from automation.review.render import Report, Status

    root = project_root(opts.project_dir)
    envs = load_environments(root)
    if envs.by_stack(opts.stack) is None:
        raise ConfigError(f"unknown stack {opts.stack!r}")
    git = git_of(root, ctx.environ)
    if git is None:
        raise ConfigError("rollback needs the git repository (it checks out the earlier commit in a worktree)")
    engine = engine_of(opts, root, ctx, envs)
    for problem in (engine.unavailable(), engine.preflight(envs.tools)):
        if problem is not None:
            raise problem
    current, sha = rollback_commit(engine.history(opts.stack, 100), to=opts.to, steps=opts.steps)
    actor = operator_of(ctx, root) or "unknown"
    run_ctx = run_context(opts, ctx, root, envs, engine, git)
    message = f"rollback of {opts.stack} to {sha[:7]} by {actor}: {opts.reason}"
    outcome = guarded_rollback(run_ctx, opts.stack, sha, message, actor=actor,
                               allow_stateful_changes=opts.allow_stateful_changes)
    report = Report(stack=opts.stack, operation="up", status=Status.SUCCEEDED, commit=sha, message=message,
                    reason=f"rollback from {current[:7]} to {sha[:7]}", outcome=outcome)
    return ReportsOutput("rollback", (report,), 0)


#: this group's subcommands (automation.cli.main dispatches to them)
COMMANDS: dict[str, Callable[[Any, Context], Result]] = {
    "plan": cmd_plan, "run": cmd_run, "rollback": cmd_rollback,
    **dict.fromkeys(("preview", "up", "destroy", "refresh"), cmd_stack_operation),
}
