"""The real program synthesized offline (once per stack per process), and small readers of what it declares."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from automation.config.stackconfig import load_stack_config
from automation.engines.synth import SynthResult, synthesize
from tests.support.paths import ROOT

ENV_STACKS = ("dev", "prod")
PERSONAL_STACK = "dev-alice"
ALL_STACKS = (*ENV_STACKS, PERSONAL_STACK)

_cache: dict[str, SynthResult] = {}


def synth(stack: str) -> SynthResult:
    if stack not in _cache:
        _cache[stack] = synthesize(ROOT, load_stack_config(ROOT, stack))
    return _cache[stack]


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
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / f"{stack}.json").write_text(json.dumps({"resources": {}, "history": [], "outputs": {}}))


def check_golden(path: Path, text: str) -> None:
    """Compare ``text`` with the golden file ``path``. ``UPDATE_GOLDEN=1`` rewrites it -- never in CI (``CI=true``),
    where a rewrite would make the comparison pass whatever the rendering became."""
    if os.environ.get("UPDATE_GOLDEN"):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("UPDATE_GOLDEN is set in CI: golden files are rewritten only by a person, locally")
        path.write_text(text)
    assert text == path.read_text(), f"rendering changed; review and re-run with UPDATE_GOLDEN=1 ({path})"
