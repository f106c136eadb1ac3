"""Every sub-check of the policy pack bites on its own (issue 28): each case takes one resource from the real program's
synth (or, for a type the program does not declare, one shaped like it), changes ONE place, and expects that
policy's violation naming that place; the unchanged program passes every policy (tests/program/test_policy_pack.py). Boundary
values are paired: the last value that passes next to the first that fails. Removing or weakening any one check in
policypack/rules.py fails at least one case here.
"""

from __future__ import annotations

import pytest

from tests.support.policy_cases import CASES, Case, problem, rules
from tests.support.program import synth


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_sub_check_bites_on_its_own(case: Case) -> None:
    assert problem(case) is None, problem(case)


def test_every_policy_has_a_failing_case_here() -> None:
    failing = {c.policy for c in CASES if c.says is not None}
    others = {"vpc-flow-logs", "log-retention", "kms-key-rotation", "subnet-no-public-ip", "k8s-no-secret-in-env",
              "k8s-image-pinned", "prod-stateful-protected", "personal-no-aws", "version-support",
              "version-support-ending"}  # each has its failing case in tests/program/test_policy_pack.py or test_lifecycle.py
    assert {p.name for p in rules.POLICIES} == failing | others, {p.name for p in rules.POLICIES} - failing - others


def test_a_waiver_matches_by_type_and_name_or_by_urn() -> None:
    subject = rules.Subject("urn:pulumi:dev::ghost-gitops::aws:rds/instance:Instance::dev-mysql",
                            "aws:rds/instance:Instance", "dev-mysql", {})
    assert rules.Waiver("rds-backups", "aws:rds/instance:Instance::dev-*", "r").covers("rds-backups", subject)
    assert rules.Waiver("rds-backups", "urn:pulumi:dev::*::dev-mysql", "r").covers("rds-backups", subject)
    assert not rules.Waiver("rds-backups", "urn:pulumi:prod::*", "r").covers("rds-backups", subject)
    assert not rules.Waiver("rds-backups", "aws:rds/instance:Instance::*", "r").covers("rds-not-public", subject)


def test_the_version_floor_without_a_calendar() -> None:
    """With no support table (a pack run without the engine's config), 1.32 is the oldest version EKS supports."""
    eks = dict(synth("dev").of_type("eks:index:Cluster")[0].inputs)
    ctx = rules.Context(stack="dev", environment="integration")
    for version, ok in (("1.31", False), ("1.32", True)):
        subject = rules.Subject("urn:x", "eks:index:Cluster", "dev-eks", {**eks, "version": version})
        found = [v.message for v in rules.evaluate([subject], ctx) if v.policy == "eks-supported-version"]
        assert (found == []) == ok, (version, found)
