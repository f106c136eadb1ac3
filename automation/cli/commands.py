"""The commands: each takes the parsed arguments and a Context and returns a frozen result
(automation.cli.results); it prints nothing on stdout (progress and warnings go to ``ctx.err``).

The CLI (automation.cli.main) parses, dispatches, renders the result through automation.cli.output and maps errors
to exit codes. Commands import what they need lazily so that ``environments`` and ``plan`` never load the
Pulumi providers.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from automation.cli.results import (
    BootstrapOutput,
    Check,
    CostOutput,
    DoctorOutput,
    EnvironmentsOutput,
    ExtendOutput,
    HistoryOutput,
    PlanOutput,
    ReportsOutput,
    StatusOutput,
    SynthOutput,
    VersionsOutput,
)
from automation.model.errors import AutomationError, ConfigError

if TYPE_CHECKING:
    from automation.adapters.git import Git
    from automation.adapters.github import GitHubClient
    from automation.config.environments import Environments, Route
    from automation.engines.port import Engine
    from automation.engines.pulumi_engine import PulumiEngine
    from automation.flow.planner import Plan
    from automation.flow.runner import RunContext
    from automation.model.request import Request
    from automation.review.render import Redactor, Report


@dataclass(frozen=True)
class Context:
    """What a command may touch besides its arguments: passed in, so tests need no global patching."""

    environ: Mapping[str, str]
    out: TextIO
    err: TextIO


def _project_root(arg: str | None) -> Path:
    root = Path(arg) if arg else Path(__file__).resolve().parents[2]
    if not (root / "Pulumi.yaml").is_file():
        raise ConfigError(f"{root} is not a Pulumi project (no Pulumi.yaml); pass --project-dir")
    return root.resolve()


def _git(root: Path, environ: Mapping[str, str]) -> Git | None:
    from automation.adapters.git import Git

    if not (root / ".git").exists():
        return None
    return Git(root, environ={k: v for k, v in environ.items() if k in ("PATH", "HOME")} or None)


# -- synth -----------------------------------------------------------------------------------------
def cmd_synth(args: argparse.Namespace, ctx: Context) -> SynthOutput:
    import yaml

    from automation.config.environments import FILE_NAME, load_environments
    from automation.config.stackconfig import load_stack_config
    from automation.engines.synth import synthesize

    root = _project_root(args.project_dir)
    config = (load_environments(root).stack_config(root, args.stack) if (root / FILE_NAME).exists()
              else load_stack_config(root, args.stack))
    checks = None
    if getattr(args, "policy", False):
        from automation.config.environments import load_environments as _load
        from automation.review.policy import PACK_DIR, environment_of, stack_policy

        envs = _load(root) if (root / FILE_NAME).exists() else None
        route = envs.by_stack(args.stack) if envs is not None else None
        checks = stack_policy(root, args.stack, environment_of(config.values), route.rule if route else None,
                              envs.stateful if envs is not None else None)
        if checks is None:
            raise ConfigError(f"--policy: {root} has no policy pack ({PACK_DIR}/PulumiPolicy.yaml and {PACK_DIR}/rules.py)")
    result = synthesize(root, config)
    count = 0
    if args.manifests:
        target = Path(args.manifests)
        files = {f"{str(manifest['kind']).lower()}-{res.name}.yaml": yaml.safe_dump(manifest, sort_keys=False)
                 for res, manifest in result.manifests()}
        removed = _replace_manifests(target, args.stack, files)
        count = len(files)
        print(f"wrote {count} Kubernetes manifests of {args.stack} to {target}"
              + (f" (removed {removed} of the previous synth)" if removed else ""), file=ctx.err)
    if checks is None:
        return SynthOutput(result, manifests=count if args.manifests else None)
    from automation.model.snapshot import Resource
    from automation.review.policy import POLICY_DENIED_EXIT_CODE

    found = checks.evaluate(Resource(r.urn, r.type, r.name, r.inputs, r.protect) for r in result.resources)
    return SynthOutput(result, manifests=count if args.manifests else None, policies_ran=checks.policies, policy=found,
                       exit_code=POLICY_DENIED_EXIT_CODE if any(v.blocking for v in found) else 0)


#: the file ``synth --manifests`` leaves in its directory: the stack and the files it wrote there
MANIFESTS_MARKER = ".synth-manifests"


def _replace_manifests(target: Path, stack: str, files: Mapping[str, str]) -> int:
    """Write ``files`` into ``target``, removing those an earlier ``synth --manifests`` wrote there (so another stack's
    manifests never mix with these). A directory holding anything else is refused. Returns how many were removed."""
    marker = target / MANIFESTS_MARKER
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--manifests {target}: cannot create the directory ({exc.strerror})") from None
    try:
        previous = marker.read_text(encoding="utf-8").splitlines()[1:] if marker.is_file() else []
        others = sorted(p.name for p in target.iterdir() if p.name != MANIFESTS_MARKER and p.name not in previous)
        if others:
            raise ConfigError(f"--manifests {target}: the directory holds files synth did not write ({', '.join(others[:3])}"
                              f"{' ...' if len(others) > 3 else ''}): name an empty or new directory")
        for name in previous:
            if "/" not in name and name not in files:
                (target / name).unlink(missing_ok=True)
        for name, text in files.items():
            (target / name).write_text(text, encoding="utf-8")
        marker.write_text("\n".join([f"# written by `synth --stack {stack} --manifests`", *sorted(files)]) + "\n",
                          encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--manifests {target}: cannot write the manifests ({exc.strerror or exc})") from None
    return len([n for n in previous if n not in files])


# -- cost ------------------------------------------------------------------------------------------
def cmd_cost(args: argparse.Namespace, ctx: Context) -> CostOutput:
    """The monthly estimate of a stack from its offline synth (no cloud, no network)."""
    from automation.config.environments import FILE_NAME, load_environments
    from automation.config.stackconfig import load_stack_config
    from automation.engines.synth import synthesize
    from automation.model.snapshot import Resource
    from automation.review.cost import estimate, load_project

    root = _project_root(args.project_dir)
    envs = load_environments(root) if (root / FILE_NAME).exists() else None
    config = envs.stack_config(root, args.stack) if envs is not None else load_stack_config(root, args.stack)
    project = load_project(root)  # a bad costs.yaml is refused before the program runs
    result = synthesize(root, config)
    region = config.values.get("aws:region")
    est = estimate((Resource(r.urn, r.type, r.name, r.inputs) for r in result.resources), stack=args.stack,
                   region=region if isinstance(region, str) else None, project=project, on=getattr(args, "date", None),
                   hosts_others=envs.hosts_others(args.stack) if envs is not None else None)
    route = envs.by_stack(args.stack) if envs is not None else None
    return CostOutput(est, budget=route.rule.budget_monthly_usd if route is not None else None)


# -- environments ----------------------------------------------------------------------------------
def cmd_environments(args: argparse.Namespace, ctx: Context) -> EnvironmentsOutput:
    from automation.config.environments import load_environments
    from automation.review.policy import check_rules

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    check_rules(root, envs.rules)
    routes: list[tuple[str, Route | str | None]] = []
    first: ConfigError | None = None
    for branch in args.branch or ():
        try:
            routes.append((branch, envs.route(branch)))
        except ConfigError as exc:  # answer every branch, then refuse
            routes.append((branch, str(exc)))
            first = first or exc
    return EnvironmentsOutput(envs, tuple(routes), error=first)


# -- plan / run ------------------------------------------------------------------------------------
def _request(args: argparse.Namespace, ctx: Context) -> Request:
    from automation.flow.events import from_environ, from_flags

    if args.branch:
        return from_flags(args.branch, args.sha, args.base, pr_number=args.pr, title=args.title, author=args.author,
                          changed_files=tuple(args.changed_file) if args.changed_file else None, deleted=args.deleted,
                          before=args.before)
    return from_environ(ctx.environ, args.event_name, args.event_path)


def _plan(args: argparse.Namespace, ctx: Context, engine_for: Callable[[Path, Environments], Engine] | None = None
          ) -> tuple[Path, Environments, Request, Git | None, Plan]:
    """The plan of the current event. ``engine_for``: for a new branch or a force push, read the commit the
    stack last deployed from that engine, so only what changed since then counts (``plan`` loads no engine)."""
    from automation.adapters.git import changed_files
    from automation.config.environments import load_environments
    from automation.flow.planner import plan
    from automation.review.policy import check_rules

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    check_rules(root, envs.rules)
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


def cmd_plan(args: argparse.Namespace, ctx: Context) -> PlanOutput:

    _, _, _, _, the_plan = _plan(args, ctx)
    if args.github_matrix:
        matrix = the_plan.github_matrix()
        out_file = ctx.environ.get("GITHUB_OUTPUT")
        if out_file:
            try:
                with open(out_file, "a", encoding="utf-8") as fh:
                    fh.write(f"matrix={json.dumps(matrix, separators=(',', ':'))}\n")
                    fh.write(f"has_work={'true' if matrix['include'] else 'false'}\n")
            except OSError as exc:
                raise ConfigError(f"GITHUB_OUTPUT {out_file}: cannot append the matrix ({exc.strerror})") from None
    return PlanOutput(the_plan, github_matrix=args.github_matrix)


def _engine(args: argparse.Namespace, root: Path, ctx: Context, envs: Environments | None = None) -> Engine:
    if args.engine == "memory":
        from automation.engines.memory_engine import MemoryEngine, synth_program

        state = Path(args.state_dir) if args.state_dir else root / ".pulumi-state" / "memory"
        return MemoryEngine(state, synth_program(root), step_delay_s=args.memory_step_delay)
    from automation.config.environments import load_environments
    from automation.engines.pulumi_engine import PulumiEngine

    backend = args.backend_url or ctx.environ.get("PULUMI_BACKEND_URL") or None  # an unset Actions secret is ""
    in_ci = ctx.environ.get("CI", "").lower() in ("true", "1")
    return PulumiEngine(root, backend_url=backend, refuse_local_state=in_ci and backend is None,
                        secrets_provider=args.secrets_provider, install_cli=args.install_cli, environ=ctx.environ,
                        cli_root=args.pulumi_root, stateful=(envs or load_environments(root)).is_stateful)


def _redactor(ctx: Context) -> Redactor:
    from automation.review.render import Redactor

    return Redactor.from_environ(ctx.environ)


def _execute(args: argparse.Namespace, ctx: Context, root: Path, envs: Environments, request: Request,
             git: Git | None, the_plan: Plan, engine: Engine | None = None, command: str = "run") -> ReportsOutput:
    from dataclasses import replace

    from automation.adapters.interrupt import Interrupts
    from automation.adapters.locking import StackLocks
    from automation.engines.port import Progress
    from automation.flow.publish import github_client, publish, resolve_audit, review_lookup
    from automation.flow.runner import RunContext, RunOptions, exit_code, run_all

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
                                                accept_plan_change=_override(args),
                                                accept_over_budget=_override(args, "accept_over_budget"),
                                                operator=_operator(ctx, root),
                                                skip_health=getattr(args, "skip_health_check", False)),
                             review=review_lookup(gh, audit, request)
                             if request.event in ("push", "workflow_dispatch") else None,
                             engine_for=lambda tree, tree_envs: _engine(args, tree, ctx, tree_envs))
        with Interrupts(progress.message, grace_s=args.stop_grace).installed() as interrupts:
            result = run_all(replace(run_ctx, interrupted=interrupts), the_plan, request, audit)
        # every finished operation's report is published, even when a later one stopped the run
        publish(result.reports, request, ctx.environ, gh, _redactor(ctx), ctx.err)
        return ReportsOutput(command, result.reports, exit_code(result.reports), result.error)
    finally:
        if gh is not None:
            gh.close()


def _operator(ctx: Context, root: Path | None = None) -> str | None:
    """Who runs the engine: the person who started (or re-ran) the workflow, else the local user, else git's
    ``user.name`` of the project (a shell without $USER)."""
    for key in ("GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR", "USER", "LOGNAME"):
        if ctx.environ.get(key):
            return ctx.environ[key]
    git = _git(root, ctx.environ) if root is not None else None
    return git.user_name() if git is not None else None


def _override(args: argparse.Namespace, name: str = "accept_plan_change") -> str | None:
    reason: str | None = getattr(args, name, None)
    if reason is not None and not reason.strip():
        raise ConfigError(f"--{name.replace('_', '-')} needs a reason (it is recorded in the audit message)")
    return reason.strip() if reason else None


def cmd_run(args: argparse.Namespace, ctx: Context) -> ReportsOutput:
    from dataclasses import replace

    built: list[Engine] = []  # one engine for planning and running (its CLI is found and checked once)

    def engine_for(root: Path, envs: Environments) -> Engine:
        if not built:
            built.append(_engine(args, root, ctx, envs))
        return built[0]

    if args.only_stack is not None and not args.only_stack.strip():
        # what a workflow passes when its matrix value is missing ("$STACK" empty): never "every stack"
        raise ConfigError("--only-stack is empty: name the stack (in a workflow, the matrix job's `stack`; an empty "
                          "value means the plan job's `matrix` output did not reach this job)")
    root, envs, request, git, the_plan = _plan(args, ctx, engine_for)
    if args.only_stack:
        kept = tuple(op for op in the_plan.operations if op.stack == args.only_stack)
        if not kept:
            raise ConfigError(f"--only-stack {args.only_stack!r}: the plan for this event has no operation on that stack")
        the_plan = replace(the_plan, operations=kept)
    return _execute(args, ctx, root, envs, request, git, the_plan, engine_for(root, envs))


def cmd_stack_operation(args: argparse.Namespace, ctx: Context) -> ReportsOutput:
    """One operation on one stack, planned like an event (automation.flow.planner.manual)."""
    from automation.config.environments import load_environments
    from automation.flow.planner import manual
    from automation.model.request import Request

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    git = _git(root, ctx.environ)
    who = _operator(ctx, root) or "unknown"
    sha = args.sha or (git.head() if git else None)
    the_plan = manual(envs, args.stack, args.command, sha=sha, actor=who, rollback=args.rollback,
                      destroy_environment=args.yes_destroy_environment)
    route = envs.by_stack(args.stack)
    request = Request(event="manual", branch=route.branch if route else None, sha=sha, actor=who)
    return _execute(args, ctx, root, envs, request, git, the_plan, command=args.command)


def cmd_expire(args: argparse.Namespace, ctx: Context) -> ReportsOutput | PlanOutput:
    from datetime import UTC, datetime

    from automation.config.environments import load_environments
    from automation.flow.planner import EXTENDED_TAG, expired
    from automation.model.request import Request

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
        return PlanOutput(the_plan, command="expire")
    return _execute(args, ctx, root, envs, Request(event="schedule", actor="ttl"), git, the_plan, engine,
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


def cmd_extend(args: argparse.Namespace, ctx: Context) -> ExtendOutput:
    """Keep a personal stack past its ttl: it then expires ``--days`` from now (at the earliest)."""
    from datetime import UTC, datetime, timedelta

    from automation.config.environments import load_environments
    from automation.flow.planner import EXTENDED_TAG

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

    return ExtendOutput(args.stack, until.isoformat(), _operator(ctx, root) or "unknown")


def cmd_history(args: argparse.Namespace, ctx: Context) -> HistoryOutput:
    from automation.config.environments import load_environments

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    if envs.by_stack(args.stack) is None:
        raise ConfigError(f"unknown stack {args.stack!r}")
    return HistoryOutput(args.stack, _engine(args, root, ctx, envs).history(args.stack, args.limit))


# -- drift -----------------------------------------------------------------------------------------
#: `drift` found resources whose cloud state differs from the recorded one (documented in README).
DRIFT_EXIT_CODE = 5


DRIFT_LABEL = "ghost-gitops-drift"


def cmd_drift(args: argparse.Namespace, ctx: Context) -> ReportsOutput:
    """Refresh previews of environment stacks: exit 5 when any resource drifted, with each one and its keys.
    ``--remediate`` refreshes and re-applies the stacks whose rule allows it; ``--issues`` keeps one GitHub issue per
    drifted stack (opened, updated, closed when clean)."""
    import functools
    from dataclasses import replace

    from automation.adapters.locking import StackLocks
    from automation.config.environments import load_environments
    from automation.engines.port import Progress, Target
    from automation.flow.publish import github_client, publish
    from automation.flow.runner import RunContext, RunOptions, retry_busy
    from automation.model.errors import StackMissing
    from automation.model.request import Request
    from automation.review.render import Report, Status

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    stacks = args.stack or list(envs.environment_stacks())
    for stack in stacks:  # environments by default; a personal stack when named
        if envs.by_stack(stack) is None:
            raise ConfigError(f"drift --stack {stack!r}: not a stack of {envs.source} (environments: "
                              f"{', '.join(envs.environment_stacks())}; personal stacks by their name, e.g. dev-alice)")
    request = Request(event="schedule", actor=_operator(ctx, root))
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


# -- rollback --------------------------------------------------------------------------------------
def cmd_rollback(args: argparse.Namespace, ctx: Context) -> ReportsOutput:
    """Deploy an earlier deployed commit's program, run by this engine from a temporary worktree, after a preview
    that refuses replacing or deleting stateful resources unless --allow-stateful-changes."""
    from automation.adapters.locking import StackLocks
    from automation.config.environments import load_environments
    from automation.engines.port import Progress
    from automation.flow.planner import rollback_commit
    from automation.flow.runner import RunContext, RunOptions, guarded_rollback
    from automation.review.render import Report, Status

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
    actor = _operator(ctx, root) or "unknown"
    progress = Progress(ctx.err, redact=_redactor(ctx), heartbeat_s=args.heartbeat)
    locks = StackLocks(Path(args.lock_dir) if args.lock_dir else root / ".pulumi-state" / "locks", args.lock_timeout,
                       notify=progress.message)
    run_ctx = RunContext(root=root, envs=envs, engine=engine, locks=locks, progress=progress, git=git,
                         options=RunOptions(busy_attempts=args.busy_attempts, busy_base_wait_s=args.busy_wait),
                         engine_for=lambda tree, tree_envs: _engine(args, tree, ctx, tree_envs))
    message = f"rollback of {args.stack} to {sha[:7]} by {actor}: {args.reason.strip()}"
    outcome = guarded_rollback(run_ctx, args.stack, sha, message, actor=actor,
                               allow_stateful_changes=args.allow_stateful_changes)
    report = Report(stack=args.stack, operation="up", status=Status.SUCCEEDED, commit=sha, message=message,
                    reason=f"rollback from {current[:7]} to {sha[:7]}", outcome=outcome)
    return ReportsOutput("rollback", (report,), 0)


# -- status / recover ------------------------------------------------------------------------------
def _pulumi_engine(args: argparse.Namespace, root: Path, ctx: Context) -> PulumiEngine:
    from automation.engines.pulumi_engine import PulumiEngine

    engine = _engine(args, root, ctx)
    if not isinstance(engine, PulumiEngine):
        raise ConfigError(f"{args.command} needs the Pulumi engine (--engine pulumi): it reads the state backend")
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


def cmd_status(args: argparse.Namespace, ctx: Context) -> StatusOutput:

    root = _project_root(args.project_dir)
    _known_stack(root, args.stack)
    return StatusOutput(_pulumi_engine(args, root, ctx).status(args.stack))


def cmd_recover(args: argparse.Namespace, ctx: Context) -> StatusOutput:
    from automation.engines.port import Progress

    if not args.yes:
        raise ConfigError("recover changes the state backend (cancels a lock, refreshes): pass --yes")
    restore = None
    if args.restore_checkpoint:
        if not (args.reason or "").strip():
            raise ConfigError("recover --restore-checkpoint needs --reason (recorded with who and when in the bucket)")
        root = _project_root(args.project_dir)
        restore = (_operator(ctx, root) or "unknown", args.reason.strip())
    root = _project_root(args.project_dir)
    _known_stack(root, args.stack)
    return StatusOutput(_pulumi_engine(args, root, ctx).recover(args.stack, Progress(ctx.err, redact=_redactor(ctx)),
                                                                restore=restore), command="recover")


# -- bootstrap -------------------------------------------------------------------------------------
def cmd_bootstrap(args: argparse.Namespace, ctx: Context) -> BootstrapOutput:
    """Create (idempotently) the S3 state bucket, KMS key, GitHub OIDC provider and workflow roles of a team."""
    import boto3

    from automation.adapters.bootstrap import apply, plan_spec

    spec = plan_spec(args.region, args.bucket, args.repo, args.prefix)
    session = boto3.session.Session(region_name=spec.region)

    def notify(line: str) -> None:
        ctx.err.write(f"{line}\n")


    return BootstrapOutput(apply(spec, session, endpoint_url=args.endpoint_url, notify=notify))


# -- doctor ----------------------------------------------------------------------------------------
def _version_rows(root: Path) -> list[tuple[str, str, str]]:
    """doctor's rows: the version table's age, and per environment stack its pinned versions with their support
    dates (warn within the table's warn_days, past the end of standard support, or not in the table)."""
    from automation.config import lifecycle
    from automation.config.environments import FILE_NAME, load_environments
    from automation.flow.versions import stack_versions

    table = lifecycle.load()
    stale = table.stale(lifecycle.today())
    rows = [("version table", "warn" if stale else "ok", stale or f"automation/prices/lifecycle.yaml checked on "
             f"{table.checked} (refresh every {table.refresh_days} days)")]
    if (root / FILE_NAME).exists():
        rows += [(f"versions of {v.stack}", "warn" if v.any_due else "ok", "; ".join(v.lines()) or "none pinned")
                 for v in stack_versions(root, load_environments(root))]
    return rows


def cmd_versions(args: argparse.Namespace, ctx: Context) -> VersionsOutput:
    """The pinned versions of every environment stack (or one) and their support dates; ``--issues`` keeps one
    GitHub issue per stack with a version due (the nightly job)."""
    from automation.adapters.github import GitHubClient
    from automation.config.environments import load_environments
    from automation.flow.versions import stack_versions, sync_issue

    root = _project_root(args.project_dir)
    envs = load_environments(root)
    if args.stack is not None and envs.by_stack(args.stack) is None:
        raise ConfigError(f"no stack {args.stack!r} in environments.yaml (environment stacks: "
                          f"{', '.join(r.stack for r in envs.rules if r.kind == 'environment')})")
    found = stack_versions(root, envs, args.stack)
    issues: tuple[str, ...] = ()
    if args.issues:
        token = ctx.environ.get("GITHUB_TOKEN") or ctx.environ.get("GH_TOKEN")
        repo = ctx.environ.get("GITHUB_REPOSITORY")
        if not token or not repo:
            raise ConfigError("versions --issues needs GITHUB_TOKEN and GITHUB_REPOSITORY (the workflow's token with "
                              "`issues: write`)")
        gh = GitHubClient(token, repo, api_url=ctx.environ.get("GITHUB_API_URL", "https://api.github.com"))
        issues = tuple(sync_issue(gh, v, _redactor(ctx)) for v in found)
    return VersionsOutput(found, issues)


def _plugin_rows(environ: Mapping[str, str], cli_dir: Path | None) -> list[tuple[str, str, str]]:
    """One row per provider plugin the program needs (automation.engines.plugins), where the CLI would find it."""
    from automation.engines.plugins import Plugin, locate, required

    rows = []
    for plugin in required():
        if isinstance(plugin, Plugin):
            status, detail = locate(plugin, environ, cli_dir)
            rows.append((f"plugin {plugin.name}", status, detail))
        else:
            rows.append(("plugin", "missing", plugin))
    return rows


def cmd_doctor(args: argparse.Namespace, ctx: Context) -> DoctorOutput:
    """Which Pulumi CLI, language host, backend, secrets provider and aws CLI the engine would use, and why."""
    import shutil
    import subprocess

    from automation.engines.pulumi_engine import default_backend_url
    from automation.engines.toolchain import (
        DYNAMIC_PROVIDER_LAUNCHER,
        LANGUAGE_HOST,
        POLICY_PACK_LAUNCHER,
        PULUMI_CLI_VERSION,
        aws_cli,
        built_cli_root,
        find_cli,
    )
    from automation.model.errors import PulumiCliMissing
    from automation.review.policy import PACK_DIR, pack_dir

    root = _project_root(args.project_dir)

    rows: list[tuple[str, str, str]] = []  # (check, ok|warn|missing, detail)
    code = 0
    cli_dir: Path | None = None
    try:
        choice = find_cli(ctx.environ, args.pulumi_root)
        cli_dir = choice.path.parent
        rows.append(("pulumi CLI", "ok", f"{choice.version} at {choice.path} ({choice.source}; pinned {PULUMI_CLI_VERSION})"))
        launcher = choice.path.parent / DYNAMIC_PROVIDER_LAUNCHER
        rows.append(("dynamic providers", "ok" if launcher.is_file() else "warn",
                     f"{launcher}" if launcher.is_file() else f"no {DYNAMIC_PROVIDER_LAUNCHER} beside the CLI: Python dynamic "
                     "providers cannot run (`bash .ci/build-pulumi` writes it)"))
        pack = pack_dir(root)
        policy_launcher = choice.path.parent / POLICY_PACK_LAUNCHER
        if pack is None:
            rows.append(("policy pack", "ok", f"none in {root} (no {PACK_DIR}/PulumiPolicy.yaml): previews and ups run no pack"))
        elif (choice.path.parent / LANGUAGE_HOST).is_file() and not policy_launcher.is_file():
            rows.append(("policy pack", "ok", f"{pack}, run by the release's {LANGUAGE_HOST} beside the CLI"))
        elif not policy_launcher.is_file():
            rows.append(("policy pack", "missing", f"{pack} needs {policy_launcher}: `bash .ci/build-pulumi` writes it "
                         f"(a Pulumi release brings {LANGUAGE_HOST} instead; previews and ups of this project exit 4 "
                         "without either)"))
        else:
            import importlib.util

            installed = importlib.util.find_spec("pulumi_policy") is not None  # found, not imported
            rows.append(("policy pack", "ok" if installed else "warn", f"{pack}, run by {policy_launcher}; " + (
                "pulumi-policy installed" if installed else "pulumi-policy NOT installed (pip install -r requirements.txt)")))
    except PulumiCliMissing as exc:
        rows.append(("pulumi CLI", "missing", str(exc)))
        code = PulumiCliMissing.exit_code
    rows += _plugin_rows(ctx.environ, cli_dir)
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
    rows += _version_rows(root)
    return DoctorOutput(tuple(Check(name, status, detail) for name, status, detail in rows), code)
