"""The version support calendar (automation/prices/lifecycle.yaml) drives the estimate, the policies and the
engine's one-minor guard: each figure worked by hand from the tables, each verdict with the day moved on purpose
(the issue's day, 2026-12-02, is when EKS 1.34 left standard support)."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from automation.cli.main import main
from automation.config import lifecycle
from automation.config.prices import load_project
from automation.model.changes import PropertyChange, ResourceChange
from automation.model.errors import ConfigError
from automation.model.snapshot import Resource
from automation.review.cost import estimate
from automation.review.cost_model import Estimate, Line
from automation.review.costrender import TABLE_WIDTH, estimate_table
from automation.review.policy import ONE_MINOR, minor_jumps
from tests.support.gitrepo import commit, git, project_repo
from tests.support.paths import EVENTS, ROOT
from tests.support.program import synth

sys.path.insert(0, str(ROOT))
from policypack import crossguard, rules

HOURS = 730
DAY = dt.date(2026, 12, 2)
TABLE = lifecycle.load()
EKS = "eks:index:Cluster"
RDS = "aws:rds/instance:Instance"


def resources(stack: str, **changes: Mapping[str, object]) -> list[Resource]:
    """The real program's synth of ``stack``, with some inputs of the first resource of a type changed."""
    return [Resource(r.urn, r.type, r.name, {**r.inputs, **changes.get(r.type, {})}, r.protect)
            for r in synth(stack).resources]


def line(est: Estimate, billed: str) -> Line:
    (found,) = [x for x in est.lines if x.billed == billed]
    return found


# -- the table ------------------------------------------------------------------------------------------------
def test_every_row_is_dated_and_sourced_and_the_windows_are_eks_and_rds_ones() -> None:
    for product in ("eks", "rds_mysql"):
        rows = TABLE.rows(product)  # type: ignore[arg-type]
        assert rows
        for version, row in rows.items():
            assert row.source and row.checked <= DAY, version
            assert row.end_standard < row.end_extended, version
            years = (row.end_extended - row.end_standard).days / 365
            assert years == pytest.approx(1 if product == "eks" else 3, abs=0.01), version
    assert TABLE.eks.versions["1.34"].end_standard == DAY  # the issue's day
    assert TABLE.eks.versions["1.35"].end_standard == dt.date(2027, 3, 27)


def test_support_phases_successors_and_the_hours_a_month_crosses() -> None:
    s = lifecycle.support(TABLE, "eks", "1.34", DAY)
    assert (s.phase, s.successor, s.days_to_end) == ("extended", "1.35", 0)
    assert lifecycle.support(TABLE, "eks", "1.34", DAY - dt.timedelta(days=1)).phase == "standard"
    assert lifecycle.support(TABLE, "eks", "1.31", DAY).phase == "ended"
    assert lifecycle.support(TABLE, "eks", "1.36", DAY).phase == "unknown"
    assert lifecycle.support(TABLE, "rds_mysql", "8.0.39", DAY).version == "8.0"
    assert lifecycle.support(TABLE, "rds_mysql", "8.0", DAY).successor == "8.4"
    assert "standard support until 2027-03-27 (115 days)" in lifecycle.support(TABLE, "eks", "1.35", DAY).summary()
    assert lifecycle.hours_after(DAY, HOURS, dt.date(2027, 3, 27)) == 0
    assert lifecycle.hours_after(dt.date(2027, 3, 10), HOURS, dt.date(2027, 3, 27)) == HOURS - 17 * 24
    assert lifecycle.hours_after(dt.date(2027, 3, 27), HOURS, dt.date(2027, 3, 27)) == HOURS


def test_today_is_the_machine_date_unless_overridden_and_a_bad_override_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert lifecycle.today() == DAY  # tests/conftest.py pins it
    monkeypatch.setenv(lifecycle.TODAY_ENV, "2027-04-01")
    assert lifecycle.today() == dt.date(2027, 4, 1)
    monkeypatch.setenv(lifecycle.TODAY_ENV, "1 April")
    with pytest.raises(ConfigError, match="GHOST_GITOPS_TODAY='1 April' is not a date: use YYYY-MM-DD"):
        lifecycle.today()
    monkeypatch.delenv(lifecycle.TODAY_ENV)
    assert lifecycle.today() == dt.datetime.now(dt.UTC).date()


