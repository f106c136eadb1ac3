"""The policy gate (automation.flow.gates.with_policy) called directly, on the real program's synth and the real pack:
each branch has a case where it alone decides (issue 28: the first complete gated mutation run found the offline
evaluation and the recording of the real CLI's waived violations covered by the cli tier only). Prod's database is
made unencrypted in one place: `rds-storage-encrypted`, a mandatory policy of the pack."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import pytest

from automation.config import lifecycle
from automation.flow.gates import with_policy
from automation.model.changes import PolicyViolation, PropertyChange, ResourceChange
from automation.model.outcome import Outcome
from automation.model.snapshot import Resource
from automation.review.policy import ONE_MINOR, StackPolicy
from automation.review.render import Report, Status
from tests.support.paths import ROOT
from tests.support.program import synth

RDS = "aws:rds/instance:Instance"
ENCRYPTED = "rds-storage-encrypted"


def _resources(unencrypted: bool = False) -> dict[str, Resource]:
    out = {}
    for r in synth("prod").resources:
        inputs = copy.deepcopy(dict(r.inputs))
        if unencrypted and r.type == RDS:
            inputs["storageEncrypted"] = False
        out[r.urn] = Resource(r.urn, r.type, r.name, inputs, r.protect)
    return out


def _policy(waivers: tuple[tuple[str, str, str], ...] = ()) -> StackPolicy:
    return StackPolicy(pack=ROOT / "policypack", stack="prod", environment="production", levels={}, waivers=waivers,
                       stateful=None, calendar=lifecycle.load().to_policy_config(lifecycle.today()))


def _report(after: Mapping[str, Resource] | None, cli: tuple[PolicyViolation, ...] = (),
            changes: tuple[ResourceChange, ...] = ()) -> Report:
    outcome = Outcome(stack="prod", operation="preview", succeeded=True, changes=changes, after=after, policy=cli)
    return Report(stack="prod", operation="preview", status=Status.SUCCEEDED, reason="test", outcome=outcome)


def _db_name() -> str:
    (db,) = [r for r in synth("prod").resources if r.type == RDS]
    return db.name


def test_offline_the_program_as_declared_passes_and_the_policies_that_ran_are_counted() -> None:
    policy = _policy()
    report = with_policy(_report(_resources()), policy, offline=True)
    assert report.status == Status.SUCCEEDED and report.error is None
    assert not [v for v in report.policy if v.blocking], report.policy
    assert report.policies_ran == policy.policies > 0


def test_offline_a_mandatory_violation_denies_the_change_and_names_it() -> None:
    report = with_policy(_report(_resources(unencrypted=True)), _policy(), offline=True)
    assert report.status == Status.POLICY_DENIED
    assert report.error == (f"the policy pack denies this change: mandatory {ENCRYPTED} ({_db_name()}) "
                            "(evaluated offline)")
    assert [v.policy for v in report.policy if v.blocking] == [ENCRYPTED]


def test_offline_without_the_resources_nothing_is_evaluated() -> None:
    """A refresh or destroy reports no resources: nothing to judge, and no failure for it."""
    policy = _policy()
    report = with_policy(_report(None), policy, offline=True)
    assert report.status == Status.SUCCEEDED and report.policy == () and report.policies_ran == policy.policies


def test_on_the_cli_its_violations_are_kept_with_the_packs_fix_and_it_denies_them_itself() -> None:
    """On the real CLI the CLI denies a mandatory violation (its own exit): the gate records and explains, it does not
    deny a second time, and does not re-evaluate what the CLI already reported."""
    urn = next(u for u, r in _resources().items() if r.type == RDS)
    cli = (PolicyViolation(policy=ENCRYPTED, level="mandatory", urn=urn, name=_db_name(), message="from the CLI",
                           type=RDS),)
    report = with_policy(_report(_resources(unencrypted=True), cli=cli), _policy(), offline=False)
    assert report.status == Status.SUCCEEDED and report.error is None
    (seen,) = report.policy
    assert seen.message == "from the CLI" and seen.fix.startswith("RDS storage is encrypted") and seen.severity == "high"


def test_on_the_cli_a_waived_violation_is_found_and_recorded_with_its_reason() -> None:
    """The pack reports nothing for a waived violation, so the CLI sends none: the gate finds it on the CLI's inputs."""
    waivers = ((ENCRYPTED, f"{RDS}::{_db_name()}", "restoring from an unencrypted snapshot first"),)
    report = with_policy(_report(_resources(unencrypted=True)), _policy(waivers), offline=False)
    assert report.status == Status.SUCCEEDED
    (waived,) = report.policy
    assert (waived.policy, waived.waived) == (ENCRYPTED, "restoring from an unencrypted snapshot first")


def test_on_the_cli_without_the_resources_only_its_own_violations_count() -> None:
    cli = (PolicyViolation(policy=ENCRYPTED, level="advisory", urn="urn:x", name="db", message="m", type=RDS),)
    report = with_policy(_report(None, cli=cli), _policy(), offline=False)
    assert [v.message for v in report.policy] == ["m"] and report.status == Status.SUCCEEDED


@pytest.mark.parametrize("offline", [True, False])
def test_a_version_jump_is_denied_without_any_pack(offline: bool) -> None:
    """The engine's own one-minor guard needs no pack: EKS refuses 1.33 -> 1.35 after the update has started."""
    jump = ResourceChange("urn:pulumi:prod::p::eks:index:Cluster::cluster", "eks:index:Cluster", "cluster", "update",
                          ("version",), properties=(PropertyChange("version", "1.33", "1.35"),))
    report = with_policy(_report(None, changes=(jump,)), None, offline=offline)
    assert report.status == Status.POLICY_DENIED and report.policies_ran is None
    assert report.error == (f"the policy pack denies this change: mandatory {ONE_MINOR} (cluster)"
                            + (" (evaluated offline)" if offline else ""))


def test_without_a_pack_or_a_jump_or_an_outcome_the_report_is_unchanged() -> None:
    plain = _report(_resources(unencrypted=True))
    assert with_policy(plain, None, offline=True) is plain
    bare = Report(stack="prod", operation="destroy", status=Status.SUCCEEDED, reason="test")
    assert with_policy(bare, _policy(), offline=True) is bare
