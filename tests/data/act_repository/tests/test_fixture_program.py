"""The fixture program's own tests in the act scenarios' test repository (tests/data/act_repository/README.md): its
deploy gate runs them with the project's real test command (`bash .ci/test fast`)."""

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
#: the words the dev stack's greeting may use: a spelling check, the kind of test that catches a typo before it deploys
WORDS = {"hi", "hello", "there", "again", "broken", "fixed", "workflow"}


def dev_config() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"])


def test_the_dev_stack_spans_two_zones() -> None:
    assert dev_config()["fixture:zones"] == ["zone-a", "zone-b"]


def test_the_greeting_is_spelled_right() -> None:
    greeting = str(dev_config().get("fixture:greeting", "hello"))
    misspelled = [word for word in greeting.split() if word not in WORDS]
    assert not misspelled, f"misspelled in the dev stack's greeting {greeting!r}: {misspelled}"