def test_a_table_older_than_its_refresh_interval_says_so_in_every_estimate() -> None:
    fresh = TABLE.checked + dt.timedelta(days=TABLE.refresh_days)
    assert TABLE.stale(fresh) is None
    late = fresh + dt.timedelta(days=1)
    warning = TABLE.stale(late)
    assert warning and f"{TABLE.refresh_days + 1} days ago" in warning and "refresh interval" in warning
    est = estimate(resources("dev"), stack="dev", region="us-east-1", project=load_project(ROOT), on=late)
    assert est.notes == (warning,)
    assert "warning: the version support table" in estimate_table(est)


# -- the estimate -------------------------------------------------------------------------------------------
def test_on_the_issues_day_both_stacks_run_1_35_at_the_standard_price_and_within_budget() -> None:
    for stack, budget in (("dev", 300), ("prod", 700)):
        est = estimate(resources(stack), stack=stack, region="us-east-1", project=load_project(ROOT), on=DAY)
        eks = line(est, "EKS cluster hours")
        assert (eks.low, eks.high) == pytest.approx((0.10 * HOURS, 0.10 * HOURS))
        assert "Kubernetes 1.35, standard support until 2027-03-27" in eks.quantity
        assert est.high < budget
        assert "EKS Kubernetes 1.35: standard support until 2027-03-27 (115 days)" in est.versions


def test_a_cluster_left_on_1_34_is_billed_extended_support_and_crosses_the_budget() -> None:
    """The issue's figures: $438 a month for the control plane, dev about $555-557, prod about $905-907 (without
    dev's shared personal ALB, which the issue found billed nowhere: hosts_others=False here)."""
    for stack, low, high, budget in (("dev", 554.93, 556.93, 300), ("prod", 904.72, 906.72, 700)):
        est = estimate(resources(stack, **{EKS: {"version": "1.34", "upgradePolicy": {"supportType": "EXTENDED"}}}),
                       stack=stack, region="us-east-1", project=load_project(ROOT), on=DAY, hosts_others=False)
        eks = line(est, "EKS cluster hours")
        assert eks.low == eks.high == pytest.approx(0.60 * HOURS)
        assert eks.price is not None and eks.price.key == "eks_cluster_extended"
        assert "left standard support on 2026-12-02" in eks.note and "upgrade to 1.35" in eks.note
        assert (est.low, est.high) == pytest.approx((low, high), abs=0.005)
        assert est.high > budget
    # the day before, the same cluster was still at the standard price for part of the month: a range
    est = estimate(resources("prod", **{EKS: {"version": "1.34", "upgradePolicy": {"supportType": "EXTENDED"}}}),
                   stack="prod", region="us-east-1", project=load_project(ROOT), on=DAY - dt.timedelta(days=1))
    eks = line(est, "EKS cluster hours")
    assert (eks.low, eks.high) == pytest.approx((73.0, 0.10 * 24 + 0.60 * (HOURS - 24)))


def test_moving_the_date_past_1_35s_end_changes_prod_but_not_dev_which_chose_standard() -> None:
    end = dt.date(2027, 3, 27)
    prod = estimate(resources("prod"), stack="prod", region="us-east-1", project=load_project(ROOT), on=end)
    assert line(prod, "EKS cluster hours").high == pytest.approx(0.60 * HOURS)
    dev = estimate(resources("dev"), stack="dev", region="us-east-1", project=load_project(ROOT), on=end)
    eks = line(dev, "EKS cluster hours")
    assert eks.high == pytest.approx(0.10 * HOURS)
    assert "supportType STANDARD, EKS upgrades the cluster itself" in eks.note
    crossing = estimate(resources("prod"), stack="prod", region="us-east-1", project=load_project(ROOT),
                        on=dt.date(2027, 3, 10))
    eks = line(crossing, "EKS cluster hours")
    assert (eks.low, eks.high) == pytest.approx((73.0, 0.10 * 17 * 24 + 0.60 * (HOURS - 17 * 24)))
    assert "ends on 2027-03-27, within this month" in eks.note


def test_an_unlisted_version_is_a_range_never_a_guess() -> None:
    est = estimate(resources("dev", **{EKS: {"version": "1.36"}}), stack="dev", region="us-east-1",
                   project=load_project(ROOT), on=DAY)
    eks = line(est, "EKS cluster hours")
    assert (eks.low, eks.high) == pytest.approx((73.0, 438.0))
    assert "not in the version support table" in eks.note


