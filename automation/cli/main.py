"""Command line: parse arguments into the command's typed options (automation.cli.options), dispatch to its command group,
render its result
(automation.cli.output), map errors to exit codes.

This is the one error boundary: every ``AutomationError`` becomes its documented exit code and a
one-line message on stderr; nothing else prints a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, TextIO

from automation.cli.options import Options, PlanOptions, from_namespace
from automation.cli.results import Result
from automation.cli.wiring import Context
from automation.model.errors import AutomationError, ConfigError, InternalError

if TYPE_CHECKING:
    from automation.review.redact import Redactor


#: a Python package the engine needs is missing (as for a missing tool: README, exit codes)
MISSING_DEPENDENCY_EXIT_CODE = 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message}{_nearest(self, message)} (see --help)")


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of ``parser`` and of the subcommand parsers it built (argparse reports an unknown option
    of a subcommand from the top parser)."""
    found = list(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _option_strings(sub)
    return found


def _nearest(parser: argparse.ArgumentParser, message: str) -> str:
    """'; did you mean X?' for an unknown option or command close to a known one (nothing when none is close)."""
    import difflib
    import re

    if (choice := re.match(r"argument (.+?): invalid choice: '([^']*)'", message)) is not None:
        # the choices come from the action argparse names (the subcommand, or an option such as --engine), not from the
        # message's "choose from" text, whose format differs between Python versions
        word = choice[2]
        known = [str(c) for a in parser._actions if choice[1] in ("/".join(a.option_strings), a.metavar, a.dest)
                 for c in (a.choices or ())]
    elif message.startswith("unrecognized arguments: "):
        words = [w.split("=", 1)[0] for w in message.removeprefix("unrecognized arguments: ").split() if w.startswith("-")]
        word, known = (words[0] if words else ""), sorted(set(_option_strings(parser)))
    else:
        return ""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6) if word else []
    return f"; did you mean {close[0]}?" if close else ""



def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD (for example 2027-04-01)") from None

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


def _synth_args(synth: argparse.ArgumentParser) -> None:
    synth.add_argument("--stack", required=True, help="stack name: dev, prod, or a personal dev-<name>")
    synth.add_argument("--json", action="store_true", help="print as JSON (as every command's --json)")
    synth.add_argument("--format", choices=("tree", "json"), default="tree", help="output format (default: tree; "
                       "--format json is --json)")
    synth.add_argument("--manifests", metavar="DIR", help="also write every Kubernetes object as YAML into DIR")
    synth.add_argument("--policy", action="store_true", help="also evaluate the project's policy pack (policypack/) on "
                       "what the program declares; exit 9 on a mandatory violation")


def _cost_args(cost: argparse.ArgumentParser) -> None:
    cost.add_argument("--stack", required=True, help="stack name: dev, prod, or a personal dev-<name>")
    cost.add_argument("--json", action="store_true", help="print as JSON (as every command's --json)")
    cost.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table; "
                      "--format json is --json)")
    cost.add_argument("--date", type=_iso_date, metavar="YYYY-MM-DD", help="price the 730 hours from this day (versions' "
                      "support compared with it; default: today, or GHOST_GITOPS_TODAY)")


def _environments_args(envs: argparse.ArgumentParser) -> None:
    envs.add_argument("branch", nargs="*", help="branches to route")
    envs.add_argument("--json", action="store_true", help="print the rules and routes as JSON")


def _plan_args(plan: argparse.ArgumentParser) -> None:
    _event_args(plan)
    plan.add_argument("--github-matrix", action="store_true", help="print a GitHub Actions matrix (one job per stack)")


def _run_args(run: argparse.ArgumentParser) -> None:
    _event_args(run)
    _engine_args(run)
    run.add_argument("--only-stack", help="run only this stack's operation (one GitHub Actions matrix job per stack)")
    run.add_argument("--allow-dirty", action="store_true", help="deploy uncommitted changes (the audit message says so)")
    run.add_argument("--accept-plan-change", metavar="REASON", help="apply a merge whose plan differs from the preview "
                     "reviewed on its pull request (the reason is recorded in the audit message)")
    run.add_argument("--skip-health-check", action="store_true", help="do not probe the health URL after an up "
                     "(and so never roll back automatically)")
    run.add_argument("--accept-over-budget", metavar="REASON", help="apply an up whose cost estimate crosses the "
                     "stack's budget_monthly_usd (the reason is recorded in the audit message)")


