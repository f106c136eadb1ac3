"""Typed options (issue 29): every subcommand's parser and its frozen options class hold each other; validation and
defaults live in the class; the Namespace never reaches a command."""

from __future__ import annotations

import argparse
import dataclasses
import re

import pytest

from automation.cli import main as cli_main
from automation.cli.command_options import OPTIONS as OTHERS
from automation.cli.command_options import DriftOptions, EnvironmentsOptions, RunOptions, StackOperationOptions
from automation.cli.options import PlanOptions, from_namespace
from automation.model.errors import ConfigError, InternalError
from tests.support.paths import ROOT

OPTIONS = {**OTHERS, "plan": PlanOptions}

#: the least each subcommand's parser accepts
MINIMAL = {
    "synth": ["--stack", "dev"], "cost": ["--stack", "dev"], "environments": [], "plan": [], "run": [],
    "preview": ["--stack", "dev"], "up": ["--stack", "dev"], "destroy": ["--stack", "dev"], "refresh": ["--stack", "dev"],
    "expire": [], "extend": ["--stack", "dev-a", "--days", "3"], "drift": [], "rollback": ["--stack", "dev", "--reason", "r"],
    "status": ["--stack", "dev"], "recover": ["--stack", "dev", "--yes"], "history": ["--stack", "dev"],
    "versions": [], "doctor": [], "bootstrap": ["--region", "eu-west-1", "--bucket", "b", "--repo", "o/r"],
}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli_main.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_subcommand_has_an_options_class_and_a_minimal_case() -> None:
    assert set(_subparsers()) == set(OPTIONS) == set(MINIMAL)
    assert all(cli_main.options_class(name) is cls for name, cls in OPTIONS.items())


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_every_parsed_option_is_a_field_and_defaults_agree(name: str) -> None:
    """Each dest of the subcommand's parser is a field of its class (from_namespace would refuse it otherwise), and
    where the class has a default for it, the parser's default is the same (one value, whichever path builds it)."""
    sub = _subparsers()[name]
    cls = OPTIONS[name]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for action in sub._actions:
        if action.dest in ("help",) or action.default is argparse.SUPPRESS:
            continue
        assert action.dest in fields, f"{name}: --{action.dest} is parsed but {cls.__name__} has no field for it"
        field = fields[action.dest]
        if field.default is not dataclasses.MISSING and action.default is not None:
            assert action.default == field.default, f"{name} --{action.dest}: parser {action.default!r}, class {field.default!r}"
    opts = cli_main.parse([name, *MINIMAL[name]])
    assert type(opts) is cls and opts.command == name
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.command = "x"  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_the_parser_built_for_one_command_parses_as_the_whole_one(name: str) -> None:
    """`main` builds only the subcommand argv names (issue 29: `plan` pays for its own parser alone); what it parses is
    what the whole parser parses, global options before or after the command included."""
    for argv in ([name, *MINIMAL[name]], ["--debug", "--project-dir", ".", name, *MINIMAL[name]],
                 ["--project-dir=.", name, *MINIMAL[name], "--debug"]):
        assert cli_main.chosen_command(argv) == name
        assert cli_main.build_parser(name).parse_args(argv) == cli_main.build_parser().parse_args(argv)


@pytest.mark.parametrize(("argv", "chosen"), [
    ([], None), (["--help"], None), (["plna"], None), (["--project-dir", "plan"], None),
    (["--project-dir", "plan", "run"], "run"), (["--debug", "versions", "plan"], "versions"),
])
def test_which_command_argv_names(argv: list[str], chosen: str | None) -> None:
    """No command, `--help` or an unknown one: every subcommand is built (to list them); a global option's value is
    never taken for the command."""
    assert cli_main.chosen_command(argv) == chosen


def test_an_option_the_class_does_not_carry_is_refused_not_dropped() -> None:
    ns = cli_main.build_parser().parse_args(["plan"])
    ns.surprise = 1
    with pytest.raises(InternalError, match="surprise"):
        from_namespace(ns, PlanOptions)


def test_repeated_options_become_tuples() -> None:
    opts = cli_main.parse(["run", "--branch", "main", "--changed-file", "a", "--changed-file", "b"])
    assert isinstance(opts, RunOptions) and opts.changed_file == ("a", "b")
    drift = cli_main.parse(["drift", "--stack", "dev", "--stack", "prod"])
    assert isinstance(drift, DriftOptions) and drift.stack == ("dev", "prod")
    assert cli_main.parse(["drift"]).stack == ()  # type: ignore[attr-defined]
    envs = cli_main.parse(["environments"])
    assert isinstance(envs, EnvironmentsOptions) and envs.branch == ()


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--only-stack", " "], "--only-stack is empty"),
    (["run", "--accept-plan-change", " "], "--accept-plan-change needs a reason"),
    (["up", "--stack", "dev", "--accept-over-budget", ""], "--accept-over-budget needs a reason"),
    (["rollback", "--stack", "dev", "--reason", "  "], "rollback needs --reason"),
    (["recover", "--stack", "dev"], "pass --yes"),
    (["recover", "--stack", "dev", "--yes", "--restore-checkpoint"], "--restore-checkpoint needs --reason"),
])
def test_options_are_validated_where_they_are_built(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cli_main.parse(argv)


def test_reasons_are_kept_stripped_and_gates_default_off() -> None:
    opts = cli_main.parse(["up", "--stack", "dev", "--accept-over-budget", " launch "])
    assert isinstance(opts, StackOperationOptions)
    assert opts.accept_over_budget == "launch" and opts.accept_plan_change is None and not opts.allow_dirty
    expire = cli_main.parse(["expire"])
    assert not expire.skip_health_check and expire.accept_plan_change is None  # type: ignore[attr-defined]


def test_no_namespace_reaches_a_command() -> None:
    """argparse is named only by the parser (main.py) and the options module."""
    for path in sorted((ROOT / "automation").rglob("*.py")):
        rel = path.relative_to(ROOT / "automation").as_posix()
        if rel in ("cli/main.py", "cli/options.py"):
            continue
        assert not re.search(r"import argparse|argparse\.", path.read_text()), f"automation/{rel} uses argparse"


@pytest.mark.parametrize(("argv", "hint"), [
    (["plan", "--evnt-path", "e.json"], "; did you mean --event-path?"),  # a subcommand's option, reported by the top parser
    (["up", "--stack", "dev", "--skip-healthcheck"], "; did you mean --skip-health-check?"),
    (["rollback", "--stack", "dev", "--reason", "r", "--lock-timout=9"], "; did you mean --lock-timeout?"),  # `--opt=value`: its name is compared
    (["plna"], "; did you mean plan?"),
    (["rollbak", "--stack", "dev"], "; did you mean rollback?"),
    (["up", "--stack", "dev", "--engine", "memry"], "; did you mean memory?"),  # an option's choices
])
def test_an_unknown_option_or_command_names_the_nearest_known_one(argv: list[str], hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        cli_main.parse(argv)
    assert str(caught.value).endswith(f"{hint} (see --help)"), caught.value


@pytest.mark.parametrize("argv", [["plan", "--zzzzzz"], ["qqqqq"], ["up"]])
def test_nothing_close_or_another_mistake_gets_no_guess(argv: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        cli_main.parse(argv)
    assert "did you mean" not in str(caught.value) and str(caught.value).endswith(" (see --help)"), caught.value
