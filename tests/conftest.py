"""Shared fixtures: the fixed day, the tier check's bookkeeping, and the real program's offline synth per stack.
What tests import lives in tests/support/, never here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from automation.engines.synth import SynthResult
from tests.support import tiers
from tests.support.mutation_gate import fastest_first, stats_durations
from tests.support.paths import ROOT
from tests.support.program import ALL_STACKS, ENV_STACKS, PERSONAL_STACK, synth

#: the day every test compares versions' support with (automation/config/lifecycle.py: GHOST_GITOPS_TODAY): the figures the
#: tests work by hand hold whatever the calendar says; tests/unit/test_lifecycle.py moves the day on purpose
TEST_DAY = "2026-12-02"

#: data, not this suite's tests: the act scenarios' test repository runs tests/data/act_repository/tests itself
collect_ignore_glob = ["data/*"]


@pytest.fixture(autouse=True)
def _fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GHOST_GITOPS_TODAY", TEST_DAY)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under a mutant's run only (`bash .ci/mutation`): its tests fastest first, so the first failing one ends it."""
    durations = stats_durations(Path.cwd())
    if durations is not None:
        order = fastest_first([item.nodeid for item in items], durations)
        items[:] = [items[i] for i in order]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The tiers of the test about to run, before any of its fixtures (module-scoped ones included) is set up."""
    tiers.enter(item)


@pytest.fixture(params=ENV_STACKS)
def env_stack(request: pytest.FixtureRequest) -> SynthResult:
    return synth(request.param)


@pytest.fixture(params=ALL_STACKS)
def any_stack(request: pytest.FixtureRequest) -> SynthResult:
    return synth(request.param)


@pytest.fixture
def dev() -> SynthResult:
    return synth("dev")


@pytest.fixture
def prod() -> SynthResult:
    return synth("prod")


@pytest.fixture
def personal() -> SynthResult:
    return synth(PERSONAL_STACK)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A scratch copy of the project files (program modules are shared through sys.path)."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path