def test_rds_extended_support_is_billed_per_vcpu_hour_standby_included_unless_disabled() -> None:
    # prod: db.m7g.large (2 vCPU), Multi-AZ, MySQL 8.0 past its end of standard support (2026-07-31): year 1
    est = estimate(resources("prod", **{RDS: {"engineVersion": "8.0"}}), stack="prod", region="us-east-1",
                   project=load_project(ROOT), on=DAY)
    ext = line(est, "RDS Extended Support")
    assert ext.low == ext.high == pytest.approx(2 * 2 * 0.100 * HOURS)
    assert ext.price is not None and ext.price.key == "rds_extended_support.year1"
    # year 3 of extended support: $0.200
    late = estimate(resources("dev", **{RDS: {"engineVersion": "8.0"}}), stack="dev", region="us-east-1",
                    project=load_project(ROOT), on=dt.date(2028, 8, 1))
    assert line(late, "RDS Extended Support").high == pytest.approx(2 * 0.200 * HOURS)
    off = estimate(resources("dev", **{RDS: {"engineVersion": "8.0",
                                            "engineLifecycleSupport": "open-source-rds-extended-support-disabled"}}),
                   stack="dev", region="us-east-1", project=load_project(ROOT), on=DAY)
    disabled = line(off, "RDS Extended Support")
    assert disabled.high == 0 and "RDS upgrades the major version itself" in disabled.note
    # 8.4 is in standard support until 2029: no line at all
    assert not [x for x in estimate(resources("prod"), stack="prod", region="us-east-1", on=DAY).lines
                if x.billed == "RDS Extended Support"]


def test_the_cost_command_takes_a_date_and_its_table_fits_120_columns() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["--project-dir", str(ROOT), "cost", "--stack", "prod", "--date", "2027-03-27"],
                environ={}, out=out, err=err) == 0, err.getvalue()
    text = out.getvalue()
    assert text.startswith("total for prod (us-east-1): $904.72–$906.72 per month (priced from 2027-03-27, 730 h)")
    assert max(len(x) for x in text.splitlines()) <= TABLE_WIDTH <= 120
    assert "EKS Kubernetes 1.35: standard support ended on 2027-03-27; extended support until 2028-03-27" in text
    assert text.count("total for prod") == 2  # first and last
    out = io.StringIO()
    assert main(["--project-dir", str(ROOT), "cost", "--stack", "dev", "--format", "json"], environ={}, out=out,
                err=io.StringIO()) == 0
    doc = json.loads(out.getvalue())
    assert doc["priced_from"] == "2026-12-02" and doc["notes"] == []
    bad = io.StringIO()
    assert main(["--project-dir", str(ROOT), "cost", "--stack", "dev", "--date", "soon"], environ={}, out=io.StringIO(),
                err=bad) == 2
    assert "'soon' is not a date: use YYYY-MM-DD" in bad.getvalue()


# -- policy -------------------------------------------------------------------------------------------------
def verdicts(stack: str, env: str, on: dt.date, **changes: Mapping[str, object]) -> dict[str, list[rules.Violation]]:
    subjects = [rules.Subject(r.urn, r.type, r.name, r.inputs, r.protect) for r in resources(stack, **changes)]
    ctx = rules.Context(stack=stack, environment=env, calendar=TABLE.to_policy_config(on))
    out: dict[str, list[rules.Violation]] = {}
    for v in rules.evaluate(subjects, ctx):
        out.setdefault(v.policy, []).append(v)
    return out


def test_production_past_the_end_of_standard_support_is_mandatory_and_names_the_fix() -> None:
    found = verdicts("prod", "production", DAY, **{EKS: {"version": "1.34"}})
    (v,) = found["version-support"]
    assert v.level == "mandatory" and v.name == "prod-eks"
    assert "Kubernetes 1.34 left EKS standard support on 2026-12-02" in v.message and "upgrade to 1.35" in v.message
    assert "version-support-ending" not in found  # production gets the mandatory one only
    (db,) = verdicts("prod", "production", DAY, **{RDS: {"engineVersion": "8.0"}})["version-support"]
    assert "MySQL 8.0 left RDS standard support on 2026-07-31" in db.message and "upgrade to 8.4" in db.message
    # the day before the end: not yet
    assert "version-support" not in verdicts("prod", "production", DAY - dt.timedelta(days=1), **{EKS: {"version": "1.34"}})


