"""Engine overhead over the bare Pulumi CLI, on the real CLI and the fixture project (tests/data/fixture_project).

    .venv/bin/python benchmarks/real_engine_bench.py [--rounds N]

Deploys the fixture once, then alternates, with nothing to change:
- the engine: ``python -m automation up --stack dev`` (routing, lock, supersession check, history read,
  the update, tags, report);
- the bare baseline: a fresh Python process making one Automation API ``Stack.up`` call on the same
  inline program with the same CLI. A plain ``pulumi up --yes`` cannot run a Python program here (the
  Python language host cannot be built from the Go module proxy), so this is the least any Python
  program run by the CLI pays.
Prints the medians and their ratio, and how many CLI processes one engine ``up`` and one ``preview``
start (a shim ``bin/pulumi`` logs each call).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from automation.engines.toolchain import find_cli  # noqa: E402

FIXTURE_PROJECT = ROOT / "tests" / "data" / "fixture_project"
PASSPHRASE = "bench"  # noqa: S105 - a throwaway passphrase for a throwaway backend

BARE_UP = """
import sys
from pathlib import Path
from pulumi import automation as auto
sys.path.insert(0, {engine!r})
from automation.engines.program import inline_program
root = Path({repo!r})
stack = auto.select_stack(stack_name="dev", project_name="fixture", program=inline_program(root),
                          opts=auto.LocalWorkspaceOptions(work_dir=str(root), pulumi_command=auto.PulumiCommand(root={cli!r})))
stack.up(color="never")
"""


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    choice = find_cli(os.environ)
    tmp = Path(tempfile.mkdtemp(prefix="real-engine-bench-"))
    try:
        repo, cloud, state, shim = tmp / "repo", tmp / "cloud", tmp / "state", tmp / "shim"
        for d in (cloud, state, shim):
            d.mkdir()
        shutil.copytree(FIXTURE_PROJECT, repo, ignore=shutil.ignore_patterns("__pycache__"))
        (repo / ".gitignore").write_text("__pycache__/\n.pulumi-state/\n")
        (repo / "Pulumi.dev.yaml").write_text(f"config:\n  fixture:cloudDir: {cloud}\n  fixture:zones: [a, b]\n")
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "bench")
        log = tmp / "cli-calls.log"
        # a shim CLI root: bin/pulumi logs its arguments, then runs the real CLI
        (shim / "bin").mkdir()
        (shim / "bin" / "pulumi").write_text(f'#!/bin/sh\necho "$1 $2" >> {log}\nexec {choice.path} "$@"\n')
        (shim / "bin" / "pulumi").chmod(0o755)
        for name in ("pulumi-resource-pulumi-python",):
            os.symlink(choice.path.parent / name, shim / "bin" / name)
        env = {**os.environ, "PULUMI_BACKEND_URL": state.as_uri(), "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
               "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
               "GHOST_GITOPS_PULUMI_ROOT": str(shim), "PULUMI_PYTHON_CMD": sys.executable, "PYTHONPATH": str(repo),
               "PATH": f"{shim / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        engine = [sys.executable, "-m", "automation", "--project-dir", str(repo)]

        def run(cmd: list[str]) -> float:
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
            return time.perf_counter() - start

        # the health check (a separate, configured wait for the application) is left out of the overhead measured
        up = [*engine, "up", "--stack", "dev", "--skip-health-check"]
        run(up)  # deploy once
        git(repo, "commit", "-q", "-am", "the stack's encryptionsalt, as a team commits it")  # else `up` refuses a dirty tree
        counts = {}
        for op, cmd in (("up", up), ("preview", [*engine, "preview", "--stack", "dev"])):
            log.write_text("")
            run(cmd)
            counts[op] = [ln for ln in log.read_text().splitlines() if ln.strip()]
        bare_script = BARE_UP.format(engine=str(ROOT), repo=str(repo), cli=str(shim))
        engine_times, bare_times = [], []
        for _ in range(args.rounds):
            engine_times.append(run(up))
            bare_times.append(run([sys.executable, "-c", bare_script]))
        e, b = statistics.median(engine_times), statistics.median(bare_times)
        print(json.dumps({
            "cli": f"{choice.version} ({choice.path})", "rounds": args.rounds,
            "engine_up_median_s": round(e, 3), "bare_up_median_s": round(b, 3), "ratio": round(e / b, 2),
            "bare_means": "the same inline program and CLI through one Automation API Stack.up call (no language host "
                          "can be built, so a plain `pulumi up` cannot run a Python program here)",
            "cli_processes": {op: len(calls) for op, calls in counts.items()},
            "cli_calls": counts,
        }, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
