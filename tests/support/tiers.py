"""The tiers of real software (pyproject.toml markers) and the check that a test reaching for one carries its mark."""

from __future__ import annotations

import pytest

#: the tiers of real software (pyproject.toml markers); a test with none of them is `fast`
TIERS = ("cli", "k8s", "db", "act")
#: the tiers of the test running now, set by tests/conftest.py before any of its fixtures
current: set[str] = set()


def enter(item: pytest.Item) -> None:
    """Record the tiers of the test about to run, before any of its fixtures (module-scoped ones included)."""
    current.clear()
    current.update(m.name for m in item.iter_markers() if m.name in TIERS)


def require_tier(what: str, *tiers: str) -> None:
    """Fail a test that reaches for real software (``what``) without the mark of a tier that provides it: the fast
    tier must never need a build, and every heavy test must run in the tier that builds what it needs."""
    if not current & set(tiers):
        pytest.fail(f"this test needs {what}: mark it @pytest.mark.{tiers[0]} (tiers: pyproject.toml, README 'Tests')")
