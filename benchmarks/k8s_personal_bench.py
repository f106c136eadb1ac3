"""A personal stack of THIS program on the real pulumi-kubernetes provider and a real control plane
(the set-up of tests/real/test_k8s_real.py: stand-ins for the dev stack, the kubelet, the AWS controllers and
pulumi-random, all named there).

    .venv/bin/python benchmarks/k8s_personal_bench.py [--rounds N]

Prints, as JSON: the wall time of the first ``up --stack dev-alice`` (everything created and awaited), of a
no-change ``up`` and a no-change ``preview`` (medians), and of the ``destroy``; and the engine's overhead on a
no-change ``up`` against a bare Automation API ``Stack.up`` of the same inline program with the same CLI and
plugins in a fresh Python process, alternating (medians and their ratio). Needs the builds of
.ci/build-pulumi, .ci/build-k8s-control-plane and .ci/build-k8s-provider (cached).
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
from tests.support import gitrepo  # noqa: E402
from tests.support.fake_github import FakeGitHub, serve  # noqa: E402
from tests.support.k8s_cluster import build_control_plane, build_k8s_provider, running_cluster  # noqa: E402
from tests.support.k8s_world import World, launchers, project_repository, stand_in_dev  # noqa: E402

BARE_UP = """
import sys
from pathlib import Path
from pulumi import automation as auto
sys.path.insert(0, {engine!r})
from automation.engines.program import inline_program
root = Path({repo!r})
stack = auto.select_stack(stack_name="dev-alice", project_name="ghost-gitops", program=inline_program(root),
                          opts=auto.LocalWorkspaceOptions(work_dir=str(root), pulumi_command=auto.PulumiCommand(root={cli!r})))
stack.up(color="never", show_secrets=False)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    choice = find_cli(os.environ)
    assert choice.root is not None, "the pinned CLI (bash .ci/build-pulumi)"
    code, control_plane, err = build_control_plane()
    assert code == 0, err
    code, provider, err = build_k8s_provider()
    assert code == 0, err
    tmp = Path(tempfile.mkdtemp(prefix="k8s-personal-bench-"))
    try:
        (tmp / "home").mkdir()
        (tmp / "state").mkdir()
        launchers(tmp / "bin", Path(provider))
        with running_cluster(tmp / "cluster", Path(control_plane)) as cluster, serve(FakeGitHub()) as gh:
            repo = project_repository(tmp / "repo")
            gitrepo.git(repo, "checkout", "-q", "-b", "dev/alice")
            w = World(repo=repo, backend=tmp / "state", tmp=tmp, cli_root=choice.root, bin=tmp / "bin",
                      cluster=cluster, gh=gh)
            stand_in_dev(w)
            env = {**w.env(), "PULUMI_SKIP_UPDATE_CHECK": "true"}
            engine = [sys.executable, "-m", "automation", "--project-dir", str(repo)]

            def run(cmd: list[str]) -> float:
                start = time.perf_counter()
                proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
                elapsed = time.perf_counter() - start
                if proc.returncode != 0:
                    raise SystemExit(f"{' '.join(cmd[3:])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
                return elapsed

            up = [*engine, "up", "--stack", "dev-alice", "--skip-health-check"]
            first_up = run(up)
            bare = [sys.executable, "-c", BARE_UP.format(engine=str(ROOT), repo=str(repo), cli=str(choice.root))]
            engine_times, bare_times, previews = [], [], []
            for _ in range(args.rounds):
                engine_times.append(run(up))
                bare_times.append(run(bare))
                previews.append(run([*engine, "preview", "--stack", "dev-alice"]))
            destroy = run([*engine, "destroy", "--stack", "dev-alice"])
            e, b = statistics.median(engine_times), statistics.median(bare_times)
            print(json.dumps({
                "cli": choice.version, "rounds": args.rounds,
                "first_up_s": round(first_up, 2), "no_change_up_median_s": round(e, 2),
                "no_change_preview_median_s": round(statistics.median(previews), 2), "destroy_s": round(destroy, 2),
                "bare_up_median_s": round(b, 2), "engine_over_bare": round(e / b, 2),
                "bare_means": "the same inline program, CLI and plugins through one Automation API Stack.up call in a "
                              "fresh Python process (no Python language host can be built here)",
            }, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
