"""The rollback guard (automation.flow.rollback.guarded_rollback) on the memory engine and a real git repository: every
sub-check has a case where it alone decides (issue 28: mutation testing found it covered by the real tiers only).
The earlier commit's program lacks the content claim, so rolling back to it would delete data."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from automation.adapters.git import Git
from automation.adapters.locking import StackLocks
from automation.config.environments import Environments, load_environments
from automation.engines.memory_engine import MemoryEngine
from automation.engines.port import Progress, Target
from automation.flow.context import RunContext, RunOptions
from automation.flow.rollback import guarded_rollback
from automation.model.changes import ResourceChange
from automation.model.errors import ConfigError, GuardRefused, OperationFailed, StackBusyError
from automation.model.snapshot import Resource, Snapshot, snapshot
from tests.support.gitrepo import commit, git, project_repo
from tests.support.paths import ROOT

CLAIM = "kubernetes:core/v1:PersistentVolumeClaim"


def _program(old: set[str]) -> Any:
    def program(target: Target) -> tuple[Snapshot, dict[str, Any]]:
        resources = [Resource(f"urn:pulumi:{target.stack}::p::ghost:apps:Ghost::ghost", "ghost:apps:Ghost", "ghost",
                              {"image": "ghost:6" if target.commit in old else "ghost:7"})]
        if target.commit not in old:
            resources.append(Resource(f"urn:pulumi:{target.stack}::p::{CLAIM}::content", CLAIM, "content", {"size": "5"}))
        return snapshot(resources), {}
    return program


class World:
    def __init__(self, tmp: Path, failures: dict[str, list[BaseException | None]] | None = None) -> None:
        self.repo = project_repo(tmp / "repo", ROOT)
        self.old = git(self.repo, "rev-parse", "HEAD")
        self.new = commit(self.repo, {"NOTES.md": "newer\n"}, "newer")
        self.program = _program({self.old})
        self.state = tmp / "state"
        self.engine = MemoryEngine(self.state, self.program)
        self.engine.up(Target(stack="dev", config=load_environments(self.repo).stack_config(self.repo, "dev"),
                              message="deploy newer", tags={"commit": self.new}, commit=self.new), Progress(io.StringIO()))
        self.failures = failures
        self.tree_engines: list[MemoryEngine] = []
        self.targets: dict[str, list[Target]] = {}
        self.trees: list[tuple[Path, Environments]] = []
        self.slept: list[float] = []
        self.log = io.StringIO()
        self.locks = StackLocks(tmp / "locks", 5.0)

    def engine_for(self, tree: Path, envs: Environments) -> MemoryEngine:
        world = self
        self.trees.append((tree, envs))

        class Spy(MemoryEngine):
            """The memory engine, keeping the targets it was given."""

            def up(self, target: Target, progress: Progress) -> Any:
                world.targets.setdefault("up", []).append(target)
                return super().up(target, progress)

        engine = Spy(self.state, self.program, failures=self.failures)
        self.tree_engines.append(engine)
        return engine

    def ctx(self, *, with_git: bool = True, with_engine_for: bool = True) -> RunContext:
        return RunContext(root=self.repo, envs=load_environments(self.repo), engine=self.engine, locks=self.locks,
                          progress=Progress(self.log), git=Git(self.repo) if with_git else None,
                          engine_for=self.engine_for if with_engine_for else None, sleep=self.slept.append,
                          options=RunOptions(busy_attempts=3, busy_base_wait_s=1.0, busy_max_wait_s=4.0))

    def rollback(self, sha: str | None = None, allow: bool = False, **kw: Any) -> Any:
        return guarded_rollback(self.ctx(**kw), "dev", sha or self.old, "rollback to old", actor="alice",
                                allow_stateful_changes=allow)


def test_a_rollback_that_would_delete_data_is_refused_naming_it(tmp_path: Path) -> None:
    w = World(tmp_path)
    with pytest.raises(GuardRefused) as refused:
        w.rollback()
    assert str(refused.value) == (f"rollback of dev to {w.old[:7]} would delete {CLAIM} content: data would be lost; "
                                  "re-run with --allow-stateful-changes if that is intended")
    assert w.engine.deployed_commit("dev") == w.new and [c[0] for c in w.tree_engines[0].calls] == ["preview"]


def test_allowed_explicitly_it_applies_the_earlier_commit_as_its_owner(tmp_path: Path) -> None:
    w = World(tmp_path)
    outcome = w.rollback(allow=True)
    assert outcome.counts == {"delete": 1, "update": 1}
    assert w.engine.deployed_commit("dev") == w.old
    (entry, *_) = w.engine.history("dev", 5)
    assert entry.commit == w.old and entry.message == "rollback to old"
    (target,) = w.targets["up"]
    assert target.tags == {"commit": w.old, "owner": "alice"} and target.commit == w.old and target.stack == "dev"


def test_a_rollback_that_loses_nothing_applies_without_the_flag(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.program = _program(set())  # both commits declare the claim: an update only
    w.engine.program = w.program
    outcome = w.rollback()
    assert outcome.counts.get("delete") is None and w.engine.deployed_commit("dev") == w.old


def test_a_preview_that_fails_after_planning_a_loss_is_refused_with_both_reasons(tmp_path: Path) -> None:
    planned = (ResourceChange(urn="urn:pulumi:dev::p::c", type=CLAIM, name="content", op="replace"),)
    w = World(tmp_path, failures={"preview": [OperationFailed("the API server refused the dry run", planned)]})
    with pytest.raises(GuardRefused, match=r"would replace kubernetes:core/v1:PersistentVolumeClaim content: data would "
                                           r"be lost \(its preview then failed: the API server refused the dry run\); "):
        w.rollback()
    assert w.engine.deployed_commit("dev") == w.new


def test_a_preview_that_fails_without_a_loss_fails_the_rollback_with_its_reason(tmp_path: Path) -> None:
    w = World(tmp_path, failures={"preview": [OperationFailed("provider crashed")]})
    with pytest.raises(OperationFailed, match=r"^provider crashed$"):
        w.rollback(allow=False)
    w2 = World(tmp_path / "b", failures={"preview": [OperationFailed("provider crashed", (
        ResourceChange(urn="u", type=CLAIM, name="content", op="delete"),))]})
    with pytest.raises(OperationFailed, match=r"^provider crashed$"):
        w2.rollback(allow=True)  # allowed losses: the preview's own failure is what stops it
    assert w2.engine.deployed_commit("dev") == w2.new


def test_a_busy_backend_is_retried_for_the_preview_and_the_up(tmp_path: Path) -> None:
    busy = StackBusyError("stack dev has an update in progress")
    w = World(tmp_path, failures={"preview": [busy, None], "up": [busy, None]})
    w.rollback(allow=True)
    assert w.slept == [1.0, 1.0] and w.engine.deployed_commit("dev") == w.old
    # once for the preview, once for the up, each naming the stack
    assert w.log.getvalue().count("stack dev is locked by another update in the state backend; retry 1/2") == 2


@pytest.mark.parametrize(("kw", "sha", "message"), [
    ({"with_git": False}, None, "a rollback needs the git repository (it checks out the earlier commit in a worktree)"),
    ({"with_engine_for": False}, None, "a rollback needs an engine for the earlier commit's checkout"),
    ({}, "d" * 40, "commit ddddddd is not in this clone nor fetchable from origin; fetch more history"),
], ids=["no git", "no engine for the worktree", "unknown commit"])
def test_what_a_rollback_needs_is_bad_input_when_missing(tmp_path: Path, kw: dict[str, bool], sha: str | None,
                                                        message: str) -> None:
    w = World(tmp_path)
    with pytest.raises(ConfigError) as bad:
        w.rollback(sha, **kw)
    assert str(bad.value) == message and w.engine.deployed_commit("dev") == w.new


def test_the_stack_lock_is_held_while_it_runs(tmp_path: Path) -> None:
    w = World(tmp_path)
    seen: list[bool] = []
    real_preview = MemoryEngine.preview

    def preview(self: MemoryEngine, target: Target, progress: Progress) -> Any:
        other = StackLocks(tmp_path / "locks", 0.1)
        try:
            with other.hold("dev"):
                seen.append(False)
        except Exception:  # noqa: BLE001 - the lock is taken: what we want to see
            seen.append(True)
        return real_preview(self, target, progress)

    MemoryEngine.preview = preview  # type: ignore[method-assign]
    try:
        w.rollback(allow=True)
    finally:
        MemoryEngine.preview = real_preview  # type: ignore[method-assign]
    assert seen == [True]


def test_the_earlier_commit_runs_from_its_own_worktree_and_needs_no_fetch_when_present(tmp_path: Path,
                                                                                     monkeypatch: Any) -> None:
    w = World(tmp_path)
    fetched: list[tuple[str, ...]] = []

    def fetch(self: Git, *shas: str, **kw: Any) -> bool:
        fetched.append(shas)
        return False

    monkeypatch.setattr(Git, "fetch", fetch)
    w.rollback(allow=True)
    assert fetched == [], "the commit is in this clone: nothing to fetch"
    ((tree, envs),) = w.trees
    assert tree != w.repo and not tree.exists(), "a temporary worktree, removed after"
    assert envs.source == "environments.yaml" and envs.by_stack("dev") is not None


def test_every_loss_is_named_in_the_refusal(tmp_path: Path) -> None:
    planned = (ResourceChange(urn="urn:pulumi:dev::p::c", type=CLAIM, name="content", op="replace"),
               ResourceChange(urn="urn:pulumi:dev::p::n", type="kubernetes:core/v1:Namespace", name="ns", op="delete"))
    w = World(tmp_path, failures={"preview": [OperationFailed("refused", planned)]})
    with pytest.raises(GuardRefused, match=f"would replace {CLAIM} content, delete kubernetes:core/v1:Namespace ns: "):
        w.rollback()
