"""The personal stacks' lifecycle: ``expire`` (destroy those past their ttl or whose branch is gone) and ``extend``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from automation.cli.results import (
    ExtendOutput,
    PlanOutput,
    ReportsOutput,
    Result,
)
from automation.cli.wiring import Context, engine_of, execute, git_of, operator_of, project_root
from automation.model.errors import ConfigError

if TYPE_CHECKING:
    from automation.cli.command_options import ExpireOptions, ExtendOptions


def cmd_expire(opts: ExpireOptions, ctx: Context) -> ReportsOutput | PlanOutput:
    from datetime import UTC, datetime

    from automation.config.environments import load_environments
    from automation.flow.planner import EXTENDED_TAG, expired
    from automation.model.request import Request

    root = project_root(opts.project_dir)
    envs = load_environments(root)
    now = opts.now or datetime.now(UTC)
    engine = engine_of(opts, root, ctx, envs)
    stacks = engine.stacks()
    extensions = {}
    for info in stacks:
        route = envs.by_stack(info.name)
        if route is not None and route.kind == "personal":
            value = engine.tags(info.name).get(EXTENDED_TAG)
            try:
                extensions[info.name] = datetime.fromisoformat(value) if value else None
            except ValueError:
                ctx.err.write(f"warning: {info.name}: tag {EXTENDED_TAG}={value!r} is not a time; ignored\n")
    git = git_of(root, ctx.environ)
    branches = None
    if opts.remote and git is not None:
        branches, how = git.remote_branches(opts.remote)
        if branches is None:
            ctx.err.write(f"warning: deleted branches not checked: {how}; only the ttl applies\n")
    the_plan = expired(envs, stacks, now, branches=branches,
                       extensions={k: v for k, v in extensions.items() if v is not None})
    _notify(the_plan.notices, ctx)
    if opts.dry_run:
        return PlanOutput(the_plan, command="expire")
    return execute(opts, ctx, root, envs, Request(event="schedule", actor="ttl"), git, the_plan, engine,
                    command="expire")


def _notify(notices: tuple[str, ...], ctx: Context) -> None:
    """Warnings for people: stderr, a GitHub Actions annotation, and the job summary."""
    if not notices:
        return
    for notice in notices:
        ctx.err.write(f"warning: {notice}\n")
        if ctx.environ.get("GITHUB_ACTIONS") == "true":
            ctx.out.write(f"::warning title=personal stack expiring::{notice}\n")
    summary = ctx.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write("### ⏳ Personal stacks about to expire\n\n" + "".join(f"- {n}\n" for n in notices) + "\n")
        except OSError as exc:
            ctx.err.write(f"warning: could not write the job summary: {exc.strerror}\n")


def cmd_extend(opts: ExtendOptions, ctx: Context) -> ExtendOutput:
    """Keep a personal stack past its ttl: it then expires ``--days`` from now (at the earliest)."""
    from datetime import UTC, datetime, timedelta

    from automation.config.environments import load_environments
    from automation.flow.planner import EXTENDED_TAG

    root = project_root(opts.project_dir)
    envs = load_environments(root)
    route = envs.by_stack(opts.stack)
    if route is None or route.kind != "personal":
        raise ConfigError(f"extend --stack {opts.stack!r}: only personal stacks expire (environment stacks never do)")
    if opts.days > 90:
        raise ConfigError(f"extend --days {opts.days}: at most 90 (extend again later if still needed)")
    engine = engine_of(opts, root, ctx, envs)
    until = (datetime.now(UTC) + timedelta(days=opts.days)).replace(microsecond=0)
    engine.set_tags(opts.stack, {EXTENDED_TAG: until.isoformat()})

    return ExtendOutput(opts.stack, until.isoformat(), operator_of(ctx, root) or "unknown")


#: this group's subcommands (automation.cli.main dispatches to them)
COMMANDS: dict[str, Callable[[Any, Context], Result]] = {"expire": cmd_expire, "extend": cmd_extend}
