"""Command line: parse arguments, run one command, render its result, map errors to exit codes.

This is the one error boundary: every ``AutomationError`` becomes its documented exit code and a
one-line message on stderr; nothing else prints a traceback unless ``--debug`` is given. Commands
import what they need lazily so that ``environments`` and ``plan`` never load the Pulumi providers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from automation.errors import AutomationError, ConfigError, InternalError

if TYPE_CHECKING:
    from automation.engine import Engine
    from automation.environments import Environments
    from automation.events import Request
    from automation.git import Git
    from automation.github import GitHubClient
    from automation.planner import Plan
    from automation.pulumi_engine import PulumiEngine
    from automation.render import Redactor, Report
    from automation.runner import RunContext


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see --help)")


@dataclass(frozen=True)
class Context:
    """What a command may touch besides its arguments: passed in, so tests need no global patching."""

    environ: Mapping[str, str]
    out: TextIO
    err: TextIO


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def _timestamp(text: str) -> Any:
    from datetime import datetime

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-12-24T00:00:00+00:00)") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (add +00:00)")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must not be negative")
    return value


def _project_root(arg: str | None) -> Path:
    root = Path(arg) if arg else Path(__file__).resolve().parent.parent
    if not (root / "Pulumi.yaml").is_file():
        raise ConfigError(f"{root} is not a Pulumi project (no Pulumi.yaml); pass --project-dir")
    return root.resolve()


def _git(root: Path, environ: Mapping[str, str]) -> Git | None:
    from automation.git import Git

    if not (root / ".git").exists():
        return None
    return Git(root, environ={k: v for k, v in environ.items() if k in ("PATH", "HOME")} or None)


# -- synth -----------------------------------------------------------------------------------------
def cmd_synth(args: argparse.Namespace, ctx: Context) -> int:
    import yaml

    from automation.environments import FILE_NAME, load_environments
    from automation.stackconfig import load_stack_config
    from automation.synth import render_tree, synthesize

    root = _project_root(args.project_dir)
    config = (load_environments(root).stack_config(root, args.stack) if (root / FILE_NAME).exists()
              else load_stack_config(root, args.stack))
    result = synthesize(root, config)
    if args.manifests:
        target = Path(args.manifests)
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--manifests {target}: cannot create the directory ({exc.strerror})") from None
        count = 0
        for res, manifest in result.manifests():
            (target / f"{str(manifest['kind']).lower()}-{res.name}.yaml").write_text(
                yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
            count += 1
        print(f"wrote {count} Kubernetes manifests to {target}", file=ctx.err)
    if args.format == "json":
        json.dump(result.to_json(), ctx.out, indent=2, sort_keys=True)
        ctx.out.write("\n")
    else:
        ctx.out.write(render_tree(result) + "\n")
    return 0


# -- environments ----------------------------------------------------------------------------------
def cmd_environments(args: argparse.Namespace, ctx: Context) -> int:
    from automation.environments import load_environments

    envs = load_environments(_project_root(args.project_dir))
    rows = [("#", "branch", "stack", "kind", "options")]
    for i, rule in enumerate(envs.rules, 1):
        opts = [f"template={rule.template}"] if rule.template else []
        opts += ["auto_destroy"] if rule.auto_destroy else []
        opts += [f"ttl={rule.ttl_days}d"] if rule.ttl_days else []
        opts += ["protected"] if rule.protected else []
        opts += ["own infra_paths"] if rule.infra_paths is not None else []
        rows.append((str(i), rule.branch, rule.stack, rule.kind, " ".join(opts) or "-"))
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    for row in rows:
        ctx.out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
    ctx.out.write(f"infra paths (default): {', '.join(envs.infra_paths)}\n")
    for branch in args.branch or ():
        route = envs.route(branch)
        if route is None:
            ctx.out.write(f"branch {branch!r}: no rule matches (nothing is deployed)\n")
        else:
            ctx.out.write(f"branch {branch!r}: rule {route.rule_index + 1} ({route.rule.branch}) -> stack {route.stack} "
                          f"({route.kind})\n")
    return 0


# -- plan / run ------------------------------------------------------------------------------------
def _request(args: argparse.Namespace, ctx: Context) -> Request:
    from automation.events import from_environ, from_flags

    if args.branch:
        return from_flags(args.branch, args.sha, args.base, pr_number=args.pr, title=args.title, author=args.author,
                          changed_files=tuple(args.changed_file) if args.changed_file else None, deleted=args.deleted,
                          before=args.before)
    return from_environ(ctx.environ, args.event_name, args.event_path)


def _plan(args: argparse.Namespace, ctx: Context, engine_for: Callable[[Path, Environments], Engine] | None = None
          ) -> tuple[Path, Environments, Request, Git | None, Plan]:
    """The plan of the current event. ``engine_for``: for a new branch or a force push, read the commit the
    stack last deployed from that engine, so only what changed since then counts (``plan`` loads no engine)."""
    from automation.environments import load_environments
    from automation.git import changed_files
    from automation.planner import plan

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    request = _request(args, ctx)
    git = _git(root, ctx.environ)
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


def cmd_plan(args: argparse.Namespace, ctx: Context) -> int:
    _, _, _, _, the_plan = _plan(args, ctx)
    if args.github_matrix:
        matrix = the_plan.github_matrix()
        ctx.out.write(json.dumps(matrix, separators=(",", ":")) + "\n")
        out_file = ctx.environ.get("GITHUB_OUTPUT")
        if out_file:
            try:
                with open(out_file, "a", encoding="utf-8") as fh:
                    fh.write(f"matrix={json.dumps(matrix, separators=(',', ':'))}\n")
                    fh.write(f"has_work={'true' if matrix['include'] else 'false'}\n")
            except OSError as exc:
                raise ConfigError(f"GITHUB_OUTPUT {out_file}: cannot append the matrix ({exc.strerror})") from None
    else:
        json.dump(the_plan.to_json(), ctx.out, indent=2)
        ctx.out.write("\n")
    return 0


def _engine(args: argparse.Namespace, root: Path, ctx: Context, envs: Environments | None = None) -> Engine:
    if args.engine == "memory":
        from automation.memory_engine import MemoryEngine, synth_program

        state = Path(args.state_dir) if args.state_dir else root / ".pulumi-state" / "memory"
        return MemoryEngine(state, synth_program(root), step_delay_s=args.memory_step_delay)
    from automation.environments import load_environments
    from automation.pulumi_engine import PulumiEngine

    backend = args.backend_url or ctx.environ.get("PULUMI_BACKEND_URL") or None  # an unset Actions secret is ""
    in_ci = ctx.environ.get("CI", "").lower() in ("true", "1")
    return PulumiEngine(root, backend_url=backend, refuse_local_state=in_ci and backend is None,
                        secrets_provider=args.secrets_provider, install_cli=args.install_cli, environ=ctx.environ,
                        cli_root=args.pulumi_root, stateful=(envs or load_environments(root)).is_stateful)


def _redactor(ctx: Context) -> Redactor:
    from automation.render import Redactor

    return Redactor.from_environ(ctx.environ)


def _execute(args: argparse.Namespace, ctx: Context, root: Path, envs: Environments, request: Request,
             git: Git | None, the_plan: Plan, engine: Engine | None = None) -> int:
    from dataclasses import replace

    from automation.engine import Progress
    from automation.interrupt import Interrupts
    from automation.locking import StackLocks
    from automation.publish import github_client, publish, resolve_audit, review_lookup
    from automation.runner import RunContext, RunOptions, exit_code, run_all

    progress = Progress(ctx.err, redact=_redactor(ctx), heartbeat_s=args.heartbeat)
    lock_dir = Path(args.lock_dir) if args.lock_dir else root / ".pulumi-state" / "locks"
    engine = engine or _engine(args, root, ctx, envs)
    gh = github_client(ctx.environ, request)
    try:
        audit = resolve_audit(request, gh, ctx.err) if any(op.operation == "up" for op in the_plan.operations) else None
        run_ctx = RunContext(root=root, envs=envs, engine=engine, git=git, progress=progress,
                             locks=StackLocks(lock_dir, args.lock_timeout, notify=progress.message),
                             options=RunOptions(busy_attempts=args.busy_attempts, busy_base_wait_s=args.busy_wait,
                                                busy_max_wait_s=max(args.busy_wait, 120.0),
                                                allow_dirty=getattr(args, "allow_dirty", False),
                                                accept_plan_change=_override(args), operator=_operator(ctx),
                                                skip_health=getattr(args, "skip_health_check", False)),
                             review=review_lookup(gh, audit, request)
                             if request.event in ("push", "workflow_dispatch") else None,
                             engine_for=lambda tree, tree_envs: _engine(args, tree, ctx, tree_envs))
        with Interrupts(progress.message, grace_s=args.stop_grace).installed() as interrupts:
            result = run_all(replace(run_ctx, interrupted=interrupts), the_plan, request, audit)
        redact = _redactor(ctx)
        _emit(result.reports, args, ctx, redact)  # every finished operation's report is published,
        publish(result.reports, request, ctx.environ, gh, redact, ctx.err)  # even when a later one stopped the run
        if result.error is not None:
            raise result.error
        return exit_code(result.reports)
    finally:
        if gh is not None:
            gh.close()


def _operator(ctx: Context) -> str | None:
    """Who runs the engine: the person who started (or re-ran) the workflow, else the local user."""
    for key in ("GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR", "USER"):
        if ctx.environ.get(key):
            return ctx.environ[key]
    return None


def _override(args: argparse.Namespace) -> str | None:
    reason: str | None = getattr(args, "accept_plan_change", None)
    if reason is not None and not reason.strip():
        raise ConfigError("--accept-plan-change needs a reason (it is recorded in the audit message)")
    return reason.strip() if reason else None


def _emit(reports: tuple[Report, ...], args: argparse.Namespace, ctx: Context, redact: Redactor) -> None:
    from automation.render import render_text

    if args.json:
        ctx.out.write(redact(json.dumps({"reports": [r.to_json() for r in reports]}, indent=2, default=str)) + "\n")
    else:
        for report in reports:
            ctx.out.write(render_text(report, redact) + "\n")


def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    from dataclasses import replace

    built: list[Engine] = []  # one engine for planning and running (its CLI is found and checked once)

    def engine_for(root: Path, envs: Environments) -> Engine:
        if not built:
            built.append(_engine(args, root, ctx, envs))
        return built[0]

    root, envs, request, git, the_plan = _plan(args, ctx, engine_for)
    if args.only_stack:
        kept = tuple(op for op in the_plan.operations if op.stack == args.only_stack)
        if not kept:
            raise ConfigError(f"--only-stack {args.only_stack!r}: the plan for this event has no operation on that stack")
        the_plan = replace(the_plan, operations=kept)
    return _execute(args, ctx, root, envs, request, git, the_plan, engine_for(root, envs))


def cmd_stack_operation(args: argparse.Namespace, ctx: Context) -> int:
    from automation.environments import load_environments
    from automation.events import SHA, Request
    from automation.planner import Operation, Plan

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    route = envs.by_stack(args.stack)
    if route is None:
        raise ConfigError(f"unknown stack {args.stack!r}: no rule in {envs.source} maps a branch to it "
                          f"(known: {', '.join(envs.environment_stacks())}, and personal stacks)")
    if args.command == "destroy" and route.kind == "environment" and not args.yes_destroy_environment:
        raise ConfigError(f"{args.stack} is an environment stack: destroying it needs --yes-destroy-environment")
    if args.sha is not None and not SHA.match(args.sha):
        raise ConfigError("--sha must be a full 40-character commit SHA")
    git = _git(root, ctx.environ)
    sha = args.sha or (git.head() if git else None)
    who = ctx.environ.get("GITHUB_ACTOR") or ctx.environ.get("USER") or "unknown"
    op = Operation(stack=route.stack, operation=args.command, reason=f"manual {args.command} of {route.stack} by {who}",
                   branch=route.branch, sha=sha, kind=route.kind, protected=route.rule.protected,
                   allow_older=args.command == "up" and args.rollback)
    request = Request(event="manual", branch=route.branch, sha=sha, actor=who)
    return _execute(args, ctx, root, envs, request, git, Plan("manual", (op,)))


def cmd_expire(args: argparse.Namespace, ctx: Context) -> int:
    from datetime import UTC, datetime

    from automation.environments import load_environments
    from automation.events import Request
    from automation.planner import EXTENDED_TAG, expired

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    now = args.now or datetime.now(UTC)
    engine = _engine(args, root, ctx, envs)
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
    git = _git(root, ctx.environ)
    branches = None
    if args.remote and git is not None:
        branches, how = git.remote_branches(args.remote)
        if branches is None:
            ctx.err.write(f"warning: deleted branches not checked: {how}; only the ttl applies\n")
    the_plan = expired(envs, stacks, now, branches=branches,
                       extensions={k: v for k, v in extensions.items() if v is not None})
    _notify(the_plan.notices, ctx)
    if args.dry_run:
        json.dump(the_plan.to_json(), ctx.out, indent=2)
        ctx.out.write("\n")
        return 0
    return _execute(args, ctx, root, envs, Request(event="schedule", actor="ttl"), git, the_plan, engine)


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


def cmd_extend(args: argparse.Namespace, ctx: Context) -> int:
    """Keep a personal stack past its ttl: it then expires ``--days`` from now (at the earliest)."""
    from datetime import UTC, datetime, timedelta

    from automation.environments import load_environments
    from automation.planner import EXTENDED_TAG

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    route = envs.by_stack(args.stack)
    if route is None or route.kind != "personal":
        raise ConfigError(f"extend --stack {args.stack!r}: only personal stacks expire (environment stacks never do)")
    if args.days > 90:
        raise ConfigError(f"extend --days {args.days}: at most 90 (extend again later if still needed)")
    engine = _engine(args, root, ctx, envs)
    until = (datetime.now(UTC) + timedelta(days=args.days)).replace(microsecond=0)
    engine.set_tags(args.stack, {EXTENDED_TAG: until.isoformat()})
    who = _operator(ctx) or "unknown"
    if args.json:
        ctx.out.write(json.dumps({"stack": args.stack, "expires_after": until.isoformat(), "by": who}) + "\n")
    else:
        ctx.out.write(f"{args.stack} is kept until at least {until:%Y-%m-%d %H:%M} UTC (extended by {who})\n")
    return 0


def cmd_history(args: argparse.Namespace, ctx: Context) -> int:
    from automation.audit import render_history
    from automation.environments import load_environments

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    if envs.by_stack(args.stack) is None:
        raise ConfigError(f"unknown stack {args.stack!r}")
    entries = _engine(args, root, ctx, envs).history(args.stack, args.limit)
    redact = _redactor(ctx)
    if args.json:
        ctx.out.write(redact(json.dumps({"stack": args.stack, "updates": [
            {"version": e.version, "kind": e.kind, "result": e.result, "started": e.started.isoformat(),
             "ended": e.ended.isoformat() if e.ended else None, "message": e.message, "counts": dict(e.counts),
             "commit": e.commit} for e in entries]}, indent=2)) + "\n")
    else:
        ctx.out.write(redact(render_history(args.stack, entries)) + "\n")
    return 0


# -- drift -----------------------------------------------------------------------------------------
#: `drift` found resources whose cloud state differs from the recorded one (documented in README).
DRIFT_EXIT_CODE = 5


DRIFT_LABEL = "ghost-gitops-drift"


def cmd_drift(args: argparse.Namespace, ctx: Context) -> int:
    """Refresh previews of environment stacks: exit 5 when any resource drifted, with each one and its keys.
    ``--remediate`` refreshes and re-applies the stacks whose rule allows it; ``--issues`` keeps one GitHub issue per
    drifted stack (opened, updated, closed when clean)."""
    import functools
    from dataclasses import replace

    from automation.engine import Progress, Target
    from automation.environments import load_environments
    from automation.errors import StackMissing
    from automation.events import Request
    from automation.locking import StackLocks
    from automation.publish import github_client, publish
    from automation.render import Report, Status
    from automation.runner import RunContext, RunOptions, retry_busy

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    stacks = args.stack or list(envs.environment_stacks())
    for stack in stacks:
        route = envs.by_stack(stack)
        if route is None or route.kind != "environment":
            raise ConfigError(f"drift --stack {stack!r}: not an environment stack of {envs.source} "
                              f"(environments: {', '.join(envs.environment_stacks())})")
    request = Request(event="schedule", actor=_operator(ctx))
    gh = github_client(ctx.environ, request) if args.issues else None
    if args.issues and gh is None:
        raise ConfigError("drift --issues needs GITHUB_TOKEN and GITHUB_REPOSITORY (the workflow's token with "
                          "`issues: write`)")
    engine = _engine(args, root, ctx, envs)
    for problem in (engine.unavailable(), engine.preflight(envs.tools)):
        if problem is not None:
            raise problem
    progress = Progress(ctx.err, redact=_redactor(ctx), heartbeat_s=args.heartbeat)
    locks = StackLocks(Path(args.lock_dir) if args.lock_dir else root / ".pulumi-state" / "locks", args.lock_timeout,
                       notify=progress.message)
    run_ctx = RunContext(root=root, envs=envs, engine=engine, locks=locks, progress=progress, git=_git(root, ctx.environ),
                         options=RunOptions(busy_attempts=args.busy_attempts, busy_base_wait_s=args.busy_wait),
                         engine_for=lambda tree, tree_envs: _engine(args, tree, ctx, tree_envs))

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
    if args.remediate:
        reports = [_remediate(run_ctx, report, request, check) if report.status == Status.DRIFTED else report
                   for report in reports]
    redact = _redactor(ctx)
    try:
        if gh is not None:
            reports = [replace(r, notes=(*r.notes, _drift_issue(gh, r, redact))) for r in reports if r.stack]
        _emit(tuple(reports), args, ctx, redact)
        publish(tuple(reports), request, ctx.environ, None, redact, ctx.err)
    finally:
        if gh is not None:
            gh.close()
    return DRIFT_EXIT_CODE if any(r.status == Status.DRIFTED for r in reports) else 0


def _remediate(run_ctx: RunContext, report: Report, request: Request, check: Callable[[str], Report]) -> Report:
    """Refresh (accept what the cloud holds), then `up` (re-apply the program), then check again."""
    from dataclasses import replace

    from automation.planner import Operation, Plan
    from automation.render import Status
    from automation.runner import run_all

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

    from automation.github import GitHubError
    from automation.render import Status, render_markdown

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


# -- rollback --------------------------------------------------------------------------------------
def cmd_rollback(args: argparse.Namespace, ctx: Context) -> int:
    """Deploy an earlier deployed commit's program, run by this engine from a temporary worktree, after a preview
    that refuses replacing or deleting stateful resources unless --allow-stateful-changes."""
    from automation.engine import Progress
    from automation.environments import load_environments
    from automation.locking import StackLocks
    from automation.planner import rollback_commit
    from automation.render import Report, Status
    from automation.runner import RunContext, RunOptions, guarded_rollback

    if not args.reason or not args.reason.strip():
        raise ConfigError("rollback needs --reason TEXT (it is recorded in the audit message)")
    root = _project_root(args.project_dir)
    envs = load_environments(root)
    if envs.by_stack(args.stack) is None:
        raise ConfigError(f"unknown stack {args.stack!r}")
    git = _git(root, ctx.environ)
    if git is None:
        raise ConfigError("rollback needs the git repository (it checks out the earlier commit in a worktree)")
    engine = _engine(args, root, ctx, envs)
    for problem in (engine.unavailable(), engine.preflight(envs.tools)):
        if problem is not None:
            raise problem
    current, sha = rollback_commit(engine.history(args.stack, 100), to=args.to, steps=args.steps)
    actor = ctx.environ.get("GITHUB_ACTOR") or ctx.environ.get("USER") or "unknown"
    progress = Progress(ctx.err, redact=_redactor(ctx), heartbeat_s=args.heartbeat)
    locks = StackLocks(Path(args.lock_dir) if args.lock_dir else root / ".pulumi-state" / "locks", args.lock_timeout,
                       notify=progress.message)
    run_ctx = RunContext(root=root, envs=envs, engine=engine, locks=locks, progress=progress, git=git,
                         options=RunOptions(busy_attempts=args.busy_attempts, busy_base_wait_s=args.busy_wait),
                         engine_for=lambda tree, tree_envs: _engine(args, tree, ctx, tree_envs))
    message = f"rollback of {args.stack} to {sha[:7]} by {actor}: {args.reason.strip()}"
    outcome = guarded_rollback(run_ctx, args.stack, sha, message, actor=actor,
                               allow_stateful_changes=args.allow_stateful_changes)
    reports = [Report(stack=args.stack, operation="up", status=Status.SUCCEEDED, commit=sha, message=message,
                      reason=f"rollback from {current[:7]} to {sha[:7]}", outcome=outcome)]
    _emit(tuple(reports), args, ctx, _redactor(ctx))
    return 0


# -- status / recover ------------------------------------------------------------------------------
def _pulumi_engine(args: argparse.Namespace, root: Path, ctx: Context) -> PulumiEngine:
    from automation.pulumi_engine import PulumiEngine

    engine = _engine(args, root, ctx)
    if not isinstance(engine, PulumiEngine):
        raise ConfigError(f"{args.command} needs the Pulumi engine (--engine pulumi): it reads the state backend")
    problem = engine.unavailable()
    if problem is not None:
        raise problem
    return engine


def _known_stack(root: Path, stack: str) -> None:
    from automation.environments import load_environments

    envs = load_environments(root)
    if envs.by_stack(stack) is None:
        raise ConfigError(f"unknown stack {stack!r}: no rule in {envs.source} maps a branch to it "
                          f"(environments: {', '.join(envs.environment_stacks())}, and personal stacks)")


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    root = _project_root(args.project_dir)
    _known_stack(root, args.stack)
    status = _pulumi_engine(args, root, ctx).status(args.stack)
    _emit_status(status, args, ctx)
    return 0


def cmd_recover(args: argparse.Namespace, ctx: Context) -> int:
    from automation.engine import Progress

    if not args.yes:
        raise ConfigError("recover changes the state backend (cancels a lock, refreshes): pass --yes")
    root = _project_root(args.project_dir)
    _known_stack(root, args.stack)
    status = _pulumi_engine(args, root, ctx).recover(args.stack, Progress(ctx.err, redact=_redactor(ctx)))
    _emit_status(status, args, ctx)
    return 0


def _emit_status(status: Any, args: argparse.Namespace, ctx: Context) -> None:
    redact = _redactor(ctx)
    if args.json:
        ctx.out.write(redact(json.dumps(status.to_json(), indent=2)) + "\n")
        return
    lines = [f"stack {status.stack}: " + ("locked" if status.locks else "not locked")
             + f", {len(status.pending_operations)} pending operation(s)"]
    lines += [f"  lock: pid {lock['pid']} of {lock['username']} on {lock['hostname']} since {lock['timestamp']}"
              + {True: " (running)", False: " (not running: stale)", None: ""}[lock["alive"]] for lock in status.locks]
    lines += [f"  pending: {op['type']} {op['urn']}" for op in status.pending_operations]
    lines.append(f"  {status.advice}")
    ctx.out.write(redact("\n".join(lines)) + "\n")


# -- bootstrap -------------------------------------------------------------------------------------
def cmd_bootstrap(args: argparse.Namespace, ctx: Context) -> int:
    """Create (idempotently) the S3 state bucket, KMS key, GitHub OIDC provider and workflow roles of a team."""
    import boto3

    from automation.bootstrap import apply, plan_spec

    spec = plan_spec(args.region, args.bucket, args.repo, args.prefix)
    session = boto3.session.Session(region_name=spec.region)

    def notify(line: str) -> None:
        ctx.err.write(f"{line}\n")

    result = apply(spec, session, endpoint_url=args.endpoint_url, notify=notify)
    if args.json:
        ctx.out.write(json.dumps(result.to_json(), indent=2) + "\n")
        return 0
    ctx.out.write(("changed: " if result.changed else "nothing to change: ")
                  + f"{sum(s.action != 'unchanged' for s in result.steps)} of {len(result.steps)} settings\n")
    ctx.out.write(f"PULUMI_BACKEND_URL    {result.backend_url}\n--secrets-provider    {result.secrets_provider}\n")
    for environment, arn in result.role_arns.items():
        ctx.out.write(f"AWS_ROLE_ARN ({environment:<11}) {arn}   (GitHub environment `{environment}`, variable "
                      "AWS_ROLE_ARN)\n")
    return 0


# -- doctor ----------------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace, ctx: Context) -> int:
    """Which Pulumi CLI, language host, backend, secrets provider and aws CLI the engine would use, and why."""
    import shutil
    import subprocess

    from automation.errors import PulumiCliMissing
    from automation.pulumi_engine import default_backend_url
    from automation.toolchain import DYNAMIC_PROVIDER_LAUNCHER, PULUMI_CLI_VERSION, aws_cli, built_cli_root, find_cli

    root = _project_root(args.project_dir)
    rows: list[tuple[str, str, str]] = []  # (check, ok|warn|missing, detail)
    code = 0
    try:
        choice = find_cli(ctx.environ, args.pulumi_root)
        rows.append(("pulumi CLI", "ok", f"{choice.version} at {choice.path} ({choice.source}; pinned {PULUMI_CLI_VERSION})"))
        launcher = choice.path.parent / DYNAMIC_PROVIDER_LAUNCHER
        rows.append(("dynamic providers", "ok" if launcher.is_file() else "warn",
                     f"{launcher}" if launcher.is_file() else f"no {DYNAMIC_PROVIDER_LAUNCHER} beside the CLI: Python dynamic "
                     "providers cannot run (`bash .ci/build-pulumi` writes it)"))
    except PulumiCliMissing as exc:
        rows.append(("pulumi CLI", "missing", str(exc)))
        code = PulumiCliMissing.exit_code
    rows.append(("language host", "ok", "not needed: projects run as inline programs in the engine's process "
                 "(the Go module proxy does not serve pulumi-language-python)"))
    backend = args.backend_url or ctx.environ.get("PULUMI_BACKEND_URL")
    if backend:
        rows.append(("backend", "ok", f"{backend} ({'--backend-url' if args.backend_url else 'PULUMI_BACKEND_URL'})"))
    else:
        rows.append(("backend", "warn", f"{default_backend_url(root)} (default: state stays on this machine; set "
                     "PULUMI_BACKEND_URL for a shared backend)"))
    if args.secrets_provider:
        rows.append(("secrets provider", "ok", args.secrets_provider))
    elif ctx.environ.get("PULUMI_CONFIG_PASSPHRASE") is not None or ctx.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        rows.append(("secrets provider", "ok", "passphrase (from the environment; not shown)"))
    else:
        rows.append(("secrets provider", "missing", "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE, "
                     "or pass --secrets-provider"))
    version, problem = aws_cli(ctx.environ)
    rows.append(("aws CLI", "ok" if problem is None else "missing",
                 f"{version} (pulumi-eks's kubeconfig runs `aws eks get-token`)" if problem is None
                 else f"{problem}; needed to deploy environment stacks"))
    go = shutil.which("go", path=ctx.environ.get("PATH"))
    go_version = (subprocess.run([go, "version"], capture_output=True, text=True, check=False).stdout.strip()
                  if go else "")
    rows.append(("go", "ok" if go else "warn", go_version or f"not on PATH: needed only to build the CLI into "
                 f"{built_cli_root(ctx.environ)} (`bash .ci/build-pulumi`)"))
    if args.json:
        ctx.out.write(json.dumps({"checks": [{"check": c, "status": s, "detail": d} for c, s, d in rows],
                                  "exit_code": code}, indent=2) + "\n")
    else:
        width = max(len(c) for c, _, _ in rows)
        for check, status, detail in rows:
            ctx.out.write(f"{check.ljust(width)}  {status:<7}  {detail}\n")
    return code


# -- parser ----------------------------------------------------------------------------------------
def _event_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("event (GitHub Actions: read from GITHUB_EVENT_NAME/GITHUB_EVENT_PATH by default)")
    g.add_argument("--event-name", help="GitHub event name (push, pull_request, delete, schedule, workflow_dispatch)")
    g.add_argument("--event-path", help="path of the GitHub event payload JSON")
    g.add_argument("--branch", help="any other CI: the branch pushed to (or the PR head with --base)")
    g.add_argument("--sha", help="the commit (40 hex characters)")
    g.add_argument("--base", help="with --branch: a pull request into this base branch")
    g.add_argument("--pr", type=int, help="with --base: the pull request number")
    g.add_argument("--title", help="with --base: the pull request title")
    g.add_argument("--author", help="who made the change")
    g.add_argument("--before", help="with --branch: the commit the branch was at before this push (changed files "
                   "then come from git, before..sha)")
    g.add_argument("--deleted", action="store_true", help="with --branch: the branch was deleted")
    g.add_argument("--changed-file", action="append", help="with --branch: a changed file (repeatable)")


def _engine_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine")
    g.add_argument("--engine", choices=("pulumi", "memory"), default="pulumi",
                   help="pulumi: the Automation API (default); memory: no cloud, state in --state-dir (dry runs, tests)")
    g.add_argument("--backend-url", help="Pulumi state backend (default: $PULUMI_BACKEND_URL or file://<repo>/.pulumi-state)")
    g.add_argument("--secrets-provider", help="e.g. awskms://alias/ghost-gitops (default: passphrase)")
    g.add_argument("--install-cli", action="store_true",
                   help="if no CLI is found, run Pulumi's installer (needs get.pulumi.com; prefer `bash .ci/build-pulumi`)")
    g.add_argument("--pulumi-root", help="a directory holding bin/pulumi (default: $GHOST_GITOPS_PULUMI_ROOT, the CLI "
                   "built by .ci/build-pulumi, then PATH)")
    g.add_argument("--state-dir", help="memory engine: state directory (default .pulumi-state/memory)")
    g.add_argument("--memory-step-delay", type=_seconds, default=0.0, help=argparse.SUPPRESS)
    g.add_argument("--lock-dir", help="per-stack lock files (default .pulumi-state/locks)")
    g.add_argument("--lock-timeout", type=_seconds, default=1800.0, help="seconds to wait for a busy stack (default 1800)")
    g.add_argument("--busy-attempts", type=_positive_int, default=6,
                   help="attempts while the state backend reports the stack locked by another update (default 6)")
    g.add_argument("--busy-wait", type=_seconds, default=5.0,
                   help="first wait in seconds between those attempts, doubling up to 120 (default 5)")
    g.add_argument("--heartbeat", type=_seconds, default=60.0,
                   help="seconds between 'still creating X (6m)' lines for long steps (default 60; 0: none)")
    g.add_argument("--stop-grace", type=_seconds, default=30.0, help="on SIGINT/SIGTERM: seconds the Pulumi CLI gets "
                   "to stop gracefully before it is killed (default 30)")
    g.add_argument("--json", action="store_true", help="print the reports as JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m automation", description="GitOps engine for the ghost-gitops Pulumi project.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    parser.add_argument("--project-dir", help="the Pulumi project directory (default: this repository)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    synth = sub.add_parser("synth", help="evaluate the program offline for a stack and print what it declares")
    synth.add_argument("--stack", required=True, help="stack name: dev, prod, or a personal dev-<name>")
    synth.add_argument("--format", choices=("tree", "json"), default="tree", help="output format (default: tree)")
    synth.add_argument("--manifests", metavar="DIR", help="also write every Kubernetes object as YAML into DIR")
    synth.set_defaults(func=cmd_synth)

    envs = sub.add_parser("environments", help="print the branch -> stack rules, and which rule given branches hit")
    envs.add_argument("branch", nargs="*", help="branches to route")
    envs.set_defaults(func=cmd_environments)

    plan = sub.add_parser("plan", help="print what the current event would do, touching nothing")
    _event_args(plan)
    plan.add_argument("--github-matrix", action="store_true", help="print a GitHub Actions matrix (one job per stack)")
    plan.set_defaults(func=cmd_plan)

    run = sub.add_parser("run", help="execute the plan for the current event")
    _event_args(run)
    _engine_args(run)
    run.add_argument("--only-stack", help="run only this stack's operation (one GitHub Actions matrix job per stack)")
    run.add_argument("--allow-dirty", action="store_true", help="deploy uncommitted changes (the audit message says so)")
    run.add_argument("--accept-plan-change", metavar="REASON", help="apply a merge whose plan differs from the preview "
                     "reviewed on its pull request (the reason is recorded in the audit message)")
    run.add_argument("--skip-health-check", action="store_true", help="do not probe the health URL after an up "
                     "(and so never roll back automatically)")
    run.set_defaults(func=cmd_run)

    for name, text in (("preview", "preview a stack"), ("up", "deploy the checked-out commit to a stack"),
                       ("destroy", "destroy a stack and remove it"), ("refresh", "refresh a stack's state")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--stack", required=True)
        p.add_argument("--sha", help="the commit being operated on (default: the work tree's HEAD)")
        if name == "up":
            p.add_argument("--rollback", action="store_true",
                           help="deploy even if a newer commit is deployed (check out the older commit first)")
            p.add_argument("--allow-dirty", action="store_true", help="deploy uncommitted changes (the audit says so)")
            p.add_argument("--skip-health-check", action="store_true", help="do not probe the health URL after the up")
        if name == "destroy":
            p.add_argument("--yes-destroy-environment", action="store_true", help="required to destroy an environment")
        _engine_args(p)
        p.set_defaults(func=cmd_stack_operation, rollback=False, yes_destroy_environment=False)

    expire = sub.add_parser("expire", help="destroy personal stacks past their ttl or whose branch is gone; warn "
                            "about those close to it")
    expire.add_argument("--dry-run", action="store_true", help="print the plan (as JSON) instead of running it")
    expire.add_argument("--now", type=_timestamp, help="judge idleness as of this ISO 8601 time with offset "
                        "(e.g. 2026-12-24T00:00:00+00:00: what would expire by then; default: now)")
    expire.add_argument("--remote", default="origin", help="destroy personal stacks whose branch is gone from this "
                        "remote (default origin; '' to skip the check)")
    _engine_args(expire)
    expire.set_defaults(func=cmd_expire)

    extend = sub.add_parser("extend", help="keep a personal stack past its ttl, until DAYS from now")
    extend.add_argument("--stack", required=True)
    extend.add_argument("--days", type=_positive_int, required=True, help="keep it at least this many days (max 90)")
    _engine_args(extend)
    extend.set_defaults(func=cmd_extend)

    drift = sub.add_parser("drift", help="refresh-preview environment stacks; exit 5 when the cloud drifted from the state")
    drift.add_argument("--stack", action="append", help="an environment stack (repeatable; default: all environments)")
    drift.add_argument("--remediate", action="store_true", help="refresh and re-apply drifted stacks whose rule sets "
                       "drift_remediation (audited), then check again")
    drift.add_argument("--issues", action="store_true", help="keep one GitHub issue per drifted stack (opened, updated, "
                       "closed when clean); needs GITHUB_TOKEN")
    _engine_args(drift)
    drift.set_defaults(func=cmd_drift)

    rollback = sub.add_parser("rollback", help="deploy an earlier deployed commit, refusing stateful replacements")
    rollback.add_argument("--stack", required=True)
    rollback.add_argument("--to", help="the commit to roll back to (a deployed one; default: the one before the current)")
    rollback.add_argument("--steps", type=_positive_int, default=1, help="roll back this many deployed commits (default 1)")
    rollback.add_argument("--reason", required=True, help="why (recorded in the audit message)")
    rollback.add_argument("--allow-stateful-changes", action="store_true",
                          help="allow replacing or deleting stateful resources (databases, volumes, keys, namespaces)")
    _engine_args(rollback)
    rollback.set_defaults(func=cmd_rollback)

    status = sub.add_parser("status", help="locks and pending operations of a stack, and what is safe to do")
    status.add_argument("--stack", required=True)
    _engine_args(status)
    status.set_defaults(func=cmd_status)

    recover = sub.add_parser("recover", help="after a killed run: cancel the stale lock and clear pending creates")
    recover.add_argument("--stack", required=True)
    recover.add_argument("--yes", action="store_true", help="required: recover changes the state backend")
    _engine_args(recover)
    recover.set_defaults(func=cmd_recover)

    doctor = sub.add_parser("doctor", help="which Pulumi CLI, backend, secrets provider and aws CLI would be used, and why")
    doctor.add_argument("--backend-url", help="as for the engine commands")
    doctor.add_argument("--secrets-provider", help="as for the engine commands")
    doctor.add_argument("--pulumi-root", help="as for the engine commands")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.set_defaults(func=cmd_doctor)

    boot = sub.add_parser("bootstrap", help="create the team backend: S3 state bucket, KMS key, GitHub OIDC provider, "
                          "workflow roles (idempotent)")
    boot.add_argument("--region", required=True, help="AWS region of the bucket and key (e.g. eu-west-1)")
    boot.add_argument("--bucket", required=True, help="the S3 state bucket's name")
    boot.add_argument("--repo", required=True, help="OWNER/NAME: the GitHub repository whose workflows assume the roles")
    boot.add_argument("--prefix", default="ghost-gitops", help="names of the key alias and roles (default ghost-gitops)")
    boot.add_argument("--endpoint-url", help="an AWS-compatible endpoint (tests: moto); default: AWS itself")
    boot.add_argument("--json", action="store_true", help="print the result as JSON")
    boot.set_defaults(func=cmd_bootstrap)

    hist = sub.add_parser("history", help="who, what, when, why and the result of each update of a stack")
    hist.add_argument("--stack", required=True)
    hist.add_argument("--limit", type=_positive_int, default=20, help="updates to show (default 20)")
    _engine_args(hist)
    hist.set_defaults(func=cmd_history)
    for sub_parser in sub.choices.values():  # the global options are accepted after the command too
        sub_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sub_parser.add_argument("--project-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


Command = Callable[[argparse.Namespace, Context], int]


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command. Returns the process exit code (see automation.errors and README)."""
    environ = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        args = build_parser().parse_args(argv)
        func: Command = args.func
        return func(args, Context(environ=environ, out=out, err=err))
    except AutomationError as exc:
        if debug and isinstance(exc, InternalError) and exc.__cause__ is not None:
            raise exc.__cause__ from None
        print(f"error: {_redact_env(str(exc), environ)}", file=err)
        return exc.exit_code
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=err)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"internal error: {type(exc).__name__}: {_redact_env(str(exc), environ)} "
              "(re-run with --debug for a traceback)", file=err)
        return InternalError.exit_code


def _redact_env(text: str, environ: Mapping[str, Any]) -> str:
    from automation.render import Redactor

    return Redactor.from_environ({k: str(v) for k, v in environ.items()})(text)
