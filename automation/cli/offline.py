"""The offline commands: ``synth`` (what the program declares, its manifests, the policy pack on it), ``cost`` (the
monthly estimate) and ``environments`` (branch -> stack rules). No cloud, no network."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.cli.results import (
    CostOutput,
    EnvironmentsOutput,
    Result,
    SynthOutput,
)
from automation.cli.wiring import Context, project_root
from automation.model.errors import ConfigError

if TYPE_CHECKING:
    from automation.cli.command_options import CostOptions, EnvironmentsOptions, SynthOptions
    from automation.config.environments import Route


def cmd_synth(opts: SynthOptions, ctx: Context) -> SynthOutput:
    import yaml

    from automation.config.environments import FILE_NAME, load_environments
    from automation.config.stackconfig import load_stack_config
    from automation.engines.synth import synthesize

    root = project_root(opts.project_dir)
    config = (load_environments(root).stack_config(root, opts.stack) if (root / FILE_NAME).exists()
              else load_stack_config(root, opts.stack))
    checks = None
    if opts.policy:
        from automation.config.environments import load_environments as _load
        from automation.review.policy import PACK_DIR, environment_of, stack_policy

        envs = _load(root) if (root / FILE_NAME).exists() else None
        route = envs.by_stack(opts.stack) if envs is not None else None
        checks = stack_policy(root, opts.stack, environment_of(config.values), route.rule if route else None,
                              envs.stateful if envs is not None else None)
        if checks is None:
            raise ConfigError(f"--policy: {root} has no policy pack ({PACK_DIR}/PulumiPolicy.yaml and {PACK_DIR}/rules.py)")
    result = synthesize(root, config)
    count = 0
    if opts.manifests:
        target = Path(opts.manifests)
        files = {f"{str(manifest['kind']).lower()}-{res.name}.yaml": yaml.safe_dump(manifest, sort_keys=False)
                 for res, manifest in result.manifests()}
        removed = _replace_manifests(target, opts.stack, files)
        count = len(files)
        print(f"wrote {count} Kubernetes manifests of {opts.stack} to {target}"
              + (f" (removed {removed} of the previous synth)" if removed else ""), file=ctx.err)
    if checks is None:
        return SynthOutput(result, manifests=count if opts.manifests else None)
    from automation.model.snapshot import Resource
    from automation.review.policy import POLICY_DENIED_EXIT_CODE

    found = checks.evaluate(Resource(r.urn, r.type, r.name, r.inputs, r.protect) for r in result.resources)
    return SynthOutput(result, manifests=count if opts.manifests else None, policies_ran=checks.policies, policy=found,
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


def cmd_cost(opts: CostOptions, ctx: Context) -> CostOutput:
    """The monthly estimate of a stack from its offline synth (no cloud, no network)."""
    from automation.config.environments import FILE_NAME, load_environments
    from automation.config.prices import load_project
    from automation.config.stackconfig import load_stack_config
    from automation.engines.synth import synthesize
    from automation.model.snapshot import Resource
    from automation.review.cost import estimate

    root = project_root(opts.project_dir)
    envs = load_environments(root) if (root / FILE_NAME).exists() else None
    config = envs.stack_config(root, opts.stack) if envs is not None else load_stack_config(root, opts.stack)
    project = load_project(root)  # a bad costs.yaml is refused before the program runs
    result = synthesize(root, config)
    region = config.values.get("aws:region")
    est = estimate((Resource(r.urn, r.type, r.name, r.inputs) for r in result.resources), stack=opts.stack,
                   region=region if isinstance(region, str) else None, project=project, on=opts.date,
                   hosts_others=envs.hosts_others(opts.stack) if envs is not None else None)
    route = envs.by_stack(opts.stack) if envs is not None else None
    return CostOutput(est, budget=route.rule.budget_monthly_usd if route is not None else None)


def cmd_environments(opts: EnvironmentsOptions, ctx: Context) -> EnvironmentsOutput:
    from automation.config.environments import load_environments
    from automation.review.policy import check_rules

    root = project_root(opts.project_dir)
    envs = load_environments(root)
    check_rules(root, envs.rules)
    routes: list[tuple[str, Route | str | None]] = []
    first: ConfigError | None = None
    for branch in opts.branch or ():
        try:
            routes.append((branch, envs.route(branch)))
        except ConfigError as exc:  # answer every branch, then refuse
            routes.append((branch, str(exc)))
            first = first or exc
    return EnvironmentsOutput(envs, tuple(routes), error=first)


#: this group's subcommands (automation.cli.main dispatches to them)
COMMANDS: dict[str, Callable[[Any, Context], Result]] = {"synth": cmd_synth, "cost": cmd_cost, "environments": cmd_environments}
