"""The README is the front door: every CLI command, exit code and the two set-up commands are in it."""

from __future__ import annotations

import argparse
import re

from automation import errors
from automation.cli import build_parser
from tests.conftest import ROOT

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
