"""Shared fixtures: the real program synthesized offline (once per stack per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from automation.config.stackconfig import load_stack_config
from automation.engines.synth import SynthResult, synthesize

ROOT = Path(__file__).resolve().parent.parent
ENV_STACKS = ("dev", "prod")
PERSONAL_STACK = "dev-alice"
ALL_STACKS = (*ENV_STACKS, PERSONAL_STACK)

_cache: dict[str, SynthResult] = {}
#: the day every test compares versions' support with (automation/config/lifecycle.py: GHOST_GITOPS_TODAY): the figures the
#: tests work by hand hold whatever the calendar says; tests/test_lifecycle.py moves the day on purpose
TEST_DAY = "2026-12-02"


@pytest.fixture(autouse=True)
def _fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GHOST_GITOPS_TODAY", TEST_DAY)


#: the tiers of real software (pyproject.toml markers); a test with none of them is `fast`
TIERS = ("cli", "k8s", "db", "act")
_current_tiers: set[str] = set()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The tiers of the test about to run, before any of its fixtures (module-scoped ones included) is set up."""
    _current_tiers.clear()
    _current_tiers.update(m.name for m in item.iter_markers() if m.name in TIERS)


def require_tier(what: str, *tiers: str) -> None:
    """Fail a test that reaches for real software (``what``) without the mark of a tier that provides it: the fast
    tier must never need a build, and every heavy test must run in the tier that builds what it needs."""
    if not _current_tiers & set(tiers):
        pytest.fail(f"this test needs {what}: mark it @pytest.mark.{tiers[0]} (tiers: pyproject.toml, README 'Tests')")


def synth(stack: str) -> SynthResult:
    if stack not in _cache:
        _cache[stack] = synthesize(ROOT, load_stack_config(ROOT, stack))
    return _cache[stack]


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


def one(result: SynthResult, type_: str) -> dict:
    found = result.of_type(type_)
    assert len(found) == 1, f"expected exactly one {type_} in {result.stack}, found {len(found)}"
    return dict(found[0].inputs)


def container(result: SynthResult, kind_type: str = "kubernetes:apps/v1:Deployment") -> dict:
    spec = one(result, kind_type)["spec"]["template"]["spec"]
    assert len(spec["containers"]) == 1
    return spec["containers"][0]


def shared_stack_deployed(state_dir: Path, stack: str = "dev") -> None:
    """The memory engine's state of a deployed (empty) ``stack``: personal stacks run only on a deployed template, as
    on the real engine. For tests about the personal stack itself, not about deploying its template."""
    import json

    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / f"{stack}.json").write_text(json.dumps({"resources": {}, "history": [], "outputs": {}}))


def check_golden(path: Path, text: str) -> None:
    """Compare ``text`` with the golden file ``path``. ``UPDATE_GOLDEN=1`` rewrites it -- never in CI (``CI=true``),
    where a rewrite would make the comparison pass whatever the rendering became."""
    import os

    if os.environ.get("UPDATE_GOLDEN"):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("UPDATE_GOLDEN is set in CI: golden files are rewritten only by a person, locally")
        path.write_text(text)
    assert text == path.read_text(), f"rendering changed; review and re-run with UPDATE_GOLDEN=1 ({path})"