def test_other_stacks_get_the_advisory_past_the_end_and_everyone_within_90_days() -> None:
    found = verdicts("dev", "integration", DAY, **{EKS: {"version": "1.34"}})
    assert "version-support" not in found
    (v,) = found["version-support-ending"]
    assert v.level == "advisory" and "left EKS standard support on 2026-12-02" in v.message
    # 1.35: 115 days left on the issue's day (quiet), 85 on 2027-01-01 (advisory on every stack)
    assert verdicts("prod", "production", DAY) == {}
    soon = dt.date(2027, 1, 1)
    for stack, env in (("prod", "production"), ("dev", "integration")):
        (v,) = verdicts(stack, env, soon)["version-support-ending"]
        assert "Kubernetes 1.35 leaves EKS standard support on 2027-03-27 (in 85 days)" in v.message
    assert verdicts("dev", "integration", dt.date(2027, 1, 2) - dt.timedelta(days=7)) == {}  # 90 days + 1 before


def test_eks_supported_version_refuses_unlisted_and_ended_versions_from_the_table() -> None:
    (v,) = verdicts("dev", "integration", DAY, **{EKS: {"version": "1.36"}})["eks-supported-version"]
    assert "not in the version support table" in v.message and v.level == "mandatory"
    (v,) = verdicts("dev", "integration", DAY, **{EKS: {"version": "1.31"}})["eks-supported-version"]
    assert "left EKS extended support on 2026-11-26" in v.message
    assert "eks-supported-version" not in verdicts("dev", "integration", DAY, **{EKS: {"version": "1.32"}})


def test_the_pack_run_by_hand_reads_the_table_itself_and_the_engine_passes_the_same_calendar() -> None:
    calendar = crossguard.project_calendar()
    assert calendar == TABLE.to_policy_config(DAY)  # GHOST_GITOPS_TODAY reaches the pack's own reading too
    from automation.config.environments import load_environments
    from automation.review.policy import stack_policy

    envs = load_environments(ROOT)
    settings = stack_policy(ROOT, "prod", "production", envs.by_stack("prod").rule, envs.stateful)  # type: ignore[union-attr]
    assert settings is not None
    config = settings.config()
    assert config["version-support"]["calendar"] == calendar


# -- the engine's one-minor guard -----------------------------------------------------------------------------
def _version_change(old: str, new: str, type_: str = EKS, path: str = "version") -> ResourceChange:
    return ResourceChange(f"urn:pulumi:prod::p::{type_}::prod-eks", type_, "prod-eks", "update", (path,),
                          properties=(PropertyChange(path, old, new),))


def test_one_minor_at_a_time_and_never_back() -> None:
    assert minor_jumps([_version_change("1.34", "1.35")]) == ()
    (jump,) = minor_jumps([_version_change("1.33", "1.35")])
    assert jump.policy == ONE_MINOR and jump.level == "mandatory"
    assert "Kubernetes 1.33 → 1.35 moves 2 minors in one change" in jump.message and "1.34 first" in jump.message
    (back,) = minor_jumps([_version_change("1.35", "1.34", "aws:eks/cluster:Cluster")])
    assert "is a downgrade" in back.message
    assert minor_jumps([_version_change("1.33", "1.35", RDS)]) == ()  # only clusters
    assert minor_jumps([_version_change("1.33", "1.35", path="tags.version")]) == ()  # only their version


def test_the_upgrade_is_an_in_place_update_and_two_minors_are_refused_offline(tmp_path: Path) -> None:
    """A pull request's offline diff (the path a fork's PR takes): 1.34 → 1.35 is `~ version` on the cluster, an
    update; 1.33 → 1.35 is refused with exit 9 before anything else happens."""
    repo = project_repo(tmp_path / "repo", ROOT)
    dev_yaml = (repo / "Pulumi.dev.yaml").read_text()
    assert 'kubernetesVersion: "1.35"' in dev_yaml
    results = {}
    for old in ("1.34", "1.33"):
        base = commit(repo, {"Pulumi.dev.yaml": dev_yaml.replace('kubernetesVersion: "1.35"', f'kubernetesVersion: "{old}"')},
                      f"dev on {old}")
        head = commit(repo, {"Pulumi.dev.yaml": dev_yaml}, "dev on 1.35")
        payload = json.loads((EVENTS / "pull_request_fork.json").read_text())
        payload["pull_request"]["base"]["sha"], payload["pull_request"]["head"]["sha"] = base, head
        event = tmp_path / f"event-{old}.json"
        event.write_text(json.dumps(payload))
        out, err = io.StringIO(), io.StringIO()
        code = main(["--project-dir", str(repo), "run", "--event-name", "pull_request", "--event-path", str(event),
                     "--json", "--lock-dir", str(tmp_path / "locks")], environ={}, out=out, err=err)
        results[old] = (code, json.loads(out.getvalue())["reports"][0], err.getvalue())
    code, report, log = results["1.34"]
    assert code == 0, log
    (eks,) = [c for c in report["changes"] if c["name"] == "dev-eks"]
    assert eks["op"] == "update"
    assert {(p["path"], p["old"], p["new"]) for p in eks["properties"]} >= {("version", "1.34", "1.35")}
    code, report, log = results["1.33"]
    assert code == 9 and report["status"] == "policy-denied"
    assert [v["policy"] for v in report["policy"]["violations"] if v["level"] == "mandatory"] == [ONE_MINOR]
    assert git(repo, "worktree", "list").count("\n") == 0


