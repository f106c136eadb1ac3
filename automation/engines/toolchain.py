"""Which Pulumi CLI (and helper tools) the engine uses, and why: the one place that looks for them.

Order for the Pulumi CLI:

1. ``--pulumi-root DIR`` / ``$GHOST_GITOPS_PULUMI_ROOT``: a directory holding ``bin/pulumi``;
2. the pinned CLI built by ``.ci/build-pulumi`` into ``${GHOST_GITOPS_CACHE:-~/.cache/ghost-gitops}/pulumi/v<ver>``;
3. ``pulumi`` on ``PATH``;
4. with ``--install-cli``: Pulumi's own installer (needs get.pulumi.com; fails on machines without it).

A CLI older than :data:`PULUMI_CLI_VERSION` (or one that does not say its version) is refused with
exit 4, naming the version found and the one needed. Pure except for reading the file system and
running ``<cli> version`` (remembered per binary in the cache directory) / ``aws --version``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from automation.model.errors import PulumiCliMissing

#: The Pulumi CLI this project builds and tests with (.ci/pulumi-cli/go.mod pins the same release).
PULUMI_CLI_VERSION = "3.274.1"
#: The launcher the CLI starts for Python dynamic providers (written by .ci/build-pulumi).
DYNAMIC_PROVIDER_LAUNCHER = "pulumi-resource-pulumi-python"
#: The launcher that runs the project's Python policy pack for the CLI (written by .ci/build-pulumi). This CLI runs a
#: pack directory only through a language host; the engine passes this executable as the pack instead (the CLI then
#: starts it like a provider) and names the pack's directory in POLICY_PACK_ENV.
POLICY_PACK_LAUNCHER = "pulumi-analyzer-policy-python"
POLICY_PACK_ENV = "GHOST_GITOPS_POLICY_PACK"
#: The Python language host a Pulumi release ships beside its CLI (not buildable here: see POLICY_PACK_LAUNCHER); with
#: it, the CLI runs the policy pack directory itself.
LANGUAGE_HOST = "pulumi-language-python"
#: pulumi-eks runs ``aws eks get-token`` in its kubeconfig and checks for these minimum versions.
AWS_CLI_MINIMUM = {1: (1, 24, 0), 2: (2, 7, 0)}
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def _parse(version: str) -> tuple[int, int, int] | None:
    m = _VERSION.match(version.strip())
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def cache_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("GHOST_GITOPS_CACHE") or str(Path(environ.get("HOME") or Path.home()) / ".cache" / "ghost-gitops")
    return Path(base)


def built_cli_root(environ: Mapping[str, str]) -> Path:
    """Where .ci/build-pulumi puts the pinned CLI."""
    return cache_dir(environ) / "pulumi" / f"v{PULUMI_CLI_VERSION}"


@dataclass(frozen=True)
class CliChoice:
    """The Pulumi CLI the engine will run: ``root`` holds ``bin/pulumi`` (None: found on PATH)."""

    path: Path
    root: Path | None
    version: str
    source: str


def cli_version(path: Path, environ: Mapping[str, str] | None = None) -> str:
    """What ``<path> version`` prints; raises PulumiCliMissing when the binary is broken."""
    try:
        proc = subprocess.run([str(path), "version"], capture_output=True, text=True, timeout=60, check=False,
                              env=dict(environ) if environ is not None else None)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PulumiCliMissing(f"the Pulumi CLI at {path} does not run ({exc}); rebuild it with `bash .ci/build-pulumi`") from None
    if proc.returncode != 0:
        raise PulumiCliMissing(f"`{path} version` failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


def known_cli_version(path: Path, environ: Mapping[str, str]) -> str:
    """``<path> version``, remembered per binary (resolved path, size, modification time) in
    ``<cache>/cli-versions.json``: an engine run asks once per binary, not once per run. A cache that cannot be
    read or written is ignored (the version is then asked every time)."""
    try:
        real = path.resolve()
        st = real.stat()
    except OSError:
        return cli_version(path, environ)
    key = f"{real}:{st.st_size}:{st.st_mtime_ns}"
    store = cache_dir(environ) / "cli-versions.json"
    known: dict[str, str] = {}
    try:
        loaded = json.loads(store.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            known = {k: v for k, v in loaded.items() if isinstance(k, str) and isinstance(v, str)}
    except (OSError, ValueError):
        pass
    if key in known:
        return known[key]
    found = cli_version(path, environ)
    known = {**dict(list(known.items())[-19:]), key: found}
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_name(f".{store.name}.{os.getpid()}")
        tmp.write_text(json.dumps(known, indent=1), encoding="utf-8")
        os.replace(tmp, store)
    except OSError:
        pass
    return found


def check_version(path: Path, found: str) -> None:
    """Refuse a CLI older than the pinned one, or one that does not report a version (exit 4)."""
    have, need = _parse(found), _parse(PULUMI_CLI_VERSION)
    assert need is not None
    if have is None:
        raise PulumiCliMissing(f"the Pulumi CLI at {path} reports version {found!r}, not a release version; this engine "
                               f"needs {PULUMI_CLI_VERSION} or newer (build it with `bash .ci/build-pulumi`)")
    if have < need:
        raise PulumiCliMissing(f"the Pulumi CLI at {path} is version {found.lstrip('v')}; this engine needs "
                               f"{PULUMI_CLI_VERSION} or newer (build it with `bash .ci/build-pulumi`)")
    if have[0] != need[0]:
        raise PulumiCliMissing(f"the Pulumi CLI at {path} is version {found.lstrip('v')}, another major version than "
                               f"{PULUMI_CLI_VERSION}; use a 3.x CLI (`bash .ci/build-pulumi`)")


def find_cli(environ: Mapping[str, str], explicit_root: str | None = None, check: bool = True) -> CliChoice:
    """The Pulumi CLI to use; raises PulumiCliMissing saying what was looked at and how to get one.

    :param check: run ``<cli> version`` and refuse a too-old or broken CLI here. The engine passes False and
        checks :func:`known_cli_version` itself (no process once the binary's version is known).
    """
    candidates: list[tuple[Path, Path | None, str]] = []
    root = explicit_root or environ.get("GHOST_GITOPS_PULUMI_ROOT")
    if root:
        exe = Path(root) / "bin" / "pulumi"
        if not exe.is_file():
            raise PulumiCliMissing(f"--pulumi-root / GHOST_GITOPS_PULUMI_ROOT {root}: there is no {exe}")
        candidates.append((exe, Path(root), "--pulumi-root" if explicit_root else "GHOST_GITOPS_PULUMI_ROOT"))
    built = built_cli_root(environ)
    if (built / "bin" / "pulumi").is_file():
        candidates.append((built / "bin" / "pulumi", built, "built by .ci/build-pulumi"))
    on_path = shutil.which("pulumi", path=environ.get("PATH"))
    if on_path:
        candidates.append((Path(on_path), None, "PATH"))
    if not candidates:
        raise PulumiCliMissing(
            f"no Pulumi CLI: looked in {built / 'bin'} (the pinned {PULUMI_CLI_VERSION}, built by "
            "`bash .ci/build-pulumi` from the Go module proxy) and on PATH; build it, or pass --install-cli where "
            "get.pulumi.com is reachable")
    exe, cli_root, source = candidates[0]
    if not check:
        return CliChoice(path=exe, root=cli_root, version="", source=source)
    found = cli_version(exe, environ)
    check_version(exe, found)
    return CliChoice(path=exe, root=cli_root, version=found.lstrip("v"), source=source)


def aws_cli(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(version, problem) of the ``aws`` CLI pulumi-eks needs on the deploying machine; problem None when usable."""
    exe = shutil.which("aws", path=environ.get("PATH"))
    if exe is None:
        return None, ("the `aws` CLI is not on PATH: pulumi-eks needs it (v1.24+ or v2.7+) where the engine runs, "
                      "for its kubeconfig (`aws eks get-token`)")
    try:
        proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60, check=False,
                              env=dict(environ))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"`{exe} --version` did not run: {exc}"
    text = (proc.stdout or proc.stderr).strip()
    m = re.search(r"aws-cli/(\d+)\.(\d+)\.(\d+)", text)
    if proc.returncode != 0 or not m:
        return None, f"`{exe} --version` did not report a version (exit {proc.returncode}): {text[:200]}"
    have = (int(m[1]), int(m[2]), int(m[3]))
    need = AWS_CLI_MINIMUM.get(have[0])
    version = ".".join(map(str, have))
    if need is None or have < need:
        return version, (f"the `aws` CLI at {exe} is {version}; pulumi-eks needs v1.24+ or v2.7+ "
                         "(its kubeconfig runs `aws eks get-token`)")
    return version, None


def engine_environment(choice: CliChoice, python: str, project_root: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Variables the CLI (and the plugins it starts) need: its own bin dir first on PATH, the Python that
    runs the program for dynamic providers, and the project on PYTHONPATH so pickled providers import."""
    bin_dir = str(choice.path.parent)
    path = environ.get("PATH", os.defpath)
    python_path = environ.get("PYTHONPATH")
    return {
        "PATH": f"{bin_dir}{os.pathsep}{path}",
        "PULUMI_PYTHON_CMD": python,
        "PYTHONPATH": str(project_root) + (f"{os.pathsep}{python_path}" if python_path else ""),
    }
