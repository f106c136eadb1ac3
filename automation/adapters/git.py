"""The only module that runs git. Arguments are always lists (never a shell); payload text is data.

CI checkouts are often shallow, so every question can fail to be answered locally; each function
says so (None) rather than guessing, and ``fetch`` tries to get what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from automation.model.errors import ConfigError
from automation.model.request import SHA, Request

GIT_TIMEOUT_S = 120


@dataclass(frozen=True)
class ChangedFiles:
    files: tuple[str, ...] | None  # None: unknown, so everything counts as changed
    source: str
    #: the files changed since the commit the stack last deployed (so a new branch's stack already exists)
    since_deployed: bool = False


class Git:
    def __init__(self, repo: Path, environ: Mapping[str, str] | None = None) -> None:
        self.repo = repo
        self.environ = dict(os.environ if environ is None else environ)
        if shutil.which("git") is None:
            raise ConfigError("git is not installed or not on PATH")

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**self.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        return subprocess.run(["git", "-C", str(self.repo), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, env=env, check=False)

    def has_commit(self, sha: str) -> bool:
        return SHA.match(sha) is not None and self._run("cat-file", "-e", f"{sha}^{{commit}}").returncode == 0

    def fetch(self, *shas: str, depth: int = 100) -> bool:
        """Fetch commits by SHA from origin (servers allow it for reachable commits). True if all are present after."""
        wanted = [s for s in shas if SHA.match(s)]
        if not wanted:
            return False
        self._run("fetch", "--no-tags", "--quiet", f"--depth={depth}", "origin", *wanted)
        return all(self.has_commit(s) for s in wanted)

    def remote_branches(self, remote: str = "origin") -> tuple[frozenset[str] | None, str]:
        """The branch names on ``remote`` (``git ls-remote --heads``), or None and why they cannot be listed."""
        if self._run("remote", "get-url", remote).returncode != 0:
            return None, f"this clone has no remote {remote!r}"
        proc = self._run("ls-remote", "--heads", remote)
        if proc.returncode != 0:
            return None, f"git ls-remote {remote} failed: {proc.stderr.strip()[-300:]}"
        names = frozenset(line.split("refs/heads/", 1)[1] for line in proc.stdout.splitlines() if "refs/heads/" in line)
        return names, f"{len(names)} branch(es) on {remote}"

    def diff_names(self, base: str, head: str) -> tuple[str, ...]:
        proc = self._run("diff", "--name-only", "--no-renames", f"{base}..{head}")
        if proc.returncode != 0:
            raise ConfigError(f"git diff {base[:7]}..{head[:7]} failed: {proc.stderr.strip()}")
        return tuple(sorted(line for line in proc.stdout.splitlines() if line))

    def is_ancestor(self, older: str, newer: str) -> bool | None:
        """True if ``older`` is an ancestor of ``newer``; None if git cannot tell (commits missing)."""
        proc = self._run("merge-base", "--is-ancestor", older, newer)
        if proc.returncode in (0, 1):
            return proc.returncode == 0
        return None

    def dirty_files(self, ignore: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Modified, staged and untracked (not ignored) files of the work tree, ``ignore`` left out."""
        proc = self._run("status", "--porcelain=v1", "--untracked-files=all", "-z")
        if proc.returncode != 0:
            raise ConfigError(f"git status failed: {proc.stderr.strip()}")
        entries = [e for e in proc.stdout.split("\0") if e]
        files: list[str] = []
        skip_next = False
        for entry in entries:
            if skip_next:  # the original path of a rename
                skip_next = False
                continue
            status, path = entry[:2], entry[3:]
            skip_next = "R" in status or "C" in status
            if path not in ignore:
                files.append(path)
        return tuple(sorted(files))

    def user_name(self) -> str | None:
        """git's ``user.name`` for this repository (who commits here), or None."""
        proc = self._run("config", "user.name")
        return proc.stdout.strip() or None if proc.returncode == 0 else None

    def head(self) -> str | None:
        proc = self._run("rev-parse", "HEAD")
        return proc.stdout.strip() if proc.returncode == 0 else None

    @contextmanager
    def worktree(self, sha: str) -> Iterator[Path]:
        """A temporary checkout of ``sha`` (removed afterwards)."""
        import tempfile  # only for a worktree: off the fast path (plan)

        tmp = Path(tempfile.mkdtemp(prefix="ghost-gitops-wt-"))
        target = tmp / "tree"
        proc = self._run("worktree", "add", "--detach", "--quiet", str(target), sha)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ConfigError(f"cannot check out {sha[:7]}: {proc.stderr.strip()}")
        try:
            yield target
        finally:
            self._run("worktree", "remove", "--force", str(target))
            shutil.rmtree(tmp, ignore_errors=True)


def changed_files(request: Request, git: Git | None, deployed: Callable[[], str | None] | None = None) -> ChangedFiles:
    """Which files a push changed, and where that answer came from.

    Order: the payload's own lists (complete for <= 20 commits), the local clone, a fetch of the two
    commits; failing all of them the files are unknown and the caller treats everything as changed.
    For a new branch, a force push or an unknown ``before``, ``before..after`` means nothing: the files
    are those changed since the commit the stack last deployed (``deployed()``, read from its history)
    when that is known, else unknown (the whole stack is deployed).
    """
    if request.payload_changed_files is not None and not request.forced:
        return ChangedFiles(request.payload_changed_files, "payload commit lists")
    if (request.created_branch or request.forced or request.before is None) and deployed is not None and git is not None \
            and request.sha is not None:
        base = deployed()
        if base and SHA.match(base) and (git.has_commit(base) or git.fetch(base)):
            return ChangedFiles(git.diff_names(base, request.sha), f"git diff against the deployed commit {base[:7]}",
                                since_deployed=True)
    if request.forced:
        return ChangedFiles(None, "force push: the previous commit is gone and the deployed one is unknown")
    if request.created_branch:
        return ChangedFiles(None, "new branch: no previous commit to compare with")
    if request.before is None or request.sha is None:
        return ChangedFiles(None, "no before/after commits given")
    if git is None:
        return ChangedFiles(None, "no git repository")
    if git.has_commit(request.before) and git.has_commit(request.sha):
        return ChangedFiles(git.diff_names(request.before, request.sha), "git diff (local clone)")
    if git.fetch(request.before, request.sha):
        return ChangedFiles(git.diff_names(request.before, request.sha), "git diff (after fetching the commits)")
    return ChangedFiles(None, "commits not available locally or from origin")