# -- warnings: doctor, versions, the nightly issue ---------------------------------------------------------------
def test_versions_and_doctor_show_the_dates_and_say_what_is_due(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    assert main(["--project-dir", str(ROOT), "versions"], environ={}, out=out, err=io.StringIO()) == 0
    assert "dev: ok (warned 90 days ahead)\n  EKS Kubernetes 1.35: standard support until 2027-03-27 (115 days)" \
        in out.getvalue()
    monkeypatch.setenv("GHOST_GITOPS_TODAY", "2027-01-01")
    out = io.StringIO()
    assert main(["--project-dir", str(ROOT), "versions", "--stack", "prod", "--json"], environ={}, out=out,
                err=io.StringIO()) == 0
    (prod,) = json.loads(out.getvalue())["stacks"]
    assert prod["due"] and prod["versions"][0] == {
        "product": "eks", "version": "1.35", "phase": "standard", "due": True, "end_standard": "2027-03-27",
        "end_extended": "2028-03-27", "days_to_end_of_standard": 85, "upgrade_to": None}
    out = io.StringIO()
    main(["--project-dir", str(ROOT), "doctor"], environ={"PATH": "/usr/bin:/bin"}, out=out, err=io.StringIO())
    assert "versions of prod   warn     EKS Kubernetes 1.35: standard support until 2027-03-27 (85 days)" in out.getvalue()
    err = io.StringIO()
    assert main(["--project-dir", str(ROOT), "versions", "--stack", "prud"], environ={}, out=io.StringIO(), err=err) == 2
    assert "no stack 'prud' in environments.yaml (environment stacks: prod, dev)" in err.getvalue()


def test_the_nightly_version_issue_is_opened_once_updated_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.fake_github import FakeGitHub, serve

    with serve(FakeGitHub()) as fake:
        environ = {"GITHUB_TOKEN": "t0ken-versions", "GITHUB_REPOSITORY": "acme/blog", "GITHUB_API_URL": fake.url}

        def night(day: str) -> str:
            monkeypatch.setenv("GHOST_GITOPS_TODAY", day)
            out, err = io.StringIO(), io.StringIO()
            assert main(["--project-dir", str(ROOT), "versions", "--issues"], environ=environ, out=out, err=err) == 0, \
                err.getvalue()
            return out.getvalue()

        assert "dev: no version issue" in night("2026-12-02") and not fake.issues  # 115 days: nothing due
        first = night("2027-01-01")
        assert "prod: version issue #1 created" in first and "dev: version issue #2 created" in first
        again = night("2027-01-02")
        assert "#1" in again and "#2" in again and len(fake.issues) == 2  # updated, never duplicated
        prod = fake.issues[1]
        assert prod["title"] == "Versions of stack prod leave standard support soon" and prod["state"] == "open"
        assert "| EKS Kubernetes 1.35 | standard | 2027-03-27 | 2028-03-27 |" in prod["body"]
        assert "t0ken-versions" not in json.dumps(fake.issues)
        # the stacks are upgraded (a later table would list 1.36): here, a day on which nothing is due again is
        # simulated by a table whose 1.35 row ends later; the issue is closed with a comment
        monkeypatch.setattr(lifecycle, "load", lambda path=lifecycle.LIFECYCLE_PATH: replace_end(TABLE, "1.35", 2028))
        closed = night("2027-01-03")
        assert "prod: version issue #1 closed" in closed and fake.issues[1]["state"] == "closed"
        assert "No version of `prod` is due as of 2027-01-03." in fake.issues[1]["comments"]


def replace_end(table: lifecycle.Lifecycle, version: str, year: int) -> lifecycle.Lifecycle:
    import msgspec

    row = table.eks.versions[version]
    later = msgspec.structs.replace(row, end_standard=row.end_standard.replace(year=year),
                                    end_extended=row.end_extended.replace(year=year + 1))
    eks = msgspec.structs.replace(table.eks, versions={**table.eks.versions, version: later})
    return msgspec.structs.replace(table, eks=eks)
