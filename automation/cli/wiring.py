"""The one place that builds what commands run with, from their options: the project root, git, the request of the
event and its plan, engines, the redactor, and the run context (progress, locks, gates) of an execution. Heavy modules
are imported where they are used, so ``plan`` loads no engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from automation.cli.results import (
    ReportsOutput,
)
from automation.model.errors import AutomationError, ConfigError

if TYPE_CHECKING:
    from automation.adapters.git import Git
    from automation.cli.command_options import EngineOptions, ExecOptions
    from automation.cli.options import EventOptions
    from automation.config.environments import Environments
    from automation.engines.port import Engine
    from automation.flow.context import RunContext
    from automation.flow.planner import Plan
    from automation.model.request import Request
    from automation.review.redact import Redactor


@dataclass(frozen=True)
class Context:
    """What a command may touch besides its arguments: passed in, so tests need no global patching."""

    environ: Mapping[str, str]
    out: TextIO
    err: TextIO


def project_root(arg: str | None) -> Path:
    root = Path(arg) if arg else Path(__file__).resolve().parents[2]
    if not (root / "Pulumi.yaml").is_file():
        raise ConfigError(f"{root} is not a Pulumi project (no Pulumi.yaml); pass --project-dir")
    return root.resolve()


def git_of(root: Path, environ: Mapping[str, str]) -> Git | None:
    from automation.adapters.git import Git

    if not (root / ".git").exists():
        return None
    return Git(root, environ={k: v for k, v in environ.items() if k in ("PATH", "HOME")} or None)


def request_of(opts: EventOptions, ctx: Context) -> Request:
    from automation.flow.events import from_environ, from_flags

    if opts.branch:
        return from_flags(opts.branch, opts.sha, opts.base, pr_number=opts.pr, title=opts.title, author=opts.author,
                          changed_files=tuple(opts.changed_file) if opts.changed_file else None, deleted=opts.deleted,
                          before=opts.before)
    return from_environ(ctx.environ, opts.event_name, opts.event_path)


def plan_event(opts: EventOptions, ctx: Context, engine_for: Callable[[Path, Environments], Engine] | None = None
          ) -> tuple[Path, Environments, Request, Git | None, Plan]:
    """The plan of the current event. ``engine_for``: for a new branch or a force push, read the commit the
    stack last deployed from that engine, so only what changed since then counts (``plan`` loads no engine)."""
    from automation.adapters.git import changed_files
    from automation.config.environments import load_environments
    from automation.flow.planner import plan

    root = project_root(opts.project_dir)
    envs = load_environments(root)
    if any(getattr(rule, "policy", None) is not None for rule in envs.rules):  # only then is there a name to check
        from automation.review.policy import check_rules

        check_rules(root, envs.rules)
    request = request_of(opts, ctx)
    git = git_of(root, ctx.environ)
    if request.event == "workflow_dispatch" and request.sha is None:
        # Without a `sha` input the run deploys the head of the ref it was started from: name that commit, so
        # the work-tree and supersession checks apply as for a push.
        from dataclasses import replace

        head = ctx.environ.get("GITHUB_SHA") or (git.head() if git else None)
        request = replace(request, sha=head)
    deployed = None
    if engine_for is not None and request.branch:
        route = envs.route(request.branch)
        make_engine = engine_for

        def deployed() -> str | None:
            engine = make_engine(root, envs)
            if route is None or engine.unavailable() is not None:
                return None
            try:
                return engine.deployed_commit(route.stack)
            except AutomationError:
                return None  # cannot tell: the whole stack is deployed
    changes = (changed_files(request, git, deployed) if request.event in ("push", "manual") and request.branch
               else None)
    return root, envs, request, git, plan(request, envs, changes)


def engine_of(opts: EngineOptions, root: Path, ctx: Context, envs: Environments | None = None) -> Engine:
    if opts.engine == "memory":
        from automation.engines.memory_engine import MemoryEngine, synth_program

        state = Path(opts.state_dir) if opts.state_dir else root / ".pulumi-state" / "memory"
        return MemoryEngine(state, synth_program(root), step_delay_s=opts.memory_step_delay)
    from automation.config.environments import load_environments
    from automation.engines.pulumi_engine import PulumiEngine

    backend = opts.backend_url or ctx.environ.get("PULUMI_BACKEND_URL") or None  # an unset Actions secret is ""
    in_ci = ctx.environ.get("CI", "").lower() in ("true", "1")
    return PulumiEngine(root, backend_url=backend, refuse_local_state=in_ci and backend is None,
                        secrets_provider=opts.secrets_provider, install_cli=opts.install_cli, environ=ctx.environ,
                        cli_root=opts.pulumi_root, stateful=(envs or load_environments(root)).is_stateful)


def redactor_of(ctx: Context) -> Redactor:
    from automation.review.redact import Redactor

    return Redactor.from_environ(ctx.environ)


def execute(opts: ExecOptions, ctx: Context, root: Path, envs: Environments, request: Request,
             git: Git | None, the_plan: Plan, engine: Engine | None = None, command: str = "run") -> ReportsOutput:
    from dataclasses import replace

    from automation.adapters.interrupt import Interrupts
    from automation.flow.publish import github_client, publish, resolve_audit, review_lookup
    from automation.flow.runner import exit_code, run_all

    engine = engine or engine_of(opts, root, ctx, envs)
    gh = github_client(ctx.environ, request)
    try:
        audit = resolve_audit(request, gh, ctx.err) if any(op.operation == "up" for op in the_plan.operations) else None
        run_ctx = run_context(opts, ctx, root, envs, engine, git, allow_dirty=opts.allow_dirty,
                              accept_plan_change=opts.accept_plan_change, accept_over_budget=opts.accept_over_budget,
                              operator=operator_of(ctx, root), skip_health=opts.skip_health_check)
        if request.event in ("push", "workflow_dispatch"):
            run_ctx = replace(run_ctx, review=review_lookup(gh, audit, request))
        progress = run_ctx.progress
        with Interrupts(progress.message, grace_s=opts.stop_grace).installed() as interrupts:
            result = run_all(replace(run_ctx, interrupted=interrupts), the_plan, request, audit)
        # every finished operation's report is published, even when a later one stopped the run
        publish(result.reports, request, ctx.environ, gh, redactor_of(ctx), ctx.err)
        return ReportsOutput(command, result.reports, exit_code(result.reports), result.error)
    finally:
        if gh is not None:
            gh.close()


def run_context(opts: EngineOptions, ctx: Context, root: Path, envs: Environments, engine: Engine, git: Git | None,
                **gates: Any) -> RunContext:
    """What a plan's operations run with: progress on stderr (redacted, with heartbeats), the per-stack locks, the
    busy-backend retries, ``gates`` (the deploy gates' overrides and the operator: automation.flow.runner.RunOptions),
    and how to build an engine for another work tree (a rollback's). The one place that builds these."""
    from automation.adapters.locking import StackLocks
    from automation.engines.port import Progress
    from automation.flow.context import RunContext, RunOptions

    progress = Progress(ctx.err, redact=redactor_of(ctx), heartbeat_s=opts.heartbeat)
    lock_dir = Path(opts.lock_dir) if opts.lock_dir else root / ".pulumi-state" / "locks"
    return RunContext(root=root, envs=envs, engine=engine, git=git, progress=progress,
                      locks=StackLocks(lock_dir, opts.lock_timeout, notify=progress.message),
                      options=RunOptions(busy_attempts=opts.busy_attempts, busy_base_wait_s=opts.busy_wait,
                                         busy_max_wait_s=max(opts.busy_wait, 120.0), **gates),
                      engine_for=lambda tree, tree_envs: engine_of(opts, tree, ctx, tree_envs))


def operator_of(ctx: Context, root: Path | None = None) -> str | None:
    """Who runs the engine: the person who started (or re-ran) the workflow, else the local user, else git's
    ``user.name`` of the project (a shell without $USER)."""
    for key in ("GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR", "USER", "LOGNAME"):
        if ctx.environ.get(key):
            return ctx.environ[key]
    git = git_of(root, ctx.environ) if root is not None else None
    return git.user_name() if git is not None else None
