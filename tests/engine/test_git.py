"""Changed-file detection with real git repositories, including shallow CI clones."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.adapters.git import Git, changed_files
from automation.model.errors import ConfigError
from automation.model.request import Request
from tests.support.gitrepo import commit, git, init


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, str, str]:
    repo = init(tmp_path / "origin")
    before = git(repo, "rev-parse", "HEAD")
    commit(repo, {"docs/guide.md": "x\n"}, "docs")
    after = commit(repo, {"infra/network.py": "# change\n", "README.md": "hi\n"}, "infra")
    return repo, before, after


def test_local_clone_answers_with_git_diff(origin: tuple[Path, str, str]) -> None:
    repo, before, after = origin
    result = changed_files(Request(event="push", branch="main", before=before, sha=after), Git(repo))
    assert result.files == ("README.md", "docs/guide.md", "infra/network.py")
    assert result.source == "git diff (local clone)"


def test_shallow_clone_fetches_what_it_needs(origin: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, before, after = origin
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    g = Git(clone)
    assert not g.has_commit(before), "the shallow clone lacks the before commit"
    result = changed_files(Request(event="push", branch="main", before=before, sha=after), g)
    assert result.files == ("README.md", "docs/guide.md", "infra/network.py")
    assert result.source == "git diff (after fetching the commits)"


def test_unreachable_commits_are_unknown_not_guessed(origin: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, _, after = origin
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    result = changed_files(Request(event="push", branch="main", before="f" * 40, sha=after), Git(clone))
    assert result.files is None
    assert "not available" in result.source


def test_payload_lists_win_without_touching_git() -> None:
    result = changed_files(Request(event="push", branch="main", before="a" * 40, sha="b" * 40,
                                   payload_changed_files=("infra/x.py",)), None)
    assert result.files == ("infra/x.py",) and result.source == "payload commit lists"


def test_new_branch_has_nothing_to_compare() -> None:
    result = changed_files(Request(event="push", branch="dev/a", before="0" * 40, sha="b" * 40), None)
    assert result.files is None and "new branch" in result.source


def test_ancestry(origin: tuple[Path, str, str]) -> None:
    repo, before, after = origin
    g = Git(repo)
    assert g.is_ancestor(before, after) is True
    assert g.is_ancestor(after, before) is False
    assert g.is_ancestor("e" * 40, after) is None


def test_worktree_checks_out_an_old_commit(origin: tuple[Path, str, str]) -> None:
    repo, before, _ = origin
    with Git(repo).worktree(before) as tree:
        assert (tree / "README.md").read_text() == "hello\n"
        assert not (tree / "infra").exists()
    assert git(repo, "worktree", "list").count("\n") == 0


def test_worktree_of_a_missing_commit_is_a_clear_error(origin: tuple[Path, str, str]) -> None:
    repo, _, _ = origin
    with pytest.raises(ConfigError, match="cannot check out eeeeeee"), Git(repo).worktree("e" * 40):
        pass
