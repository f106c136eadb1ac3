"""Wall time and peak memory of `synth --stack prod`, against the floor of importing what it loads.

Run: .venv/bin/python benchmarks/synth_bench.py [--runs N]
Each figure is the median of N fresh processes (peak RSS from the child's rusage).

The floors:
- floor:  ``import pulumi, pulumi_aws, pulumi_eks, pulumi_kubernetes`` (the packages only);
- floor2: a process that imports exactly the modules a synth of prod ends up with, except this repository's own
  (automation, infra, apps): the SDK modules, their dependencies and the standard library modules they use. The
  SDKs register most of their modules lazily (importlib's LazyLoader: ``import pulumi_aws.ec2`` loads nothing
  until an attribute is used), so the floor touches every module it imports, making the import real.
Target (issue 18): synth <= 1.3x floor2.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = [sys.executable, "-c", "import pulumi, pulumi_aws, pulumi_eks, pulumi_kubernetes"]
SYNTH = [sys.executable, "-m", "automation", "synth", "--stack", "prod"]
OWN = ("automation", "infra", "apps", "__main__", "__mp_main__")
#: prints the modules a synth of prod loaded for real (lazy modules never touched left out), as JSON
LOADED = f"""
import io, json, sys
from automation.cli.main import main
main(["synth", "--stack", "prod"], out=io.StringIO())
loaded = [n for n, m in list(sys.modules.items())
          if m is not None and type(m).__name__ != "_LazyModule" and n.split(".")[0] not in {OWN!r}]
print(json.dumps(loaded))
"""
#: imports the given modules and touches each, so a lazily registered one is really loaded
FLOOR2 = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    try:
        vars(importlib.import_module(name))
    except Exception:  # a module only importable in its package's context (rare): left out of the floor
        pass
"""


def measure(cmd: list[str], runs: int) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
        peaks.append(usage.ru_maxrss / 1024)
    return statistics.median(times), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    measure(SYNTH, 1)  # warm the bytecode cache
    floor_t, floor_m = measure(FLOOR, runs)
    names = json.loads(subprocess.run([sys.executable, "-c", LOADED], cwd=ROOT, capture_output=True, text=True,
                                      check=True).stdout)
    mods_t, mods_m = measure([sys.executable, "-c", FLOOR2, json.dumps(names)], runs)
    synth_t, synth_m = measure(SYNTH, runs)
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}, {runs} runs each (median)")
    print(f"floor  import pulumi+aws+eks+kubernetes: {floor_t:.3f} s, peak RSS {floor_m:.0f} MiB")
    print(f"floor2 import the {len(names)} modules synth loads (not this repository's): {mods_t:.3f} s, "
          f"peak RSS {mods_m:.0f} MiB")
    print(f"synth  --stack prod:                     {synth_t:.3f} s, peak RSS {synth_m:.0f} MiB")
    print(f"ratio  synth / floor:                    {synth_t / floor_t:.2f}x (the packages alone load few modules)")
    print(f"ratio  synth / floor2:                   {synth_t / mods_t:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
