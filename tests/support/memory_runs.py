"""The engine's runs on the memory engine: a two-resource program shaped by the stack's config and a RunContext with a
scratch lock folder, a recorded log and a sleep that only records (tests/engine/)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from automation.adapters.git import Git
from automation.adapters.locking import StackLocks
from automation.config.environments import load_environments
from automation.engines.memory_engine import MemoryEngine
from automation.engines.port import Progress, Target
from automation.flow.context import RunContext, RunOptions
from automation.model.snapshot import Resource, Snapshot, snapshot
from tests.support.paths import ROOT

ENVS = load_environments(ROOT)


def tiny_program(target: Target) -> tuple[Snapshot, dict[str, Any]]:
    """A two-resource stand-in for the real program (fast), shaped by the stack's config."""
    storage = target.config.values.get("ghost-gitops:ghostStorageGb", "10")
    return snapshot([
        Resource(f"urn:pulumi:{target.stack}::p::ghost:apps:Ghost::ghost", "ghost:apps:Ghost", "ghost", {}),
        Resource(f"urn:pulumi:{target.stack}::p::kubernetes:core/v1:PersistentVolumeClaim::content",
                 "kubernetes:core/v1:PersistentVolumeClaim", "content", {"size": storage}),
    ]), {"ghostUrl": "http://example", "dbAdminPassword": "[secret]"}


def context(tmp_path: Path, engine: MemoryEngine, *, git_repo: Git | None = None, lock_timeout: float = 5.0,
            root: Path = ROOT) -> tuple[RunContext, io.StringIO, list[float]]:
    log = io.StringIO()
    slept: list[float] = []
    progress = Progress(log)
    ctx = RunContext(root=root, envs=load_environments(root), engine=engine, git=git_repo, progress=progress,
                     locks=StackLocks(tmp_path / "locks", lock_timeout, notify=progress.message), sleep=slept.append,
                     options=RunOptions(busy_attempts=4, busy_base_wait_s=2.0, busy_max_wait_s=8.0))
    return ctx, log, slept
