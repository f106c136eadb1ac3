"""What the real Pulumi CLI sends the policy pack, recorded (issue 28): the pack records, per stack, every resource a
resource policy was asked about when ``GHOST_GITOPS_ANALYZER_RECORD`` names a directory (policypack/crossguard.py:
``record``, secrets redacted). The real tiers record on every run and compare the recording's *shape* (which
resources, which property paths) with the committed fixtures in tests/data/analyzer/; the fast tier runs the pack
on the fixtures (tests/program/test_policy_recorded.py). A fixture holds the recording with where it came from.

To refresh a fixture after a deliberate change (a new provider, a program change): run the tier, then
``python -m tests.support.analyzer_records <recording.json> <fixture name> "<how it was recorded>"`` -- by a person, never in CI.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from policypack import rules
from tests.support.paths import ANALYZER


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((ANALYZER / f"{name}.json").read_text()))


def paths(value: Any, prefix: str = "") -> set[str]:
    """The property paths of ``value``: ``spec.template.spec.containers[].image`` and so on (values left out)."""
    if isinstance(value, Mapping):
        found = {prefix} if prefix and not value else set()
        for key, item in value.items():
            found |= paths(item, f"{prefix}.{key}" if prefix else str(key))
        return found
    if isinstance(value, list):
        return set().union(*(paths(item, f"{prefix}[]") for item in value)) if value else {f"{prefix}[]"}
    return {prefix}


def shape(resources: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    return {f"{r['type']}::{r['name']}": sorted(paths(r["props"])) for r in resources}


def shape_difference(recorded: Sequence[Mapping[str, Any]], name: str) -> str:
    """How the recording's shape differs from fixture ``name``'s; empty when it does not."""
    now, then = shape(recorded), shape(fixture(name)["resources"])
    lines = [f"resource {k} is new" for k in sorted(now.keys() - then.keys())]
    lines += [f"resource {k} is no longer sent" for k in sorted(then.keys() - now.keys())]
    for key in sorted(now.keys() & then.keys()):
        added, gone = sorted(set(now[key]) - set(then[key])), sorted(set(then[key]) - set(now[key]))
        if added or gone:
            lines.append(f"{key}: new paths {added}, paths no longer sent {gone}")
    return "\n".join(lines)


def check_recording(recorded: Path, name: str) -> list[dict[str, Any]]:
    """The recording at ``recorded``, asserted to have the committed fixture's shape."""
    assert recorded.is_file(), f"the pack recorded nothing at {recorded}: did the CLI run the pack with the variable?"
    resources = list(json.loads(recorded.read_text()))
    diff = shape_difference(resources, name)
    assert not diff, (f"what the real CLI sends the pack changed from tests/data/analyzer/{name}.json:\n{diff}\n"
                      f"If deliberate, refresh it: python -m tests.support.analyzer_records {recorded} {name} '<how>'")
    return resources


def subjects(resources: Iterable[Mapping[str, Any]]) -> list[rules.Subject]:
    return [rules.Subject(r["urn"], r["type"], r["name"], r["props"], bool(r["protect"])) for r in resources]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m tests.support.analyzer_records RECORDING.json FIXTURE_PROJECT-NAME 'how it was recorded'", file=sys.stderr)
        return 2
    recording, name, source = Path(argv[0]), argv[1], argv[2]
    ANALYZER.mkdir(parents=True, exist_ok=True)
    doc = {"source": source, "resources": json.loads(recording.read_text())}
    (ANALYZER / f"{name}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {ANALYZER / f'{name}.json'} ({len(doc['resources'])} resources)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
