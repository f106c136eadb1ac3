"""What the policy pack adds to a preview: offline on the real program's synth, and on the real CLI with the fixture.

    .venv/bin/python benchmarks/policy_bench.py [--rounds N]

- Offline: a fresh ``synth --stack prod`` process against ``synth --stack prod --policy`` (the same synth plus
  the 27 policies on its 71 resources), alternating, medians.
- Real CLI: the engine's ``preview --stack dev`` of the fixture project (tests/data/fixture_project, already deployed)
  with the pack (policypack/ copied in: the CLI starts the analyzer, which serves the 27 policies) against the
  same project without it, alternating, medians. The fixture's stack is not `production`, so the pack finds
  nothing and both previews succeed.
Target: the pack adds under 20% to a preview.
"""

from __future__ import annotations

import argparse
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


def timed(argv: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return took


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def offline(rounds: int) -> tuple[float, float]:
    base = [sys.executable, "-m", "automation", "synth", "--stack", "prod", "--format", "json"]
    plain, checked = [], []
    for _ in range(rounds):
        plain.append(timed(base))
        checked.append(timed([*base, "--policy"]))
    return statistics.median(plain), statistics.median(checked)


def real(rounds: int) -> tuple[float, float]:
    choice = find_cli(os.environ)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        env = {**os.environ, "HOME": str(tmp), "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
               "PULUMI_BACKEND_URL": (tmp / "state").as_uri(), "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
               "GHOST_GITOPS_PULUMI_ROOT": str(choice.path.parent.parent)}
        (tmp / "state").mkdir()
        repos = {}
        for name, with_pack in (("plain", False), ("pack", True)):
            repo = tmp / name
            shutil.copytree(FIXTURE_PROJECT, repo, ignore=shutil.ignore_patterns("__pycache__"))
            if with_pack:
                shutil.copytree(ROOT / "policypack", repo / "policypack", ignore=shutil.ignore_patterns("__pycache__"))
            (repo / "Pulumi.yaml").write_text((repo / "Pulumi.yaml").read_text().replace("name: fixture", f"name: fixture-{name}"))
            (repo / "Pulumi.dev.yaml").write_text(f"config:\n  fixture-{name}:cloudDir: {tmp / 'cloud' / name}\n"
                                                  f"  fixture-{name}:zones:\n    - zone-a\n")
            (repo / ".gitignore").write_text("__pycache__/\n.pulumi-state/\n")
            git(repo, "init", "-q", "-b", "main")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", "bench")
            engine = [sys.executable, "-m", "automation", "--project-dir", str(repo)]
            timed([*engine, "up", "--stack", "dev", "--allow-dirty", "--skip-health-check"], env)
            repos[name] = engine
        plain, checked = [], []
        for _ in range(rounds):
            plain.append(timed([*repos["plain"], "preview", "--stack", "dev"], env))
            checked.append(timed([*repos["pack"], "preview", "--stack", "dev"], env))
        return statistics.median(plain), statistics.median(checked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}, medians of {rounds} alternating rounds")
    plain, checked = offline(rounds)
    print(f"offline: synth --stack prod {plain:.3f} s; with --policy {checked:.3f} s: the pack adds "
          f"{checked - plain:+.3f} s ({(checked - plain) / plain:+.1%}; target < 20%)")
    plain, checked = real(rounds)
    print(f"real CLI, fixture preview: without the pack {plain:.3f} s; with it {checked:.3f} s: the pack adds "
          f"{checked - plain:+.3f} s ({(checked - plain) / plain:+.1%}; target < 20%)")


if __name__ == "__main__":
    main()
