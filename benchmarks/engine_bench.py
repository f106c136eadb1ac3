"""Wall time of `python -m automation plan` on a push payload, and of rendering a 500-resource preview comment.

Run: .venv/bin/python benchmarks/engine_bench.py [--runs N]
Targets: plan < 0.5 s (routing must not import pulumi_aws, pulumi_eks or pulumi_kubernetes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from automation.engine import Outcome, ResourceChange  # noqa: E402
from automation.render import Report, Status, render_markdown  # noqa: E402


def bench_plan(runs: int) -> tuple[float, float, list[str]]:
    payload = json.loads((ROOT / "tests" / "fixtures" / "events" / "push.json").read_text())
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(payload, fh)
    argv = [sys.executable, "-m", "automation", "plan", "--event-name", "push", "--event-path", fh.name]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    probe = ("import sys, io; from automation.cli import main; "
             f"main(['plan', '--event-name', 'push', '--event-path', {fh.name!r}], out=io.StringIO()); "
             "print(','.join(m for m in ('pulumi', 'pulumi_aws', 'pulumi_eks', 'pulumi_kubernetes') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    floor = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        floor.append(time.perf_counter() - start)
    os.unlink(fh.name)
    return statistics.median(times), statistics.median(floor), [m for m in loaded.split(",") if m]


def bench_render(resources: int, runs: int) -> tuple[float, int]:
    changes = tuple(ResourceChange(f"urn:pulumi:dev::p::kubernetes:core/v1:ConfigMap::cm-{i}", "kubernetes:core/v1:ConfigMap",
                                   f"cm-{i}", "update" if i % 3 else "create", ("data",)) for i in range(resources))
    diff = "\n".join(f"~ kubernetes:core/v1:ConfigMap cm-{i}\n-     data: {{\"k\": \"{'x' * 80}\"}}" for i in range(resources))
    report = Report(stack="dev", operation="preview", status=Status.SUCCEEDED, reason="bench",
                    outcome=Outcome(stack="dev", operation="preview", succeeded=True, changes=changes,
                                    counts={"update": resources}, diff=diff))
    times = []
    text = ""
    for _ in range(runs):
        start = time.perf_counter()
        text = render_markdown(report)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    plan_t, floor_t, loaded = bench_plan(runs)
    render_t, size = bench_render(500, runs)
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}, median of {runs} runs")
    print(f"plan (push payload), fresh process:  {plan_t:.3f} s (target < 0.5 s); bare `python -c pass`: {floor_t:.3f} s")
    print(f"modules loaded by plan:             {', '.join(loaded) or 'none of pulumi/pulumi_aws/pulumi_eks/pulumi_kubernetes'}")
    print(f"render comment, 500-resource preview: {render_t * 1000:.1f} ms, {size:,} characters (limit 65,536)")


if __name__ == "__main__":
    main()