def _stack_operation_args(name: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--stack", required=True)
        p.add_argument("--sha", help="the commit being operated on (default: the work tree's HEAD)")
        if name == "up":
            p.add_argument("--rollback", action="store_true",
                           help="deploy even if a newer commit is deployed (check out the older commit first)")
            p.add_argument("--allow-dirty", action="store_true", help="deploy uncommitted changes (the audit says so)")
            p.add_argument("--skip-health-check", action="store_true", help="do not probe the health URL after the up")
            p.add_argument("--accept-over-budget", metavar="REASON", help="apply the up even if its cost estimate "
                           "crosses the stack's budget_monthly_usd (the reason is recorded in the audit message)")
        if name == "destroy":
            p.add_argument("--yes-destroy-environment", action="store_true", help="required to destroy an environment")
        _engine_args(p)
        p.set_defaults(rollback=False, yes_destroy_environment=False)

    return add


def _expire_args(expire: argparse.ArgumentParser) -> None:
    expire.add_argument("--dry-run", action="store_true", help="print the plan (as JSON) instead of running it")
    expire.add_argument("--now", type=_timestamp, help="judge idleness as of this ISO 8601 time with offset "
                        "(e.g. 2026-12-24T00:00:00+00:00: what would expire by then; default: now)")
    expire.add_argument("--remote", default="origin", help="destroy personal stacks whose branch is gone from this "
                        "remote (default origin; '' to skip the check)")
    _engine_args(expire)


def _extend_args(extend: argparse.ArgumentParser) -> None:
    extend.add_argument("--stack", required=True)
    extend.add_argument("--days", type=_positive_int, required=True, help="keep it at least this many days (max 90)")
    _engine_args(extend)


def _drift_args(drift: argparse.ArgumentParser) -> None:
    drift.add_argument("--stack", action="append", help="a stack: an environment, or a personal stack by its name "
                       "(repeatable; default: every environment stack)")
    drift.add_argument("--remediate", action="store_true", help="refresh and re-apply drifted stacks whose rule sets "
                       "drift_remediation (audited), then check again")
    drift.add_argument("--issues", action="store_true", help="keep one GitHub issue per drifted stack (opened, updated, "
                       "closed when clean); needs GITHUB_TOKEN")
    _engine_args(drift)


def _rollback_args(rollback: argparse.ArgumentParser) -> None:
    rollback.add_argument("--stack", required=True)
    rollback.add_argument("--to", help="the commit to roll back to (a deployed one; default: the one before the current)")
    rollback.add_argument("--steps", type=_positive_int, default=1, help="roll back this many deployed commits (default 1)")
    rollback.add_argument("--reason", required=True, help="why (recorded in the audit message)")
    rollback.add_argument("--allow-stateful-changes", action="store_true",
                          help="allow replacing or deleting stateful resources (databases, volumes, keys, namespaces)")
    _engine_args(rollback)


def _status_args(status: argparse.ArgumentParser) -> None:
    status.add_argument("--stack", required=True)
    _engine_args(status)


def _recover_args(recover: argparse.ArgumentParser) -> None:
    recover.add_argument("--stack", required=True)
    recover.add_argument("--yes", action="store_true", help="required: recover changes the state backend")
    recover.add_argument("--restore-checkpoint", action="store_true", help="first put back the newest readable version "
                         "of a damaged checkpoint from the S3 bucket's object versions (recorded in the bucket)")
    recover.add_argument("--reason", help="with --restore-checkpoint: why (recorded with who and when)")
    _engine_args(recover)


def _versions_args(versions: argparse.ArgumentParser) -> None:
    versions.add_argument("--stack", help="one environment stack (default: all)")
    versions.add_argument("--issues", action="store_true", help="keep one GitHub issue per stack with a version due "
                          "(opened, updated, closed when none is); needs GITHUB_TOKEN and GITHUB_REPOSITORY")
    versions.add_argument("--json", action="store_true", help="print as JSON")


def _doctor_args(doctor: argparse.ArgumentParser) -> None:
    doctor.add_argument("--backend-url", help="as for the engine commands")
    doctor.add_argument("--secrets-provider", help="as for the engine commands")
    doctor.add_argument("--pulumi-root", help="as for the engine commands")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")


def _bootstrap_args(boot: argparse.ArgumentParser) -> None:
    boot.add_argument("--region", required=True, help="AWS region of the bucket and key (e.g. eu-west-1)")
    boot.add_argument("--bucket", required=True, help="the S3 state bucket's name")
    boot.add_argument("--repo", required=True, help="OWNER/NAME: the GitHub repository whose workflows assume the roles")
    boot.add_argument("--prefix", default="ghost-gitops", help="names of the key alias and roles (default ghost-gitops)")
    boot.add_argument("--endpoint-url", help="an AWS-compatible endpoint (tests: moto); default: AWS itself")
    boot.add_argument("--json", action="store_true", help="print the result as JSON")


def _history_args(hist: argparse.ArgumentParser) -> None:
    hist.add_argument("--stack", required=True)
    hist.add_argument("--limit", type=_positive_int, default=20, help="updates to show (default 20)")
    _engine_args(hist)


#: subcommand -> (its help line, what adds its arguments), in the order `--help` lists them
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "synth": ("evaluate the program offline for a stack and print what it declares", _synth_args),
    "cost": ("print a stack's monthly cost estimate from its synth (offline; prices: automation/prices/aws.yaml, usage "
             "assumptions: costs.yaml)", _cost_args),
    "environments": ("print the branch -> stack rules, and which rule given branches hit", _environments_args),
    "plan": ("print what the current event would do, touching nothing", _plan_args),
    "run": ("execute the plan for the current event", _run_args),
    "preview": ("preview a stack", _stack_operation_args("preview")),
    "up": ("deploy the checked-out commit to a stack", _stack_operation_args("up")),
    "destroy": ("destroy a stack and remove it", _stack_operation_args("destroy")),
    "refresh": ("refresh a stack's state", _stack_operation_args("refresh")),
    "expire": ("destroy personal stacks past their ttl or whose branch is gone; warn about those close to it",
               _expire_args),
    "extend": ("keep a personal stack past its ttl, until DAYS from now", _extend_args),
    "drift": ("refresh-preview environment stacks; exit 5 when the cloud drifted from the state", _drift_args),
    "rollback": ("deploy an earlier deployed commit, refusing stateful replacements", _rollback_args),
    "status": ("locks and pending operations of a stack, and what is safe to do", _status_args),
    "recover": ("after a killed run: cancel the stale lock and clear pending creates", _recover_args),
    "versions": ("the versions each environment stack pins and their support dates (automation/prices/lifecycle.yaml); "
                 "offline", _versions_args),
    "doctor": ("which Pulumi CLI, backend, secrets provider and aws CLI would be used, and why", _doctor_args),
    "bootstrap": ("create the team backend: S3 state bucket, KMS key, GitHub OIDC provider, workflow roles (idempotent)",
                  _bootstrap_args),
    "history": ("who, what, when, why and the result of each update of a stack", _history_args),
}


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (after the global options), or None when it names none (then every subcommand's
    arguments are built, for `--help` and for the message that lists the choices)."""
    args = iter(argv)
    for arg in args:
        if arg == "--project-dir":
            next(args, None)
        elif arg != "--debug" and not arg.startswith("--project-dir="):
            return arg if arg in SUBCOMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line. ``only``: build just that subcommand (what `main` does once ``argv`` names one, so a command
    pays for its own parser alone; `--help` and an unknown command get every subcommand, to list them)."""
    parser = _Parser(prog="python -m automation", description="GitOps engine for the ghost-gitops Pulumi project.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    parser.add_argument("--project-dir", help="the Pulumi project directory (default: this repository)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (text, add_arguments) in SUBCOMMANDS.items():
        if only is not None and name != only:
            continue
        sub_parser = sub.add_parser(name, help=text)
        add_arguments(sub_parser)
        # the global options are accepted after the command too
        sub_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sub_parser.add_argument("--project-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


Command = Callable[[Any, Context], Result]


def options_class(name: str) -> type[Options]:
    """The options class of subcommand ``name``: plan's from automation.cli.options, every other one's from
    automation.cli.command_options, imported only for them (``plan`` does not create them)."""
    if name == "plan":
        return PlanOptions
    from automation.cli.command_options import OPTIONS

    return OPTIONS[name]


def parse(argv: Sequence[str]) -> Options:
    """The typed options of the command line ``argv`` (bad input: ConfigError, exit 2)."""
    args = list(argv)
    ns = build_parser(chosen_command(args)).parse_args(args)
    return from_namespace(ns, options_class(ns.command))


def command(name: str) -> Command:
    """The function of subcommand ``name``, importing only its group's module (``plan`` loads no engine)."""
    if name in ("synth", "cost", "environments"):
        from automation.cli import offline

        return offline.COMMANDS[name]
    if name in ("plan", "run", "preview", "up", "destroy", "refresh", "rollback"):
        from automation.cli import deploying

        return deploying.COMMANDS[name]
    if name in ("expire", "extend"):
        from automation.cli import personal

        return personal.COMMANDS[name]
    if name in ("drift", "history", "status", "recover"):
        from automation.cli import day2

        return day2.COMMANDS[name]
    from automation.cli import setup

    return setup.COMMANDS[name]


def console() -> None:
    """The ``ghost-gitops`` console script (pyproject.toml)."""
    sys.exit(main())


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command. Returns the process exit code (see automation.model.errors and README)."""
    environ = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        opts = parse(sys.argv[1:] if argv is None else argv)
        result = command(opts.command)(opts, Context(environ=environ, out=out, err=err))
        from automation.cli.output import render

        out.write(render(result, as_json=opts.as_json, redact=_redactor_of(environ)))
        error = getattr(result, "error", None)
        if isinstance(error, AutomationError):
            raise error  # what finished (reports, answered branches) is printed (and published) first
        return result.exit_code
    except AutomationError as exc:
        if debug and isinstance(exc, InternalError) and exc.__cause__ is not None:
            raise exc.__cause__ from None
        print(f"error: {_redact_env(str(exc), environ)}", file=err)
        return exc.exit_code
    except ModuleNotFoundError as exc:  # a command's lazy import on a Python without the requirements
        if debug:
            raise
        print(f"error: the Python package {exc.name!r} is not installed for {sys.executable}: run `bash .ci/setup` in the "
              "repository, then use `.venv/bin/ghost-gitops` or `.venv/bin/python -m automation`", file=err)
        return MISSING_DEPENDENCY_EXIT_CODE
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


def _redactor_of(environ: Mapping[str, Any]) -> Redactor:
    from automation.review.redact import Redactor

    return Redactor.from_environ({k: str(v) for k, v in environ.items()})


def _redact_env(text: str, environ: Mapping[str, Any]) -> str:
    return _redactor_of(environ)(text)
