"""The offline structural diff of a pull request: synth at its base commit against synth at its head (when no cloud
preview can run)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from automation.flow.context import RunContext
from automation.flow.planner import Operation
from automation.model.errors import (
    ConfigError,
    OperationFailed,
)
from automation.model.outcome import Outcome
from automation.model.request import Request
from automation.model.snapshot import Snapshot, count, diff, from_json
from automation.review.render import change_text


def offline_outcome(ctx: RunContext, op: Operation, request: Request) -> Outcome:
    """The offline structural diff: synth at the PR's base commit against synth at its head."""
    assert op.stack is not None
    pr = request.pull_request
    if pr is None or not pr.base_sha:
        raise ConfigError("an offline diff needs the pull request's base commit (pull_request.base.sha)")
    if ctx.git is None:
        raise ConfigError("an offline diff needs the git repository (to check out the base commit)")
    synth = ctx.offline_synth or synth_snapshot
    base = _at(ctx, op.stack, pr.base_sha, synth)
    head = synth(ctx.root, op.stack, None)
    changes = diff(base, head)
    counts = count(changes)
    return Outcome(stack=op.stack, operation="preview", succeeded=True, changes=changes, counts=counts,
                   diff=change_text(changes), before=base, after=head)


def _at(ctx: RunContext, stack: str, sha: str, synth: Callable[[Path, str, str | None], Snapshot]) -> Snapshot:
    assert ctx.git is not None  # checked by the caller
    if not ctx.git.has_commit(sha) and not ctx.git.fetch(sha):
        raise ConfigError(f"base commit {sha[:7]} is not available locally or from origin; fetch more history")
    with ctx.git.worktree(sha) as tree:
        return synth(tree, stack, sha)


def synth_snapshot(root: Path, stack: str, _sha: str | None) -> Snapshot:
    """Synthesize ``stack`` of the project at ``root`` in a fresh process (its own program modules)."""
    engine_dir = Path(__file__).resolve().parents[2]  # the checkout holding automation/
    proc = subprocess.run([sys.executable, "-m", "automation", "--project-dir", str(root), "synth", "--stack", stack,
                           "--format", "json"], cwd=engine_dir, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise OperationFailed(f"offline synth of {stack} at {root} failed: {proc.stderr.strip()[-500:]}")
    doc = json.loads(proc.stdout)
    return from_json({r["urn"]: r for r in doc["resources"]})
