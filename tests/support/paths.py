"""Where the repository and the tests' data are (tests/data): one place, so a test's folder never decides a path."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
#: GitHub event payloads as a workflow receives them (each names its source: tests/data/events/README.md)
EVENTS = DATA / "events"
#: what the policy pack received from the real Pulumi CLI (tests/support/analyzer_records.py)
ANALYZER = DATA / "analyzer"
#: rendered PR comments and cost sections, compared byte for byte
GOLDEN = DATA / "golden"
#: the Pulumi project whose resources are dynamic providers over a folder (the real-CLI tiers and act)
FIXTURE_PROJECT = DATA / "fixture_project"
#: the act scenarios' test repository's own tests (its deploy gate runs them: tests/data/act_repository/README.md)
ACT_REPOSITORY = DATA / "act_repository"
#: surviving mutants of the gated scope, each with why it is harmless (tests/support/mutation_gate.py)
SURVIVORS = DATA / "mutation_survivors.yaml"
