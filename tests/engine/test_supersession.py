"""The supersession check (automation.flow.gates.superseded) called directly with a scripted engine and git: each of its
conditions has a case where it alone decides (issue 28: mutation testing found the unknown-ancestry path, the fetch
and the history read untested in the fast tier)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from automation.engines.port import Progress
from automation.flow.gates import superseded
from automation.flow.planner import Operation
from tests.support.memory_runs import context

OLD, NEW = "a" * 40, "b" * 40


@dataclass
class Engine:
    deployed: str | None
    asked: list[bool] = field(default_factory=list)

    def deployed_commit(self, stack: str, *, from_history: bool = False) -> str | None:
        assert stack == "dev"
        self.asked.append(from_history)
        return self.deployed


@dataclass
class Git:
    """Answers of `git merge-base --is-ancestor` in order (None: git cannot tell), and whether a fetch succeeds."""

    answers: list[bool | None]
    fetch_ok: bool = False
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def is_ancestor(self, older: str, newer: str) -> bool | None:
        self.calls.append(("is_ancestor", older, newer))
        return self.answers.pop(0)

    def fetch(self, *shas: str) -> bool:
        self.calls.append(("fetch", *shas))
        return self.fetch_ok


def _check(tmp_path: Path, op: Operation, deployed: str | None, git: Git | None, **kw: Any) -> tuple[str | None, Any]:
    ctx, log, _ = context(tmp_path, None)  # type: ignore[arg-type]
    engine = Engine(deployed)
    ctx = replace(ctx, engine=engine, git=git, progress=Progress(log))  # type: ignore[arg-type]
    return superseded(ctx, op, **kw), (engine, log)


UP = Operation(stack="dev", operation="up", reason="merge", branch="main", sha=OLD)


def test_a_newer_deployed_commit_supersedes_naming_it(tmp_path: Path) -> None:
    git = Git([True])
    why, (engine, _) = _check(tmp_path, UP, NEW, git)
    assert why == "bbbbbbb, a newer commit of main, is already deployed to dev"
    assert git.calls == [("is_ancestor", OLD, NEW)] and engine.asked == [False]


def test_the_history_is_read_when_asked(tmp_path: Path) -> None:
    _, (engine, _) = _check(tmp_path, UP, NEW, Git([False]), from_history=True)
    assert engine.asked == [True]


def test_an_older_or_unrelated_deployed_commit_does_not(tmp_path: Path) -> None:
    assert _check(tmp_path, UP, NEW, Git([False]))[0] is None


def test_unknown_ancestry_fetches_both_commits_and_asks_again(tmp_path: Path) -> None:
    git = Git([None, True], fetch_ok=True)
    why, _ = _check(tmp_path, UP, NEW, git)
    assert why is not None and git.calls == [("is_ancestor", OLD, NEW), ("fetch", OLD, NEW), ("is_ancestor", OLD, NEW)]


def test_ancestry_that_stays_unknown_deploys_and_says_so(tmp_path: Path) -> None:
    git = Git([None], fetch_ok=False)
    why, (_, log) = _check(tmp_path, UP, NEW, git)
    assert why is None and git.calls == [("is_ancestor", OLD, NEW), ("fetch", OLD, NEW)]
    assert "cannot tell whether deployed bbbbbbb is newer than aaaaaaa; deploying" in log.getvalue()


def test_known_ancestry_fetches_nothing(tmp_path: Path) -> None:
    git = Git([False], fetch_ok=True)
    _check(tmp_path, UP, NEW, git)
    assert git.calls == [("is_ancestor", OLD, NEW)]


@pytest.mark.parametrize(("op", "deployed", "has_git"), [
    (replace(UP, operation="preview"), NEW, True),
    (replace(UP, allow_older=True), NEW, True),
    (replace(UP, sha=None), NEW, True),
    (replace(UP, stack=None), NEW, True),
    (UP, None, True),
    (UP, OLD, True),
    (UP, NEW, False),
], ids=["not an up", "a rollback", "no commit", "no stack", "nothing deployed", "this commit deployed", "no git"])
def test_nothing_to_compare_goes_ahead_without_asking_git(tmp_path: Path, op: Operation, deployed: str | None,
                                                         has_git: bool) -> None:
    git = Git([True])
    why, _ = _check(tmp_path, op, deployed, git if has_git else None)
    assert why is None and git.calls == []
