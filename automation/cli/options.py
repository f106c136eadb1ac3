"""Each command's options: a frozen object built once from the parsed arguments, validated there, with the defaults of
options a command's parser does not offer in one place. The argparse Namespace stops here: commands receive these.

This module holds what every command's options have, the CI event's, and plan's; the other commands' options are in
:mod:`automation.cli.command_options`, loaded only for them, so `plan` does not pay for creating them (issue 29: a
frozen dataclass of a dozen fields costs one to two milliseconds to create).

:func:`from_namespace` refuses a parsed option its command's class does not carry (nothing is dropped silently);
``tests/unit/test_options.py`` holds every subcommand's parser and class to each other. Standard library only.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from typing import Any

from automation.model.errors import InternalError


@dataclass(frozen=True, kw_only=True)
class Options:
    """What every command has: the subcommand, the project directory, and how to print."""

    command: str
    project_dir: str | None = None
    debug: bool = False
    json: bool = False
    #: synth and cost: --format json is --json
    format: str | None = None

    @property
    def as_json(self) -> bool:
        return self.json or self.format == "json"


@dataclass(frozen=True, kw_only=True)
class EventOptions(Options):
    """The CI event: GitHub's (GITHUB_EVENT_NAME/GITHUB_EVENT_PATH, or --event-name/--event-path), or flags."""

    event_name: str | None = None
    event_path: str | None = None
    branch: str | None = None
    sha: str | None = None
    base: str | None = None
    pr: int | None = None
    title: str | None = None
    author: str | None = None
    before: str | None = None
    deleted: bool = False
    changed_file: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class PlanOptions(EventOptions):
    github_matrix: bool = False


#: options given repeatedly (argparse's lists) become tuples
_REPEATED = ("changed_file", "branch", "stack")


def from_namespace(ns: argparse.Namespace, cls: type[Options]) -> Options:
    """The options of the parsed subcommand, as an instance of its class ``cls`` (automation.cli.main.options_class).
    A parsed option the class does not name is a bug (exit 70), never dropped."""
    values: dict[str, Any] = dict(vars(ns))
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InternalError(f"{values['command']}: the parser gives {', '.join(unknown)}, which {cls.__name__} does not "
                            "carry (automation/cli/options.py, command_options.py)")
    for name in _REPEATED:
        if isinstance(values.get(name), list):
            values[name] = tuple(values[name])
        elif name in values and values[name] is None:
            del values[name]  # not given: the class's default (() or None)
    return cls(**values)
