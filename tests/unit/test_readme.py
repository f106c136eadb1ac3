"""The README is the front door: every CLI command, exit code and the two set-up commands are in it."""

from __future__ import annotations

import argparse
import re

from automation.cli.main import build_parser
from automation.model import errors
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text()


def test_every_command_is_documented() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in sub.choices:
        assert re.search(rf"`{name}[ `\\|]|\\\|{name}\\\||`preview\\\|up\\\|refresh\\\|destroy", README), name
        assert name in README


def test_every_exit_code_is_documented() -> None:
    codes = {cls.exit_code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.AutomationError)}
    for code in codes | {0}:
        assert re.search(rf"^\| {code} \|", README, re.M), code


def test_the_two_commands_and_ci_agree() -> None:
    assert "bash .ci/setup && .venv/bin/python -m automation synth --stack dev" in README
    assert "bash .ci/test" in README
    assert "bash .ci/test" in (ROOT / ".ci" / "run").read_text()


def _examples() -> list[tuple[str, list[str]]]:
    """Every ``$ command`` line of the README's fenced blocks, with the lines it shows as its output."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", README, re.M | re.S):
        current: list[str] | None = None
        for line in block.splitlines():
            if line.startswith("$ "):
                current = []
                found.append((line[2:], current))
            elif current is not None:
                current.append(line)
    return found


def test_the_readme_s_examples_print_what_it_says(tmp_path) -> None:
    """Issue 27: each ``$`` line runs in a fresh copy of the repository (a git clone's files, the same .venv) with
    `python` from .venv, as user alice on the day the examples were recorded; its output is compared line by line
    (stderr is read where a terminal shows it, with stdout)."""
    import os
    import shutil
    import subprocess

    from tests.support.gitrepo import git

    examples = _examples()
    assert len(examples) >= 8, examples
    copy = tmp_path / "clone"
    shutil.copytree(ROOT, copy, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".tools", ".pulumi-state", "__pycache__", "node_modules", "*.egg-info", "out"))
    (copy / ".venv").symlink_to(ROOT / ".venv")
    git(copy, "init", "-q", "-b", "main")
    git(copy, "add", "-A")
    git(copy, "commit", "-q", "-m", "clone")
    env = {"PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path),
           "USER": "alice", "LANG": "C.UTF-8", "GHOST_GITOPS_TODAY": "2026-12-02"}
    for command, expected in examples:
        proc = subprocess.run(["bash", "-c", command], cwd=copy, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
        got = proc.stdout.rstrip("\n").splitlines()
        assert got == expected, f"README: $ {command}\nexpected:\n" + "\n".join(expected) + "\ngot:\n" + "\n".join(got)
