"""Wall time and peak memory of `synth --stack prod`, against the floor of importing the SDKs.

Run: .venv/bin/python benchmarks/synth_bench.py [--runs N]
Each figure is the median of N fresh processes (peak RSS from the child's rusage).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = [sys.executable, "-c", "import pulumi, pulumi_aws, pulumi_eks, pulumi_kubernetes"]
#: The SDK modules the program actually uses: the bare packages above are lazy and load none of them.
MODULES = [sys.executable, "-c", "import pulumi_aws.ec2, pulumi_aws.rds, pulumi_aws.iam, pulumi_aws.kms, "
           "pulumi_aws.cloudwatch, pulumi_aws.vpc, pulumi_eks, pulumi_random, pulumi_kubernetes.core.v1, "
           "pulumi_kubernetes.apps.v1, pulumi_kubernetes.batch.v1, pulumi_kubernetes.networking.v1, "
           "pulumi_kubernetes.storage.v1, pulumi_kubernetes.apiextensions, pydantic"]
SYNTH = [sys.executable, "-m", "automation", "synth", "--stack", "prod"]


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
    mods_t, mods_m = measure(MODULES, runs)
    synth_t, synth_m = measure(SYNTH, runs)
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}, {runs} runs each (median)")
    print(f"floor  import pulumi+aws+eks+kubernetes: {floor_t:.3f} s, peak RSS {floor_m:.0f} MiB")
    print(f"floor2 import the SDK modules used:      {mods_t:.3f} s, peak RSS {mods_m:.0f} MiB")
    print(f"synth  --stack prod:                     {synth_t:.3f} s, peak RSS {synth_m:.0f} MiB")
    print(f"ratio  synth / floor:                    {synth_t / floor_t:.2f}x (target < 2 s and < 2x)")
    print(f"ratio  synth / floor2:                   {synth_t / mods_t:.2f}x")


if __name__ == "__main__":
    main()
