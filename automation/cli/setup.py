"""Setting up and checking: ``bootstrap`` (the team backend), ``versions`` (pins and their support dates) and
``doctor`` (which CLI, backend, secrets provider, tools and plugins the engine would use)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.cli.results import (
    BootstrapOutput,
    Check,
    DoctorOutput,
    Result,
    VersionsOutput,
)
from automation.cli.wiring import Context, project_root, redactor_of
from automation.model.errors import ConfigError

if TYPE_CHECKING:
    from automation.cli.command_options import BootstrapOptions, DoctorOptions, VersionsOptions


def cmd_bootstrap(opts: BootstrapOptions, ctx: Context) -> BootstrapOutput:
    """Create (idempotently) the S3 state bucket, KMS key, GitHub OIDC provider and workflow roles of a team."""
    import boto3

    from automation.adapters.bootstrap import apply, plan_spec

    spec = plan_spec(opts.region, opts.bucket, opts.repo, opts.prefix)
    session = boto3.session.Session(region_name=spec.region)

    def notify(line: str) -> None:
        ctx.err.write(f"{line}\n")


    return BootstrapOutput(apply(spec, session, endpoint_url=opts.endpoint_url, notify=notify))


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


def cmd_versions(opts: VersionsOptions, ctx: Context) -> VersionsOutput:
    """The pinned versions of every environment stack (or one) and their support dates; ``--issues`` keeps one
    GitHub issue per stack with a version due (the nightly job)."""
    from automation.adapters.github import GitHubClient
    from automation.config.environments import load_environments
    from automation.flow.versions import stack_versions, sync_issue

    root = project_root(opts.project_dir)
    envs = load_environments(root)
    if opts.stack is not None and envs.by_stack(opts.stack) is None:
        raise ConfigError(f"no stack {opts.stack!r} in environments.yaml (environment stacks: "
                          f"{', '.join(r.stack for r in envs.rules if r.kind == 'environment')})")
    found = stack_versions(root, envs, opts.stack)
    issues: tuple[str, ...] = ()
    if opts.issues:
        token = ctx.environ.get("GITHUB_TOKEN") or ctx.environ.get("GH_TOKEN")
        repo = ctx.environ.get("GITHUB_REPOSITORY")
        if not token or not repo:
            raise ConfigError("versions --issues needs GITHUB_TOKEN and GITHUB_REPOSITORY (the workflow's token with "
                              "`issues: write`)")
        gh = GitHubClient(token, repo, api_url=ctx.environ.get("GITHUB_API_URL", "https://api.github.com"))
        issues = tuple(sync_issue(gh, v, redactor_of(ctx)) for v in found)
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


def cmd_doctor(opts: DoctorOptions, ctx: Context) -> DoctorOutput:
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

    root = project_root(opts.project_dir)

    rows: list[tuple[str, str, str]] = []  # (check, ok|warn|missing, detail)
    code = 0
    cli_dir: Path | None = None
    try:
        choice = find_cli(ctx.environ, opts.pulumi_root)
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
    backend = opts.backend_url or ctx.environ.get("PULUMI_BACKEND_URL")
    if backend:
        rows.append(("backend", "ok", f"{backend} ({'--backend-url' if opts.backend_url else 'PULUMI_BACKEND_URL'})"))
    else:
        rows.append(("backend", "warn", f"{default_backend_url(root)} (default: state stays on this machine; set "
                     "PULUMI_BACKEND_URL for a shared backend)"))
    if opts.secrets_provider:
        rows.append(("secrets provider", "ok", opts.secrets_provider))
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


#: this group's subcommands (automation.cli.main dispatches to them)
COMMANDS: dict[str, Callable[[Any, Context], Result]] = {"bootstrap": cmd_bootstrap, "versions": cmd_versions, "doctor": cmd_doctor}
