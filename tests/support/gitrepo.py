"""Real git repositories in temporary directories (no mocks): helpers for the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ENV = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "Test",
       "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=ENV).stdout.strip()


def init(path: Path, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "uploadpack.allowReachableSHA1InWant", "true")
    commit(path, files or {"README.md": "hello\n"}, "initial")
    return path


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def project_repo(path: Path, root: Path) -> Path:
    """A git repository holding a copy of this project's files (the program, config, environments)."""
    path.mkdir(parents=True)
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py", "environments.yaml", "costs.yaml"):
        shutil.copy(root / name, path / name)
    for package in ("infra", "apps"):
        shutil.copytree(root / package, path / package, ignore=shutil.ignore_patterns("__pycache__"))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "project")
    return path
