"""The real Pulumi CLI for tests: found as the engine finds it; in CI a missing CLI fails, elsewhere it skips."""

from __future__ import annotations

import os

import pytest

from automation.engines.toolchain import CliChoice, find_cli
from automation.model.errors import PulumiCliMissing


def require_cli() -> CliChoice:
    """The CLI the engine would use. ``CI=true``: a missing CLI is a failure with the reason; otherwise a skip."""
    from tests.support.tiers import require_tier

    require_tier("the real Pulumi CLI", "cli", "k8s", "act")
    try:
        return find_cli(os.environ)
    except PulumiCliMissing as exc:
        message = f"the real Pulumi CLI is needed for this test: {exc}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI must run the real-engine tests: .ci/test builds the CLI with .ci/build-pulumi)")
        pytest.skip(message + " (install Go and run `bash .ci/build-pulumi`)")
