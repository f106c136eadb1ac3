"""Wall time of `python -m automation plan` on a push payload, of rendering a 500-resource preview comment, and
what the cost section adds to that comment (estimating both sides and rendering it).

Run: .venv/bin/python benchmarks/engine_bench.py [--runs N] [--payload FILE ...]
Targets: plan median <= 150 ms on an idle 2-core machine (printed beside Python's own start time); routing imports no
Pulumi SDK and no pydantic (environments.yaml is validated with msgspec); the cost section adds under 50 ms to the
500-resource comment.
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

from automation.config.prices import load_table  # noqa: E402
from automation.model.changes import PropertyChange, ResourceChange  # noqa: E402
from automation.model.outcome import Outcome  # noqa: E402
from automation.model.snapshot import Resource  # noqa: E402
from automation.review.cost import estimate  # noqa: E402
from automation.review.cost_model import CostChange  # noqa: E402
from automation.review.render import Report, Status, change_text, render_markdown  # noqa: E402


def bench_plan(runs: int, payload_paths: list[Path]) -> tuple[list[float], float, list[str]]:
    """Median wall time of `plan` in a fresh process per payload, and of `python -c pass`, measured in rounds that run
    each once (interleaved, so a slow spell of the machine weighs on every figure alike)."""
    argvs = []
    for path in payload_paths:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(json.loads(path.read_text()), fh)
        argvs.append([sys.executable, "-m", "automation", "plan", "--event-name", "push", "--event-path", fh.name])
    times: list[list[float]] = [[] for _ in argvs]
    floor = []
    for _ in range(runs):
        for argv, each in zip(argvs, times, strict=True):
            start = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
            each.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        floor.append(time.perf_counter() - start)
    probe = ("import sys, io; from automation.cli.main import main; "
             f"main(['plan', '--event-name', 'push', '--event-path', {argvs[0][-1]!r}], out=io.StringIO()); "
             "print(','.join(m for m in ('pulumi', 'pulumi_aws', 'pulumi_eks', 'pulumi_kubernetes', 'pydantic') "
             "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    for argv in argvs:
        os.unlink(argv[-1])
    return [statistics.median(each) for each in times], statistics.median(floor), [m for m in loaded.split(",") if m]


def bench_render(resources: int, runs: int) -> tuple[float, int]:
    """A 500-resource preview with values: every update changes a ConfigMap key (old -> new) and a multi-line file."""
    changes = tuple(ResourceChange(
        f"urn:pulumi:dev::p::kubernetes:core/v1:ConfigMap::cm-{i}", "kubernetes:core/v1:ConfigMap", f"cm-{i}",
        "update" if i % 3 else "create", ("data",),
        properties=(PropertyChange("data.k", "x" * 80, "y" * 80),
                    PropertyChange('data["app.conf"]', "a = 1\nb = 2\n", "a = 1\nb = 3\n")) if i % 3 else ())
        for i in range(resources))
    report = Report(stack="dev", operation="preview", status=Status.SUCCEEDED, reason="bench",
                    outcome=Outcome(stack="dev", operation="preview", succeeded=True, changes=changes,
                                    counts={"update": resources}, diff=change_text(changes)))
    times = []
    text = ""
    for _ in range(runs):
        start = time.perf_counter()
        text = render_markdown(report)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(text)


def _priced(i: int, size: str) -> Resource:
    """One of five billed kinds, in turn: NAT gateway, address, volume claim, database, log group."""
    kind = i % 5
    if kind == 0:
        return Resource(f"urn:nat-{i}", "aws:ec2/natGateway:NatGateway", f"nat-{i}", {})
    if kind == 1:
        return Resource(f"urn:eip-{i}", "aws:ec2/eip:Eip", f"eip-{i}", {"domain": "vpc"})
    if kind == 2:
        return Resource(f"urn:pvc-{i}", "kubernetes:core/v1:PersistentVolumeClaim", f"pvc-{i}",
                        {"spec": {"storageClassName": "gp3", "resources": {"requests": {"storage": size}}}})
    if kind == 3:
        return Resource(f"urn:db-{i}", "aws:rds/instance:Instance", f"db-{i}",
                        {"engine": "mysql", "instanceClass": "db.t4g.micro", "allocatedStorage": 20, "storageType": "gp3"})
    return Resource(f"urn:log-{i}", "aws:cloudwatch/logGroup:LogGroup", f"log-{i}", {"retentionInDays": 30})


def bench_cost(resources: int, runs: int) -> tuple[float, float, float]:
    """(estimate of both sides, the comment render without a cost section, with it) for ``resources`` billed
    resources whose volumes all grow: every table row changes."""
    load_table()  # read once per process, as the engine does
    before = [_priced(i, "10Gi") for i in range(resources)]
    after = [_priced(i, "20Gi") for i in range(resources)]
    changes = tuple(ResourceChange(r.urn, r.type, r.name, "update", ("spec",)) for r in after)
    outcome = Outcome(stack="dev", operation="preview", succeeded=True, changes=changes, counts={"update": resources})
    plain = Report(stack="dev", operation="preview", status=Status.SUCCEEDED, reason="bench", outcome=outcome)
    est_t, without_t, with_t = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        change = CostChange(after=estimate(after, stack="dev", region="us-east-1"),
                            before=estimate(before, stack="dev", region="us-east-1"), budget=1000)
        est_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        render_markdown(plain)
        without_t.append(time.perf_counter() - start)
        costed = Report(stack="dev", operation="preview", status=Status.SUCCEEDED, reason="bench", outcome=outcome,
                        cost=change)
        start = time.perf_counter()
        render_markdown(costed)
        with_t.append(time.perf_counter() - start)
    return statistics.median(est_t), statistics.median(without_t), statistics.median(with_t)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--payload", type=Path, action="append",
                        help="a push event payload to plan (repeatable; default: tests/data/events/push.json). "
                             "GitHub's own example: the push example of GitHub's webhook documentation, saved to a file")
    args = parser.parse_args()
    runs = args.runs
    payloads = args.payload or [ROOT / "tests" / "data" / "events" / "push.json"]
    # as .ci/setup leaves it: the engine's bytecode written (PYTHONDONTWRITEBYTECODE would otherwise recompile it each run)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "automation")], check=True, stdout=subprocess.DEVNULL)
    medians, floor_t, loaded = bench_plan(runs, payloads)
    render_t, size = bench_render(500, runs)
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}, median of {runs} runs")
    for path, each in zip(payloads, medians, strict=True):
        print(f"plan ({path.name}), fresh process: {each * 1000:.0f} ms median (target <= 150 ms)")
    print(f"Python's own start (`python -c pass`), in the same rounds: {floor_t * 1000:.0f} ms median")
    print(f"modules loaded by plan:             {', '.join(loaded) or 'none of pulumi/pulumi_aws/pulumi_eks/pulumi_kubernetes/pydantic'}")
    print(f"render comment, 500-resource preview with values: {render_t * 1000:.1f} ms, {size:,} characters (limit 65,536)")
    est_t, without_t, with_t = bench_cost(500, runs)
    print(f"cost section, 500 billed resources, every line changed: estimate of both sides {est_t * 1000:.1f} ms; "
          f"comment render {without_t * 1000:.1f} ms without it, {with_t * 1000:.1f} ms with it: the section adds "
          f"{(est_t + with_t - without_t) * 1000:.1f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()
