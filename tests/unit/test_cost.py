"""The cost model (automation/review/cost.py), table-tested: every figure is worked by hand from the price table
(automation/prices/aws.yaml) in the test, and the real program's synth is priced for dev, prod and the
changes the issue names (NAT gateways per zone, the database class)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import pytest

from automation.cli.main import main
from automation.config import lifecycle
from automation.config.prices import CustomPrice, Instance, Price, ProjectCosts, load_project, load_table
from automation.config.stackconfig import load_stack_config
from automation.engines.synth import synthesize
from automation.model.errors import ConfigError
from automation.model.outcome import Outcome
from automation.model.snapshot import Resource
from automation.review.cost import estimate
from automation.review.cost_context import NODE_POOL, Pod, PricingContext, k8s_quantity
from automation.review.cost_model import CostChange, money_range, signed_range
from automation.review.cost_nodes import _candidates, _fits, _pack
from automation.review.costrender import cost_markdown, estimate_table, headline
from automation.review.render import Report, Status, render_markdown
from tests.support.paths import FIXTURE_PROJECT, GOLDEN, ROOT
from tests.support.program import check_golden

HOURS = 730
P = load_table().regions["us-east-1"].prices
NODE = load_table().regions["us-east-1"].node


def _usd(key: str) -> float:
    return P[key].usd


def _synth(stack: str, **config: str) -> list[Resource]:
    """The real program's resources for ``stack``, with config values replaced (as a PR would change them)."""
    cfg = load_stack_config(ROOT, stack)
    if config:
        cfg = replace(cfg, values={**cfg.values, **{f"ghost-gitops:{k}": v for k, v in config.items()}})
    return [Resource(r.urn, r.type, r.name, r.inputs) for r in synthesize(ROOT, cfg).resources]


def _lines(est: object, billed_prefix: str) -> list[tuple[float, float]]:
    return [(x.low, x.high) for x in est.lines if x.billed.startswith(billed_prefix)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "value"), [("500m", 0.5), ("2", 2.0), ("768Mi", 768 * 2**20), ("20Gi", 20 * 2**30),
                                             ("1.5", 1.5), (3, 3.0), ("1G", 1e9), ("lots", None), (None, None), (True, None)])
def test_kubernetes_quantities(text: object, value: float | None) -> None:
    assert k8s_quantity(text) == value


@pytest.fixture(scope="module")
def prod() -> list[Resource]:
    return _synth("prod")


@pytest.fixture(scope="module")
def dev() -> list[Resource]:
    return _synth("dev")


def test_prod_breakdown_matches_the_hand_worked_figures(prod: list[Resource]) -> None:
    est = estimate(prod, stack="prod", region="us-east-1", project=load_project(ROOT), hosts_others=False)
    nat = 3 * 0.045 * HOURS  # three gateways (natGateways: perAz over three zones)
    eips = 3 * 0.005 * HOURS  # their public IPv4 addresses
    rds = 2 * 0.168 * HOURS  # db.m7g.large, Multi-AZ: primary and standby
    rds_storage = 50 * 2 * 0.115  # 50 GB gp3, stored twice
    eks = 0.10 * HOURS  # Kubernetes 1.35: standard support until 2027-03-27 (tests run on 2026-12-02)
    node = 0.0336 * 1.12 * HOURS + 80 * 0.08  # Ghost (500m, 768Mi) fits one t4g.medium; +12% fee; 80 GiB root
    alb = 0.0225 * HOURS + 3 * 0.005 * HOURS  # one ALB, internet-facing in three subnets
    pvc = 20 * 0.08
    kms = 1.00
    usage = 150 * 0.045 + 1 * 0.008 * HOURS + 30 * 0.50 + 150 * 0.03 + 50 * 0.09  # costs.yaml, prod
    assert sum(x for x, _ in _lines(est, "NAT gateway hours")) == pytest.approx(nat)
    assert sum(x for x, _ in _lines(est, "public IPv4 address")) == pytest.approx(eips)
    assert _lines(est, "DB instance hours") == [pytest.approx((rds, rds))]
    assert _lines(est, "DB storage") == [pytest.approx((rds_storage, rds_storage))]
    assert _lines(est, "EKS cluster hours") == [pytest.approx((eks, eks))]
    assert _lines(est, "node compute") == [pytest.approx((node, node))]
    assert _lines(est, "KMS key rotations") == [pytest.approx((0, 2))]
    low = nat + eips + rds + rds_storage + eks + node + alb + pvc + kms + usage
    assert est.low == pytest.approx(low) and est.high == pytest.approx(low + 2)
    assert round(est.low, 2) == 539.72  # what `cost --stack prod` prints; a person gets it from the table above
    assert not est.unpriced
    assert {x.billed for x in est.usage_open} == {"DB backup storage", "KMS requests"}  # no assumption: not in totals
    # every priced line names its price's source and date
    for line in est.lines:
        if line.kind in ("fixed", "usage") and line.price is not None:
            assert line.price.source.startswith("https://aws.amazon.com/") and line.price.as_of == "2026-11-29", line


def test_dev_breakdown_and_its_total(dev: list[Resource]) -> None:
    est = estimate(dev, stack="dev", region="us-east-1", project=load_project(ROOT), hosts_others=False)
    fixed = (0.045 * HOURS + 0.005 * HOURS  # one NAT gateway and its address
             + 0.016 * HOURS + 20 * 0.115  # db.t4g.micro single-AZ, 20 GB gp3
             + 0.10 * HOURS + (0.0336 * 1.12 * HOURS + 80 * 0.08)  # cluster; Ghost (100m, 512Mi) on a t4g.medium
             + 0.0225 * HOURS + 2 * 0.005 * HOURS + 5 * 0.08 + 1.00)  # ALB in two subnets; 5 GiB volume; KMS key
    usage = 20 * 0.045 + 0.5 * 0.008 * HOURS + 6 * 0.50 + 6 * 0.03 + 5 * 0.09
    assert est.low == pytest.approx(fixed + usage)
    assert round(est.low, 2) == 189.93


def test_nat_per_zone_in_dev_adds_a_gateway_and_its_address(dev: list[Resource]) -> None:
    """single -> perAz over dev's two zones: +1 gateway-month and +1 address-month; the assumed traffic
    (20 GB, a stack total) is shared, so it does not change."""
    per_az = _synth("dev", natGateways="perAz")
    costs = load_project(ROOT)
    change = CostChange(after=estimate(per_az, stack="dev", region="us-east-1", project=costs, hosts_others=True),
                        before=estimate(dev, stack="dev", region="us-east-1", project=costs, hosts_others=True))
    assert change.delta_low == pytest.approx(0.045 * HOURS + 0.005 * HOURS)  # +$36.50
    # the high end: the KMS rotations ($2) and the personal stacks' shared ALB ($23.73) dev hosts
    assert headline(change) == "$189.93–$215.65 → $226.43–$252.15 per month (+$36.50)"
    rows = {(r.name, r.billed): r for r in change.rows() if abs(r.delta_low) > 0.004}
    assert rows[("dev-nat-us-east-1b", "NAT gateway hours")].delta_low == pytest.approx(32.85)
    assert rows[("dev-nat-us-east-1b", "public IPv4 address")].delta_low == pytest.approx(3.65)
    assert rows[("dev-nat-us-east-1a", "NAT data processed")].delta_low == pytest.approx(-0.45)  # 20 GB over 2 now
    assert rows[("dev-nat-us-east-1b", "NAT data processed")].delta_low == pytest.approx(0.45)


def test_database_class_in_prod_and_multi_az_in_dev(prod: list[Resource]) -> None:
    """The issue's example, as the program allows it: prod must stay Multi-AZ, so db.t4g.small -> db.m7g.large
    there; and dev going from its single-AZ db.t4g.micro to a Multi-AZ db.m7g.large."""
    costs = load_project(ROOT)
    small = _synth("prod", dbInstanceClass="db.t4g.small")
    change = CostChange(after=estimate(prod, stack="prod", region="us-east-1", project=costs),
                        before=estimate(small, stack="prod", region="us-east-1", project=costs))
    # db.t4g.small Multi-AZ has its own price ($0.065/h, not twice $0.032); db.m7g.large Multi-AZ is twice $0.168
    assert change.delta_low == pytest.approx(2 * 0.168 * HOURS - 0.065 * HOURS)  # +$197.83
    assert signed_range(change.delta_low, change.delta_high) == "+$197.83"
    section = cost_markdown(change)
    assert ("| `prod-mysql` | DB instance hours | 730 h db.t4g.small (Multi-AZ) → 2 × 730 h db.m7g.large (Multi-AZ) | "
            "$47.45 → $245.28 | +$197.83 |") in section
    big = _synth("dev", dbInstanceClass="db.m7g.large", dbMultiAz="true")
    dev_change = CostChange(after=estimate(big, stack="dev", region="us-east-1", project=costs),
                            before=estimate(_synth("dev"), stack="dev", region="us-east-1", project=costs))
    instance = 2 * 0.168 * HOURS - 0.016 * HOURS  # $245.28 - $11.68
    storage = 20 * 2 * 0.115 - 20 * 0.115  # the standby's copy of 20 GB
    assert dev_change.delta_low == pytest.approx(instance + storage)
    assert signed_range(dev_change.delta_low, dev_change.delta_high) == "+$235.90"


def test_a_personal_stack_ranges_from_spare_room_to_a_node_of_its_own() -> None:
    est = estimate(_synth("dev-alice"), stack="dev-alice", region="us-east-1", project=load_project(ROOT))
    (compute,) = [x for x in est.lines if x.billed.startswith("node compute")]
    # no node pool of its own: the shared cluster's pool allows every family of the table; Ghost (100m, 512Mi)
    # fits a t4g.medium
    assert (compute.low, compute.high) == pytest.approx((0.0, 0.0336 * 1.12 * HOURS + 80 * 0.08))
    (lb,) = [x for x in est.lines if x.billed == "load balancer"]
    assert lb.low == lb.high == 0 and "billed there" in lb.note  # dev's shared ALB group


def _res(type_: str, name: str, **inputs: object) -> Resource:
    return Resource(f"urn:pulumi:s::p::{type_}::{name}", type_, name, inputs)


def test_usage_is_never_silently_zero_and_unknown_types_are_not_priced() -> None:
    resources = [_res("aws:ec2/natGateway:NatGateway", "nat"), _res("aws:sqs/queue:Queue", "jobs"),
                 _res("acme:index:Widget", "w")]
    est = estimate(resources, stack="x", region="us-east-1", project=ProjectCosts())
    assert est.low == pytest.approx(0.045 * HOURS)
    assert [x.billed for x in est.usage_open] == ["NAT data processed"]
    assert {x.name for x in est.unpriced} == {"jobs", "w"}
    table = estimate_table(est)
    assert "depends on usage: $0.045 per GB processed" in table
    assert "plus 2 charge(s) not priced: jobs (aws:sqs/queue:Queue: the price table does not know this type" in table
    doc = est.to_json()
    assert doc["unpriced"] == 2 and doc["usage_not_assumed"] == 1
    # a region the table does not have: every AWS line is unpriced, saying why
    far = estimate(resources[:1], stack="x", region="ap-south-2", project=ProjectCosts())
    assert far.low == 0 and far.unpriced[0].note == "no prices for region ap-south-2 in automation/prices/aws.yaml"


def test_the_price_tables_day_is_the_regions_and_none_without_prices() -> None:
    nat = [_res("aws:ec2/natGateway:NatGateway", "nat")]
    assert estimate(nat, stack="x", region="us-east-1", project=ProjectCosts(), on=ON).table_as_of == \
        load_table().regions["us-east-1"].instances.as_of
    for region in (None, "", "xx-nowhere-1"):
        est = estimate(nat, stack="x", region=region, project=ProjectCosts(), on=ON)
        assert est.table_as_of == "" and [x.kind for x in est.lines] == ["unpriced"], region


def test_usage_assumptions_are_a_stack_total_shared_among_the_resources_billed_for_it() -> None:
    resources = [_res("aws:ec2/natGateway:NatGateway", "a"), _res("aws:ec2/natGateway:NatGateway", "b")]
    costs = ProjectCosts(usage={"prod": {"nat_gateway_gb": 100}, "dev-*": {"nat_gateway_gb": 1}})
    est = estimate(resources, stack="prod", region="us-east-1", project=costs)
    data = [x for x in est.lines if x.billed == "NAT data processed"]
    assert [x.quantity for x in data] == ["50 of 100 (assumed in costs.yaml)"] * 2
    assert est.low == pytest.approx(2 * 0.045 * HOURS + 100 * 0.045)
    assert costs.usage_for("dev-alice") == {"nat_gateway_gb": 1} and costs.usage_for("staging") == {}


def test_packing_picks_the_cheapest_type_and_the_range_ends_at_a_node_per_pod() -> None:
    pool = _res("kubernetes:karpenter.sh/v1:NodePool", "pool", spec={"template": {"spec": {"requirements": [
        {"key": "eks.amazonaws.com/instance-category", "operator": "In", "values": ["m"]},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}]}}})
    web = _res("kubernetes:apps/v1:Deployment", "web", spec={"replicas": 3, "template": {"spec": {"containers": [
        {"name": "web", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}})
    est = estimate([pool, web], stack="x", region="us-east-1", project=ProjectCosts())
    (compute,) = [x for x in est.lines if x.kind != "free"]
    # m7g.large: 2 vCPU, 8 GiB, less 100m and 800 MiB reserved: three pods (1.5 vCPU, 3 GiB) fit one node
    one = 0.0816 * 1.12 * HOURS + 80 * 0.08
    assert (compute.low, compute.high) == pytest.approx((one, 3 * one))
    assert compute.quantity == "1 × m7g.large packed; ≤ 3 node(s)" and compute.price is not None
    assert compute.price.key == "instances.m7g.large"


def test_project_file_errors_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "costs.yaml").write_text("usage:\n  prod:\n    nat_gateway_gb: -1\n")
    with pytest.raises(ConfigError, match=r"costs.yaml: usage.prod.nat_gateway_gb must be a number ≥ 0"):
        load_project(tmp_path)
    (tmp_path / "costs.yaml").write_text("prices:\n  - match: x\n    usd: 1\n")
    with pytest.raises(ConfigError, match=r"costs.yaml: prices\[0\]: Object missing required field `billed`"):
        load_project(tmp_path)
    (tmp_path / "costs.yaml").write_text("usgae: {}\n")
    with pytest.raises(ConfigError, match=r"costs.yaml: unknown key `usgae`: did you mean `usage`\?"):
        load_project(tmp_path)
    # a misspelt usage key would leave its charge unassumed and change the total without a word (issue 27)
    (tmp_path / "costs.yaml").write_text("usage:\n  dev:\n    nat_gatway_gb: 20\n")
    with pytest.raises(ConfigError, match=r"usage.dev.nat_gatway_gb is not a usage key: did you mean `nat_gateway_gb`\?"):
        load_project(tmp_path)
    (tmp_path / "costs.yaml").write_text("usage:\n  dev:\n    nat_gateway_gb: lots\n")
    with pytest.raises(ConfigError, match=r"usage.dev.nat_gateway_gb must be a number ≥ 0 \(a monthly quantity\), not 'lots'"):
        load_project(tmp_path)
    (tmp_path / "costs.yaml").write_text("prices:\n  - match: x\n    billed: y\n    usd: 1\n    unit: u\n    source: s\n"
                                         "    as_of: '2026-01-01'\n    quantiy: size_gb\n")
    with pytest.raises(ConfigError, match=r"prices\[0\].quantiy is not a price field: did you mean `quantity`\?"):
        load_project(tmp_path)


def test_every_usage_charge_of_the_estimate_is_a_usage_key_costs_yaml_may_assume() -> None:
    """USAGE_KEYS (what costs.yaml may name) is exactly the keys the estimate bills by usage, each a table price."""
    import re

    from automation.config.prices import USAGE_KEYS, load_table

    source = (ROOT / "automation" / "review" / "cost.py").read_text()
    billed = set(re.findall(r'usage_line\(res, "[^"]*", "([a-z_]+)"', source))
    assert billed == set(USAGE_KEYS)
    prices = load_table().regions["us-east-1"].prices
    assert set(USAGE_KEYS) <= set(prices)


def test_custom_prices_use_an_input_as_the_quantity() -> None:
    costs = load_project(FIXTURE_PROJECT)
    db = _res("pulumi-python:dynamic:Resource", "database", size_gb=40)
    plain = _res("pulumi-python:dynamic:Resource", "settings")
    est = estimate([db, plain], stack="dev", region=None, project=costs)
    (line,) = [x for x in est.lines if x.kind == "fixed"]
    assert line.low == pytest.approx(40 * 0.5) and line.price is not None and line.price.source
    assert not est.unpriced


def test_budget_and_the_cost_command(tmp_path: Path) -> None:
    after = estimate([_res("aws:ec2/natGateway:NatGateway", "nat")], stack="x", region="us-east-1")
    assert after.high == pytest.approx(32.85)
    assert CostChange(after=after, budget=30).over_budget and CostChange(after=after, budget=30).crosses_budget
    assert not CostChange(after=after, before=after, budget=20).crosses_budget  # over, but this change adds nothing
    assert not CostChange(after=after, budget=40).over_budget
    out, err = io.StringIO(), io.StringIO()
    assert main(["cost", "--stack", "prod", "--format", "json"], environ={"PATH": os.environ["PATH"]}, out=out, err=err) == 0
    doc = json.loads(out.getvalue())
    assert doc["command"] == "cost" and doc["monthly_usd"] == {"low": 539.72, "high": 541.72}
    assert doc["budget_monthly_usd"] == 700 and doc["over_budget"] is False
    out = io.StringIO()
    assert main(["cost", "--stack", "nope"], environ={"PATH": os.environ["PATH"]}, out=out, err=err) == 2
    assert "nope" in err.getvalue()


def test_cost_section_golden() -> None:
    before = [_res("aws:ec2/natGateway:NatGateway", "nat-a"), _res("aws:ec2/eip:Eip", "nat-a"),
              _res("aws:rds/instance:Instance", "db", engine="mysql", instanceClass="db.t4g.small", multiAz=False,
                   allocatedStorage=20, storageType="gp3")]
    after = [*before[:2], _res("aws:ec2/natGateway:NatGateway", "nat-b"), _res("aws:ec2/eip:Eip", "nat-b"),
             _res("aws:rds/instance:Instance", "db", engine="mysql", instanceClass="db.m7g.large", multiAz=True,
                  allocatedStorage=20, storageType="gp3")]
    costs = ProjectCosts(usage={"prod": {"nat_gateway_gb": 100}})
    change = CostChange(after=estimate(after, stack="prod", region="us-east-1", project=costs),
                        before=estimate(before, stack="prod", region="us-east-1", project=costs), budget=300)
    outcome = Outcome(stack="prod", operation="preview", succeeded=True, counts={"update": 1, "create": 2, "same": 2})
    text = render_markdown(Report(stack="prod", operation="preview", status=Status.SUCCEEDED, reason="pull request #9",
                                  outcome=outcome, commit="e" * 40, cost=change))
    path = GOLDEN / "preview_with_cost.md"
    check_golden(path, text)
    # hand-worked: +1 NAT gateway (32.85) +1 address (3.65), db 0.032 -> 2 x 0.168 per hour, storage 20 GB x 1 -> x 2
    delta = 32.85 + 3.65 + (2 * 0.168 - 0.032) * HOURS + 20 * 0.115
    assert change.delta_low == pytest.approx(delta)
    assert f"(+{money_range(delta, delta)})" in text
    assert "[!CAUTION]" in text.split("#### 💰")[0]  # over the budget: said at the top


def test_ingresses_of_one_group_share_one_load_balancer_and_a_load_balancer_service_is_an_nlb() -> None:
    klass = _res("kubernetes:networking.k8s.io/v1:IngressClass", "cls", metadata={"name": "shared"},
                 spec={"controller": "eks.amazonaws.com/alb", "parameters": {"name": "shared-params"}})
    params = _res("kubernetes:eks.amazonaws.com/v1:IngressClassParams", "params", metadata={"name": "shared-params"},
                  spec={"scheme": "internet-facing", "group": {"name": "team"}, "subnets": {"ids": ["a", "b"]}})
    first = _res("kubernetes:networking.k8s.io/v1:Ingress", "blog", spec={"ingressClassName": "shared"})
    second = _res("kubernetes:networking.k8s.io/v1:Ingress", "docs", spec={"ingressClassName": "shared"})
    nlb = _res("kubernetes:core/v1:Service", "tcp", spec={"type": "LoadBalancer"})
    internal = _res("kubernetes:core/v1:Service", "web", spec={"type": "ClusterIP"})
    est = estimate([klass, params, first, second, nlb, internal], stack="x", region="us-east-1", project=ProjectCosts())
    billed = {(x.name, x.billed): x for x in est.lines if x.kind != "free"}
    assert billed[("blog", "application load balancer hours")].low == pytest.approx(0.0225 * HOURS)
    assert billed[("blog", "load balancer public IPv4 addresses")].low == pytest.approx(2 * 0.005 * HOURS)
    assert billed[("docs", "load balancer")].low == 0 and "shares the load balancer of group 'team' with blog" in \
        billed[("docs", "load balancer")].note
    assert billed[("tcp", "network load balancer hours")].low == pytest.approx(0.0225 * HOURS)
    assert ("web", "network load balancer hours") not in billed
    assert est.low == pytest.approx(0.0225 * HOURS + 2 * 0.005 * HOURS + 0.0225 * HOURS)


def test_the_shared_personal_load_balancer_is_billed_to_the_stack_that_declares_its_class() -> None:
    """dev declares the `alb-personal` class (group ghost-personal) that personal stacks' ingresses use: their one
    shared ALB is dev's, from $0 (no personal stack) to one ALB with its public IPv4 addresses."""
    project = load_project(ROOT)
    dev = [Resource(r.urn, r.type, r.name, r.inputs) for r in synthesize(ROOT, load_stack_config(ROOT, "dev")).resources]
    est = estimate(dev, stack="dev", region="us-east-1", project=project, hosts_others=True)
    (shared,) = [x for x in est.lines if x.billed.startswith("shared load balancer")]
    assert (shared.low, shared.high) == pytest.approx((0.0, (0.0225 + 2 * 0.005) * HOURS))
    assert "group 'ghost-personal'" in shared.note
    unknown = estimate(dev, stack="dev", region="us-east-1", project=project)
    assert [x.high for x in unknown.lines if x.billed.startswith("shared load balancer")] == [shared.high]
    alone = estimate(dev, stack="dev", region="us-east-1", project=project, hosts_others=False)
    assert not [x for x in alone.lines if x.billed.startswith("shared load balancer")]
    assert alone.high == pytest.approx(est.high - shared.high)
    # the personal stack itself adds $0 for it: its ingress says so
    personal = [Resource(r.urn, r.type, r.name, r.inputs)
                for r in synthesize(ROOT, load_stack_config(ROOT, "dev-alice")).resources]
    mine = estimate(personal, stack="dev-alice", region="us-east-1", project=project)
    (lb,) = [x for x in mine.lines if x.billed == "load balancer"]
    assert lb.high == 0 and "billed there" in lb.note


def test_a_personal_stacks_compute_comes_from_the_shared_pools_families_and_open_usage_is_null_in_json() -> None:
    personal = [Resource(r.urn, r.type, r.name, r.inputs)
                for r in synthesize(ROOT, load_stack_config(ROOT, "dev-alice")).resources]
    est = estimate(personal, stack="dev-alice", region="us-east-1", project=load_project(ROOT))
    (compute,) = [x for x in est.lines if x.billed == "node compute (Auto Mode)"]
    t4g = 0.0336 * (1 + 0.12) * HOURS + NODE.root_volume_gib * 0.08  # the cheapest node that fits: t4g.medium
    assert (compute.low, compute.high) == pytest.approx((0.0, t4g))
    assert compute.price is not None and compute.price.key == "instances.t4g.medium"
    doc = estimate(_synth("dev"), stack="dev", region="us-east-1", project=load_project(ROOT)).to_json()
    open_usage = [x for x in doc["lines"] if x["kind"] == "usage" and not x["quantity"]]
    assert open_usage and all(x["monthly_usd"] is None and "depends on usage" in x["note"] for x in open_usage)


# -- which instance types a node pool allows (cost_nodes._candidates; mutation testing found it untested: the
#    program's pools allow c, m and r, the same as Auto Mode's default, so no synth told a pool's requirements apart)

def _ctx(reverse_table: bool = False) -> PricingContext:
    """A pricing context in us-east-1 (``reverse_table``: its instance types listed in reverse order)."""
    table = load_table()
    region = table.regions["us-east-1"]
    if reverse_table:
        types = dict(reversed(region.instances.types.items()))
        region = msgspec.structs.replace(region, instances=msgspec.structs.replace(region.instances, types=types))
    return PricingContext(stack="x", region=region, region_name="us-east-1", hours=table.hours_per_month,
                          project=ProjectCosts(), usage={}, resources=(), on=dt.date(2026, 12, 3), lifecycle=lifecycle.load())


def _pool(*requirements: object) -> Resource:
    return _res(NODE_POOL, "pool", spec={"template": {"spec": {"requirements": list(requirements)}}})


def _names(found: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in found]


ALL_TYPES = sorted(load_table().regions["us-east-1"].instances.types.items(), key=lambda x: (x[1].usd, x[0]))


def test_a_pod_fits_a_node_up_to_its_allocatable_cpu_and_memory_exactly() -> None:
    """Allocatable = the type's vCPUs and memory less what the node reserves (aws.yaml: node.reserved_*)."""
    ctx = _ctx()
    assert ctx.region is not None
    inst, node = ctx.region.instances.types["m7g.large"], ctx.region.node
    cpu, mem = inst.vcpu * 1000 - node.reserved_cpu_m, inst.memory_gib * 1024 - node.reserved_memory_mib
    assert (cpu, mem) == (1900, 7392)  # 2 vCPUs, 8 GiB less 100 m and 800 MiB
    assert _fits(ctx, inst, cpu, mem)
    assert not _fits(ctx, inst, cpu + 1, mem) and not _fits(ctx, inst, cpu, mem + 1)


def test_packing_adds_each_pods_requests_to_a_node_and_places_the_largest_first() -> None:
    """First-fit decreasing on m7g.large (1,900 m and 7,392 MiB allocatable), worked by hand."""
    ctx = _ctx()
    assert ctx.region is not None
    inst = ctx.region.instances.types["m7g.large"]
    assert _pack(ctx, inst, [Pod(800, 100)] * 3) == 2  # 800 + 800 fit, a third does not: CPU adds up on a node
    assert _pack(ctx, inst, [Pod(100, 3000)] * 3) == 2  # 6,000 MiB fit, 9,000 do not: memory adds up too
    assert _pack(ctx, inst, [Pod(100, 3000)] * 2) == 1 and _pack(ctx, inst, []) == 0
    # largest first: 3,700 + 1,800 + 1,800 twice is two nodes; smallest first would need three (7,200, 3,700, 3,700)
    assert _pack(ctx, inst, [Pod(10, 1800)] * 4 + [Pod(10, 3700)] * 2) == 2
    assert _pack(ctx, inst, [Pod(1901, 100)]) is None  # a pod that fits no node of the type


def test_two_types_that_cost_the_same_packed_are_chosen_by_name_whatever_the_tables_order() -> None:
    """Two pods of 1,500 m and 6,000 MiB: one a1.small each ($0.05/h) or both on one z1.large ($0.10/h) cost exactly
    the same (no root volume here, so the tie is exact); the name decides, never the table's order or the count."""
    table = load_table()
    region = table.regions["us-east-1"]
    types = {"z1.large": Instance(category="m", arch="arm64", vcpu=4, memory_gib=16, usd=0.10),
             "a1.small": Instance(category="m", arch="arm64", vcpu=2, memory_gib=8, usd=0.05)}
    app = _deployment("app", {"name": "app", "resources": {"requests": {"cpu": "1500m", "memory": "6000Mi"}}}, replicas=2)
    chosen = []
    for order in (types, dict(reversed(types.items()))):
        tied = msgspec.structs.replace(region, instances=msgspec.structs.replace(region.instances, types=order),
                                       node=msgspec.structs.replace(region.node, root_volume_gib=0))
        est = estimate([app], stack="x", region="us-east-1", project=ProjectCosts(), on=ON,
                       table=msgspec.structs.replace(table, regions={"us-east-1": tied}))
        chosen += [x.quantity for x in est.lines if x.billed == "node compute (Auto Mode)"]
    assert chosen == ["2 × a1.small packed; ≤ 2 node(s)"] * 2


def test_without_a_pool_auto_modes_general_purpose_pool_decides_and_a_shared_cluster_allows_every_type() -> None:
    general = _candidates(_ctx(), None)
    assert {i.category for _, i in general} == {"c", "m", "r"}
    assert general == [(n, i) for n, i in ALL_TYPES if i.category in "cmr"]  # cheapest first, then by name
    assert _candidates(_ctx(), None, shared=True) == ALL_TYPES  # t types too: the shared cluster's pools decide


@pytest.mark.parametrize(("requirement", "expected"), [
    ({"key": "eks.amazonaws.com/instance-category", "operator": "In", "values": ["t"]},
     ["t4g.medium", "t3.medium", "t4g.large", "t3.large", "t4g.xlarge", "t3.xlarge"]),
    ({"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]},
     [n for n, i in ALL_TYPES if i.arch == "arm64"]),
    ({"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m6i.large", "m5.large", "c7i.large"]},
     ["c7i.large", "m5.large", "m6i.large"]),  # m5 and m6i cost the same: by name
])
def test_a_pools_in_requirement_limits_the_types(requirement: dict[str, Any], expected: list[str]) -> None:
    assert _names(_candidates(_ctx(), _pool(requirement))) == expected
    assert _names(_candidates(_ctx(), _pool(requirement), shared=True)) == expected  # a pool's own rules win
    # the order is the price, then the name, never the table's order (m5.large and m6i.large: same price, same sizes)
    assert _names(_candidates(_ctx(reverse_table=True), _pool(requirement))) == expected


def test_requirements_combine_and_only_in_with_a_list_counts() -> None:
    arm_m = [{"key": "eks.amazonaws.com/instance-category", "operator": "In", "values": ["m"]},
             {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}]
    assert _names(_candidates(_ctx(), _pool(*arm_m))) == ["m7g.large", "m7g.xlarge"]
    # NotIn, a value that is not a list, and an entry that is not a mapping do not narrow the types: a pool with only
    # those allows every type of the table (Auto Mode's default applies only without a pool)
    loose = [{"key": "eks.amazonaws.com/instance-category", "operator": "NotIn", "values": ["t"]},
             {"key": "kubernetes.io/arch", "operator": "In", "values": "arm64"}, "category=m"]
    assert _candidates(_ctx(), _pool(*loose)) == ALL_TYPES
    assert _candidates(_ctx(), _pool()) == ALL_TYPES


def test_an_eks_component_with_its_cluster_child_is_priced_once_on_the_child() -> None:
    """On the real CLI, pulumi-eks' Cluster is a remote component: its own registration carries no inputs and its
    aws:eks/cluster:Cluster child carries the version and logs. The control plane is billed once, on the child; under
    the mock runtime (no child) the component's own inputs are priced."""
    child = _res("aws:eks/cluster:Cluster", "dev-eks-eksCluster", version="1.35",
                 enabledClusterLogTypes=["api", "audit"])
    component = _res("eks:index:Cluster", "dev-eks")
    on = dt.date(2026, 12, 2)
    est = estimate([component, child], stack="dev", region="us-east-1", project=ProjectCosts(), on=on)
    by_name = {(x.name, x.billed): x for x in est.lines}
    assert set(by_name) == {("dev-eks", "nothing"), ("dev-eks-eksCluster", "EKS cluster hours"),
                            ("dev-eks-eksCluster", "control plane logs ingestion")}
    assert by_name[("dev-eks", "nothing")].note == "priced on its aws:eks/cluster:Cluster child"
    hours = by_name[("dev-eks-eksCluster", "EKS cluster hours")]
    assert (hours.low, hours.high) == pytest.approx((_usd("eks_cluster_standard") * HOURS,) * 2)
    assert by_name[("dev-eks-eksCluster", "control plane logs ingestion")].note == "2 log types to CloudWatch"
    # the mock runtime's shape: the component alone, with the inputs it was given
    alone = estimate([_res("eks:index:Cluster", "dev-eks", version="1.35", enabledClusterLogTypes=["api"])],
                     stack="dev", region="us-east-1", project=ProjectCosts(), on=on)
    assert [(x.billed, x.kind) for x in alone.lines] == [("EKS cluster hours", "fixed"),
                                                        ("control plane logs ingestion", "usage")]
    assert alone.lines[1].note == "1 log type to CloudWatch"
    # log types not known yet (an output of another resource): the line, without a count
    unknown = estimate([_res("eks:index:Cluster", "dev-eks", version="1.35", enabledClusterLogTypes="[unknown]")],
                       stack="dev", region="us-east-1", project=ProjectCosts(), on=on)
    assert [(x.billed, x.note) for x in unknown.lines][1] == ("control plane logs ingestion", "")
    # a child alone (another component's cluster, or none) is priced too; no logs, no log line
    (only,) = estimate([_res("aws:eks/cluster:Cluster", "dev-eks-eksCluster", version="1.35")], stack="dev",
                       region="us-east-1", project=ProjectCosts(), on=on).lines
    assert only.billed == "EKS cluster hours"


# -- the edges of each handler: what is billed, what is not priced and why (each line a mutant would change) ---------
ON = dt.date(2026, 12, 2)


def _one(resources: list[Resource], **kw: Any) -> list[tuple[str, str, str, float, float, str]]:
    est = estimate(resources, stack=kw.pop("stack", "x"), region=kw.pop("region", "us-east-1"),
                   project=kw.pop("project", ProjectCosts()), on=kw.pop("on", ON), **kw)
    return [(x.name, x.billed, x.kind, round(x.low, 4), round(x.high, 4), x.note) for x in est.lines]


def test_custom_prices_default_quantity_hourly_and_a_quantity_that_is_not_a_number() -> None:
    def price(**kw: Any) -> CustomPrice:
        return CustomPrice(match="acme:index:Disk*", billed="disk", usd=0.5, unit="GB-month", source="test", as_of="2026-12-01", **kw)

    sized = ProjectCosts(prices=(price(quantity="sizeGb", default_quantity=10),))
    assert _one([_res("acme:index:Disk", "d1")], project=sized) == [("d1", "disk", "fixed", 5.0, 5.0, "")]
    assert _one([_res("acme:index:Disk", "d2", sizeGb=40)], project=sized) == [("d2", "disk", "fixed", 20.0, 20.0, "")]
    assert _one([_res("acme:index:Disk", "d3", sizeGb="big")], project=sized) == [
        ("d3", "disk", "unpriced", 0.0, 0.0, "input sizeGb is 'big': not a number (costs.yaml)")]
    strict = ProjectCosts(prices=(price(quantity="sizeGb"),))
    assert _one([_res("acme:index:Disk", "d4")], project=strict) == [
        ("d4", "disk", "unpriced", 0.0, 0.0, "input sizeGb is None: not a number (costs.yaml)")]
    hourly = ProjectCosts(prices=(price(hourly=True),))
    (line,) = estimate([_res("acme:index:Disk", "d5")], stack="x", region=None, project=hourly, on=ON).lines
    assert (line.low, line.quantity, line.price.key if line.price else None) == (0.5 * HOURS, "1 GB-month",
                                                                                "costs.yaml: acme:index:Disk*")
    # a name glob (type::name) matches, the first matching price wins, and declared-free types bill nothing
    named = ProjectCosts(prices=(CustomPrice(match="acme:index:Disk::big-*", billed="big disk", usd=2, unit="disk",
                                             source="t", as_of="2026-12-01"), price()),
                         free=("acme:index:Free*",))
    assert _one([_res("acme:index:Disk", "big-1"), _res("acme:index:Disk", "small"), _res("acme:index:Free", "f")],
                project=named) == [("big-1", "big disk", "fixed", 2.0, 2.0, ""), ("small", "disk", "fixed", 0.5, 0.5, ""),
                                   ("f", "nothing", "free", 0.0, 0.0, "declared free in costs.yaml")]


def test_providers_and_free_types_bill_nothing_and_say_why() -> None:
    assert _one([_res("pulumi:providers:aws", "default"), _res("aws:ec2/flowLog:FlowLog", "flow"),
                 _res("kubernetes:batch/v1:CronJob", "backup"), _res("aws:ec2/vpc:Vpc", "vpc")]) == [
        ("default", "nothing", "free", 0.0, 0.0, ""),
        ("flow", "nothing", "free", 0.0, 0.0, "its records are billed as log ingestion of its log group"),
        ("backup", "nothing", "free", 0.0, 0.0, "runs now and then: not estimated"),
        ("vpc", "nothing", "free", 0.0, 0.0, "")]
    # a Kubernetes type the model does not price, outside AWS: not priced, saying how to fix it
    assert _one([_res("kubernetes:core/v1:Pod", "p")]) == [
        ("p", "kubernetes:core/v1:Pod", "unpriced", 0.0, 0.0,
         "no price known for this type: price it or declare it free in costs.yaml")]
    # AWS types without a region: not priced, naming the missing config
    assert _one([_res("aws:kms/key:Key", "k")], region=None) == [
        ("k", "aws:kms/key:Key", "unpriced", 0.0, 0.0, "no aws:region in the stack's config: no prices to look up")]


def test_kms_keys_with_and_without_rotation() -> None:
    month, rotation = _usd("kms_key_month"), _usd("kms_rotation_month")
    assert _one([_res("aws:kms/key:Key", "plain")]) == [
        ("plain", "KMS key", "fixed", month, month, ""), ("plain", "KMS requests", "usage", 0.0, 0.0, "")]
    assert _one([_res("aws:kms/key:Key", "rotating", enableKeyRotation=True)]) == [
        ("rotating", "KMS key", "fixed", month, month, ""),
        ("rotating", "KMS key rotations", "fixed", 0.0, round(2 * rotation, 4),
         "automatic yearly rotation: +$1/month after the first year, +$2 from the second"),
        ("rotating", "KMS requests", "usage", 0.0, 0.0, "")]


def test_log_groups_say_how_long_they_keep_logs() -> None:
    assert _one([_res("aws:cloudwatch/logGroup:LogGroup", "a", retentionInDays=30),
                 _res("aws:cloudwatch/logGroup:LogGroup", "b")]) == [
        ("a", "log ingestion", "usage", 0.0, 0.0, ""), ("a", "log storage", "usage", 0.0, 0.0, "kept 30 days"),
        ("b", "log ingestion", "usage", 0.0, 0.0, ""), ("b", "log storage", "usage", 0.0, 0.0, "kept forever")]


def test_a_database_the_table_cannot_price_says_which_part_and_why() -> None:
    base = {"engine": "mysql", "instanceClass": "db.t4g.small", "allocatedStorage": 20, "storageType": "gp3"}
    lines = _one([_res("aws:rds/instance:Instance", "pg", **{**base, "engine": "postgres"})])
    assert lines[0] == ("pg", "DB instance hours", "unpriced", 0.0, 0.0,
                        "engine 'postgres': only RDS for MySQL is in the price table")
    assert lines[1][:3] == ("pg", "DB storage", "fixed")  # the storage is still priced
    lines = _one([_res("aws:rds/instance:Instance", "big", **{**base, "instanceClass": "db.r7g.16xlarge"})])
    assert lines[0] == ("big", "DB instance hours", "unpriced", 0.0, 0.0,
                        "instance class 'db.r7g.16xlarge' is not in the price table (rds_mysql)")
    lines = _one([_res("aws:rds/instance:Instance", "nosize", **{**base, "allocatedStorage": "[unknown]"})])
    assert ("nosize", "DB storage", "unpriced", 0.0, 0.0, "allocatedStorage is '[unknown]'") in lines
    lines = _one([_res("aws:rds/instance:Instance", "io", **{**base, "storageType": "io2"})])
    assert ("io", "DB storage", "unpriced", 0.0, 0.0, "storage type 'io2' is not in the price table") in lines
    # gp2 is RDS's default storage type; Multi-AZ stores two copies; autoscaling's ceiling is a note
    lines = _one([_res("aws:rds/instance:Instance", "auto", **{**base, "storageType": None, "multiAz": True,
                                                              "maxAllocatedStorage": 100})])
    storage = [x for x in lines if x[1] == "DB storage"]
    gp2 = _usd("rds_gp2_gb")
    assert storage == [("auto", "DB storage", "fixed", round(20 * 2 * gp2, 4), round(20 * 2 * gp2, 4),
                        f"storage autoscaling may grow it to 100 GB as data grows: ${100 * 2 * gp2:,.2f} at most")]


def test_rds_extended_support_edges() -> None:
    base = {"engine": "mysql", "instanceClass": "db.t4g.small", "allocatedStorage": 20, "storageType": "gp3"}

    def extended(on: dt.date, **inputs: Any) -> list[tuple[str, str, str, float, float, str]]:
        return [x for x in _one([_res("aws:rds/instance:Instance", "db", **{**base, **inputs})], on=on)
                if x[1] == "RDS Extended Support"]

    assert extended(ON, engineVersion="5.7") == [
        ("db", "RDS Extended Support", "unpriced", 0.0, 0.0,
         "RDS for MySQL 5.7: not in the version support table (automation/prices/lifecycle.yaml): whether extended support is billed is not known")]
    # 8.4 is years from its end: nothing; 8.0 within the warning window before its end: a zero line that warns
    assert extended(ON, engineVersion="8.4.3") == []
    (warn,) = extended(dt.date(2026, 6, 25), engineVersion="8.0.40")
    assert warn[:5] == ("db", "RDS Extended Support", "fixed", 0.0, 0.0)
    assert warn[5].startswith("standard support of MySQL 8.0 ends on 2026-07-31 (in 36 days): ")
    assert extended(dt.date(2026, 4, 1), engineVersion="8.0.40") == []  # 121 days ahead: past the warning window
    # the window's edge: 90 days ahead warns, 91 does not; the warning line in full
    res = _res("aws:rds/instance:Instance", "db", **{**base, "engineVersion": "8.0.40"})
    (edge,) = [x for x in estimate([res], stack="x", region="us-east-1", project=ProjectCosts(),
                                   on=dt.date(2026, 5, 2)).lines if x.billed == "RDS Extended Support"]
    assert (edge.urn, edge.type, edge.kind, edge.quantity, edge.price) == (res.urn, res.type, "fixed", "none yet", None)
    assert edge.note.startswith("standard support of MySQL 8.0 ends on 2026-07-31 (in 90 days): ")
    assert extended(dt.date(2026, 5, 1), engineVersion="8.0.40") == []
    # a month that crosses the end (730 h from July 1st run 10 h past July 31st): $0 if upgraded before, else 10 h
    (crossing,) = extended(dt.date(2026, 7, 1), engineVersion="8.0.40")
    assert crossing[2:5] == ("fixed", 0.0, round(0.1 * 2 * 10, 4)) and "leaves standard support on 2026-07-31" in crossing[5]
    off = _res("aws:rds/instance:Instance", "db", **{**base, "engineVersion": "8.0.40",
                                                     "engineLifecycleSupport": "open-source-rds-extended-support-disabled"})
    (disabled,) = [x for x in estimate([off], stack="x", region="us-east-1", project=ProjectCosts(), on=ON).lines
                   if x.billed == "RDS Extended Support"]
    assert (disabled.urn, disabled.type, disabled.name, disabled.kind, disabled.quantity, disabled.low, disabled.high,
            disabled.price) == (off.urn, off.type, "db", "fixed", "disabled", 0.0, 0.0, None)
    assert disabled.note == ("MySQL 8.0 left standard support on 2026-07-31: extended support is disabled, so RDS "
                             "upgrades the major version itself")
    (billed,) = extended(ON, engineVersion="8.0.40", multiAz=True)
    assert billed[3:5] == (round(0.1 * 2 * 2 * HOURS, 4),) * 2  # 2 vCPUs, the standby too, $0.10 in year 1
    # the billed line in full: what it bills, the price with its source and the day it was checked
    (line,) = [x for x in estimate([res], stack="x", region="us-east-1", project=ProjectCosts(), on=ON).lines
               if x.billed == "RDS Extended Support"]
    table = lifecycle.load()
    pricing = table.rds_mysql.extended_pricing
    assert (line.urn, line.type, line.name, line.kind, line.quantity) == (res.urn, res.type, "db", "fixed", "2 vCPU × 1 × 730 h")
    assert line.price == Price(usd=0.1, unit="vCPU-hour (year 1 of extended support)", source=pricing.source,
                               as_of=str(table.checked), checked=pricing.checked, key="rds_extended_support.year1")
    assert line.note == "MySQL 8.0 left standard support on 2026-07-31; upgrade to 8.4 to stop the charge"
    # past the end, on a class the table prices but whose vCPUs it does not list: unpriced, saying so
    prices = load_table()
    region = prices.regions["us-east-1"]
    rds = msgspec.structs.replace(region.rds_mysql, classes={**region.rds_mysql.classes, "db.x9.huge": 1.0})
    prices = msgspec.structs.replace(prices, regions={"us-east-1": msgspec.structs.replace(region, rds_mysql=rds)})
    odd = _res("aws:rds/instance:Instance", "db", **{**base, "engineVersion": "8.0.40", "instanceClass": "db.x9.huge"})
    (unknown,) = [x for x in estimate([odd], stack="x", region="us-east-1", project=ProjectCosts(), on=ON,
                                      table=prices).lines if x.billed == "RDS Extended Support"]
    assert (unknown.urn, unknown.type, unknown.name, unknown.kind, unknown.note) == (
        odd.urn, odd.type, "db", "unpriced", "vCPUs of 'db.x9.huge' are not in the price table (rds_mysql.vcpu)")


def _deployment(name: str, *containers: dict[str, Any], replicas: Any = None) -> Resource:
    spec: dict[str, Any] = {"template": {"spec": {"containers": list(containers)}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return _res("kubernetes:apps/v1:Deployment", name, spec=spec)


def _node(usd: float) -> float:
    return usd * (1 + _usd("eks_auto_mode_fee")) * HOURS + NODE.root_volume_gib * _usd("ebs_gp3_gb")


def test_compute_packs_requests_limits_and_replicas_and_says_what_it_assumed() -> None:
    pool = _res(NODE_POOL, "pool", spec={"template": {"spec": {"requirements": [
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m7g.large", "m7g.xlarge"]}]}}})
    web = _deployment("web", {"name": "web", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}, replicas="3")
    # limits stand for absent requests; a container with neither counts as 0, and says so; no replicas: one pod
    worker = _deployment("worker", {"name": "w", "resources": {"limits": {"cpu": "1500m", "memory": "6Gi"}}},
                         {"name": "sidecar"})
    cluster = _res("eks:index:Cluster", "eks", version="1.35")
    est = estimate([cluster, pool, web, worker], stack="x", region="us-east-1", project=ProjectCosts(), on=ON)
    (compute,) = [x for x in est.lines if x.billed == "node compute (Auto Mode)"]
    # m7g.large holds 1900m and 7392 MiB: the worker and the three web pods need two; one m7g.xlarge holds them all
    # and costs less than two large ones; the high end is one m7g.large per pod
    large, xlarge = _node(0.0816), _node(0.1632)
    assert xlarge < 2 * large
    assert compute.name == "pool" and (compute.low, compute.high) == pytest.approx((xlarge, 4 * large))
    assert compute.quantity == "1 × m7g.xlarge packed; ≤ 4 node(s)"
    assert compute.note == ("Auto Mode chooses the instances; assumed: 4 pod(s) requesting 3000m CPU and 9216 MiB in "
                            "all, packed onto the cheapest on-demand type of families m the node pool allows (low), up to "
                            "one node per pod (high); worker: a container without cpu/memory requests counts as 0")
    assert compute.price is not None and compute.price.key == "instances.m7g.xlarge" and compute.price.usd == 0.1632
    assert compute.price.unit == "m7g.xlarge hour (+12% Auto Mode fee, +80 GiB gp3 root volume per node)"
    instances = load_table().regions["us-east-1"].instances
    assert (compute.urn, compute.type, compute.kind) == (pool.urn, NODE_POOL, "fixed")
    assert (compute.price.source, compute.price.as_of, compute.price.checked) == (instances.source, instances.as_of,
                                                                                  instances.checked)
    # notes of several workloads are joined one after another
    idle = _deployment("idle", {"name": "i"})
    (two,) = [x for x in estimate([pool, web, worker, idle], stack="x", region="us-east-1", project=ProjectCosts(),
                                  on=ON).lines if x.billed == "node compute (Auto Mode)"]
    assert two.note.endswith("(high); worker: a container without cpu/memory requests counts as 0; idle: a container "
                             "without cpu/memory requests counts as 0")
    # a pod no allowed type fits: the compute is not priced, on the pool, saying why
    huge = _deployment("huge", {"name": "h", "resources": {"requests": {"cpu": "1", "memory": "64Gi"}}})
    (unpriced,) = estimate([pool, huge], stack="x", region="us-east-1", project=ProjectCosts(), on=ON).unpriced
    assert (unpriced.name, unpriced.billed, unpriced.note) == (
        "pool", "node compute", "no instance type of the price table fits a pod of 1 allowed by the node pool")
    # a cluster without a pool: Auto Mode's general-purpose pool (c, m, r), billed on the cluster
    (own,) = [x for x in estimate([cluster, web], stack="x", region="us-east-1", project=ProjectCosts(), on=ON).lines
              if x.billed == "node compute (Auto Mode)"]
    assert own.name == "eks" and own.low > 0 and "families c, m, r" in own.note
    # neither (a personal stack on a shared cluster): billed on its first workload, from $0
    (shared,) = [x for x in estimate([web, worker], stack="x", region="us-east-1", project=ProjectCosts(), on=ON).lines
                 if x.billed == "node compute (Auto Mode)"]
    assert shared.name == "web" and shared.low == 0 and shared.high > 0
    assert shared.note.startswith("runs on a shared cluster's nodes: $0 if its pods fit their spare room, up to the "
                                  "nodes it would add; Auto Mode chooses the instances")
    # no workloads: no compute line at all
    assert not [x for x in estimate([cluster, pool], stack="x", region="us-east-1", project=ProjectCosts(), on=ON).lines
                if "compute" in x.billed]


def test_the_control_plane_when_its_version_is_not_known_or_not_listed_is_a_range() -> None:
    std, ext = _usd("eks_cluster_standard") * HOURS, _usd("eks_cluster_extended") * HOURS
    assert _one([_res("eks:index:Cluster", "a", version="[unknown]")]) == [
        ("a", "EKS cluster hours", "fixed", round(std, 4), round(ext, 4), "")]
    assert _one([_res("eks:index:Cluster", "b")]) == [("b", "EKS cluster hours", "fixed", round(std, 4), round(ext, 4), "")]
    (line,) = _one([_res("eks:index:Cluster", "c", version="1.20")])
    assert line[:5] == ("c", "EKS cluster hours", "fixed", round(std, 4), round(ext, 4))
    assert line[5] == "EKS Kubernetes 1.20: not in the version support table (automation/prices/lifecycle.yaml)"
    # what each line says it bills
    quantities = [x.quantity for v in ("[unknown]", "1.20") for x in estimate(
        [_res("eks:index:Cluster", "a", version=v)], stack="x", region="us-east-1", project=ProjectCosts(), on=ON).lines]
    assert quantities == ["730 h (version not known: standard to extended support)",
                          "730 h (Kubernetes 1.20: standard to extended support)"]


def test_the_control_plane_line_by_support_phase_and_the_warning_windows_edge() -> None:
    """Kubernetes 1.33 (standard support until 2026-07-29, lifecycle.yaml) on the days that decide each line."""
    std, ext = _usd("eks_cluster_standard") * HOURS, _usd("eks_cluster_extended") * HOURS
    hint = "upgrade to 1.34 (one minor at a time)"

    def line(on: dt.date, **inputs: Any) -> tuple[str, float, float, str, str]:
        (x,) = estimate([_res("eks:index:Cluster", "c", version="1.33", **inputs)], stack="x", region="us-east-1",
                        project=ProjectCosts(), on=on).lines
        assert x.price is not None
        return x.quantity, round(x.low, 4), round(x.high, 4), x.price.key, x.note

    until = "730 h (Kubernetes 1.33, standard support until 2026-07-29)"
    assert line(dt.date(2026, 4, 30)) == (until, round(std, 4), round(std, 4), "eks_cluster_standard",
                                          f"standard support ends on 2026-07-29 (in 90 days): {hint} before it")
    assert line(dt.date(2026, 4, 29)) == (until, round(std, 4), round(std, 4), "eks_cluster_standard", "")  # 91 days
    standard = (f"standard support of 1.33 ends on 2026-07-29: with upgradePolicy.supportType STANDARD, EKS upgrades "
                f"the cluster itself then (no extended support charge); {hint} before it, on your schedule")
    for on in (dt.date(2026, 7, 1), dt.date(2026, 8, 1)):  # a month that crosses the end, and one past it
        assert line(on, upgradePolicy={"supportType": "STANDARD"}) == (
            "730 h (Kubernetes 1.33, standard support)", round(std, 4), round(std, 4), "eks_cluster_standard", standard)
    assert line(dt.date(2026, 8, 1)) == (
        "730 h (Kubernetes 1.33, extended support)", round(ext, 4), round(ext, 4), "eks_cluster_extended",
        f"Kubernetes 1.33 left standard support on 2026-07-29: billed extended support (until 2027-07-29); {hint} to "
        "pay the standard price")
    # 24 h of July 28th at the standard price, the 706 h after at up to the extended one
    assert line(dt.date(2026, 7, 28)) == (
        "730 h (Kubernetes 1.33: standard support ends 2026-07-29)", round(std, 4),
        round(_usd("eks_cluster_standard") * 24 + _usd("eks_cluster_extended") * 706, 4), "eks_cluster_standard",
        f"standard support ends on 2026-07-29, within this month: up to 706 h at the extended support price unless "
        f"upgraded before ({hint})")


def test_a_month_whose_last_hour_crosses_the_end_of_standard_support_bills_that_hour() -> None:
    """A price table with a 721-hour month, priced from 30 days before the end (720 h): 1 h past the end."""
    table = msgspec.structs.replace(load_table(), hours_per_month=721)
    ext = _usd("eks_cluster_extended")

    def lines(on: dt.date, res: Resource) -> list[tuple[str, str, float, float]]:
        est = estimate([res], stack="x", region="us-east-1", project=ProjectCosts(), on=on, table=table)
        return [(x.billed, x.quantity, round(x.low, 4), round(x.high, 4)) for x in est.lines
                if x.billed in ("EKS cluster hours", "RDS Extended Support")]

    on = dt.date(2026, 6, 29)  # Kubernetes 1.33 leaves standard support on 2026-07-29
    assert lines(on, _res("eks:index:Cluster", "c", version="1.33")) == [
        ("EKS cluster hours", "721 h (Kubernetes 1.33: standard support ends 2026-07-29)",
         round(_usd("eks_cluster_standard") * 721, 4), round(_usd("eks_cluster_standard") * 720 + ext, 4))]
    assert lines(on, _res("eks:index:Cluster", "c", version="1.33", upgradePolicy={"supportType": "STANDARD"})) == [
        ("EKS cluster hours", "721 h (Kubernetes 1.33, standard support)", round(_usd("eks_cluster_standard") * 721, 4),
         round(_usd("eks_cluster_standard") * 721, 4))]
    db = _res("aws:rds/instance:Instance", "db", engine="mysql", engineVersion="8.0.40", instanceClass="db.t4g.small",
              allocatedStorage=20, storageType="gp3")  # MySQL 8.0 leaves standard support on 2026-07-31
    assert lines(dt.date(2026, 7, 1), db) == [("RDS Extended Support", "2 vCPU × 1 × 1 h", 0.0, round(0.1 * 2, 4))]


def test_volumes_by_their_class_and_what_is_not_priced() -> None:
    def claim(name: str, size: Any, klass: Any) -> Resource:
        return _res("kubernetes:core/v1:PersistentVolumeClaim", name,
                    spec={"storageClassName": klass, "resources": {"requests": {"storage": size}}})

    def storage_class(name: str, **params: str) -> Resource:
        return _res("kubernetes:storage.k8s.io/v1:StorageClass", name, metadata={"name": name}, parameters=params)

    classes = [storage_class("fast", type="gp3"), storage_class("old", type="gp2"), storage_class("plain"),
               storage_class("io", type="io2")]
    lines = _one([*classes, claim("a", "20Gi", "old"), claim("b", "10Gi", "plain"), claim("c", "5Gi", "elsewhere"),
                  claim("d", "lots", "fast"), claim("e", "1Gi", "io")])
    got = {x[0]: x[1:] for x in lines if x[0] in "abcde"}
    assert got == {
        "a": ("EBS volume", "fixed", round(20 * _usd("ebs_gp2_gb"), 4), round(20 * _usd("ebs_gp2_gb"), 4), ""),
        "b": ("EBS volume", "fixed", round(10 * _usd("ebs_gp3_gb"), 4), round(10 * _usd("ebs_gp3_gb"), 4), ""),
        "c": ("EBS volume", "fixed", round(5 * _usd("ebs_gp3_gb"), 4), round(5 * _usd("ebs_gp3_gb"), 4),
              "storage class 'elsewhere' is not declared by this stack: gp3 assumed"),
        "d": ("EBS volume", "unpriced", 0.0, 0.0, "the claim's storage request is not a quantity"),
        "e": ("EBS volume", "unpriced", 0.0, 0.0, "volume type 'io2' is not in the price table"),
    }
    est = estimate([*classes, claim("a", "20Gi", "old"), claim("h", "1.5Gi", "fast")], stack="x", region="us-east-1",
                   project=ProjectCosts(), on=ON)
    assert [(x.name, x.quantity) for x in est.lines if x.name in "ah"] == [("a", "20 GiB gp2"), ("h", "1.5 GiB gp3")]
    nat = estimate([_res("aws:ec2/natGateway:NatGateway", "nat")], stack="x", region="us-east-1", project=ProjectCosts(), on=ON)
    assert [(x.billed, x.quantity) for x in nat.lines] == [("NAT gateway hours", "730 h"), ("NAT data processed", "")]


def test_load_balancers_by_scheme_subnets_and_class() -> None:
    def klass(name: str, params: str | None, controller: str = "eks.amazonaws.com/alb") -> Resource:
        spec: dict[str, Any] = {"controller": controller}
        if params:
            spec["parameters"] = {"name": params}
        return _res("kubernetes:networking.k8s.io/v1:IngressClass", name, metadata={"name": name}, spec=spec)

    def params(name: str, **spec: Any) -> Resource:
        return _res("kubernetes:eks.amazonaws.com/v1:IngressClassParams", f"{name}-params", metadata={"name": name}, spec=spec)

    def ingress(name: str, class_name: str) -> Resource:
        return _res("kubernetes:networking.k8s.io/v1:Ingress", name, spec={"ingressClassName": class_name})

    alb, ip = _usd("alb_hour") * HOURS, _usd("public_ipv4_hour") * HOURS
    world = [klass("public", "public"), params("public", scheme="internet-facing"),
             klass("pinned", "pinned"), params("pinned", scheme="internet-facing", subnets={"ids": ["s1", "s2", "s3"]}),
             klass("internal", "internal"), params("internal", scheme="internal"),
             klass("bare", None), klass("nginx", "nginx", controller="k8s.io/ingress-nginx"), params("nginx")]
    lines = _one([*world, ingress("a", "public"), ingress("b", "pinned"), ingress("c", "internal"), ingress("d", "bare"),
                  ingress("e", "nginx")])
    def of(name: str) -> list[tuple[str, str, float, float, str]]:
        return [x[1:] for x in lines if x[0] == name]
    assert not [x for x in of("c") if "IPv4" in x[0]] and of("c") == of("d")  # internal, or no scheme: no addresses
    assert of("a")[2] == ("load balancer public IPv4 addresses", "fixed", round(2 * ip, 4), round(6 * ip, 4),
                          "its subnets are chosen by the controller: at least two zones")
    assert of("b")[2] == ("load balancer public IPv4 addresses", "fixed", round(3 * ip, 4), round(3 * ip, 4), "")
    assert [x[0] for x in of("c")] == ["application load balancer hours", "load balancer capacity units",
                                       "data out to the internet"]
    assert of("c")[0][2:4] == (round(alb, 4), round(alb, 4))
    assert of("e") == [("load balancer", "fixed", 0.0, 0.0, "ingress class 'nginx' belongs to the cluster's stack: its "
                        "load balancer is billed there (this ingress adds only its traffic)")]
    # the classes themselves bill nothing (their load balancers are on the ingresses), a grouped class used here
    # included; only a grouped class no ingress of this stack uses is the shared load balancer of other stacks
    grouped = [klass("team", "team"), params("team", scheme="internal", group={"name": "team"}), ingress("f", "team"),
               klass("spare", "spare"), params("spare", scheme="internal", group={"name": "spare"})]
    lines = _one([*world, *grouped])
    classes = {x[0]: x[1:] for x in lines if x[0] in ("public", "team", "nginx", "bare") and x[1] == "nothing"}
    priced_on_ingresses = ("nothing", "free", 0.0, 0.0, "its load balancer is priced on the ingresses that use it")
    assert classes == {"public": priced_on_ingresses, "team": priced_on_ingresses, "bare": priced_on_ingresses,
                       "nginx": ("nothing", "free", 0.0, 0.0, "")}
    assert [x[1] for x in lines if x[0] == "spare"] == ["shared load balancer (other stacks' ingresses)"]
    # the shared load balancer's line in full: its addresses (two zones, or its subnets), its price, the stack's
    # answer whether others run on it
    pinned = [klass("spare", "spare"), params("spare", group={"name": "spare"}, subnets={"ids": ["s1", "s2", "s3"]})]
    empty = [klass("spare", "spare"), params("spare", group={"name": "spare"}, subnets={"ids": []})]  # no subnets: two zones
    for spare, ips in ((grouped[3:], 2), (pinned, 3), (empty, 2)):
        est = estimate(spare, stack="dev", region="us-east-1", project=ProjectCosts(), on=ON, hosts_others=True)
        (line,) = [x for x in est.lines if x.name == "spare"]
        assert (line.urn, line.kind, line.quantity, line.low) == (spare[0].urn, "fixed", f"0–730 h + {ips} IPv4 addresses", 0.0)
        assert line.high == pytest.approx(alb + ips * ip) and line.price is not None and line.price.key == "alb_hour"
        assert line.note == ("group 'spare': one ALB for every ingress of other stacks (personal stacks) using class "
                             "'spare', from $0 while none exists; their traffic (LCUs, data out) is not in this figure")
    alone = estimate(grouped[3:], stack="dev", region="us-east-1", project=ProjectCosts(), on=ON, hosts_others=False)
    assert [(x.name, x.kind, x.note) for x in alone.lines if x.name == "spare"] == [
        ("spare", "free", "for other stacks' ingresses (group 'spare'), but no stack of environments.yaml runs on dev: "
                          "no load balancer")]
    # a load balancer Service is an NLB; any other Service bills nothing
    assert [x[1] for x in _one([_res("kubernetes:core/v1:Service", "lb", spec={"type": "LoadBalancer"}),
                                _res("kubernetes:core/v1:Service", "ip", spec={"type": "ClusterIP"})])] == [
        "network load balancer hours", "network load balancer capacity units", "nothing"]


def test_an_ingress_bills_its_load_balancer_line_by_line_and_a_shared_one_says_where_it_is_billed() -> None:
    """Each line of an ingress in full: what it bills, the quantity it shows, its price and note."""
    def klass(name: str, controller: str = "eks.amazonaws.com/alb") -> Resource:
        return _res("kubernetes:networking.k8s.io/v1:IngressClass", name, metadata={"name": name},
                    spec={"controller": controller, "parameters": {"name": name}})

    def params(name: str, **spec: Any) -> Resource:
        return _res("kubernetes:eks.amazonaws.com/v1:IngressClassParams", f"{name}-params", metadata={"name": name}, spec=spec)

    def ingress(name: str, class_name: str) -> Resource:
        return _res("kubernetes:networking.k8s.io/v1:Ingress", name, spec={"ingressClassName": class_name})

    ingresses = [ingress("a", "public"), ingress("o", "odd"), ingress("p", "pinned"), ingress("f", "team"),
                 ingress("g", "team"), ingress("n", "nginx")]
    world = [klass("public"), params("public", scheme="internet-facing"),
             klass("odd"), params("odd", scheme="internet-facing", subnets={"ids": "[unknown]"}),  # not known yet
             klass("pinned"), params("pinned", scheme="internet-facing", subnets={"ids": ["s1", "s2", "s3"]}),
             klass("team"), params("team", scheme="internal", group={"name": "team"}),
             klass("nginx", controller="k8s.io/ingress-nginx"), params("nginx"), *ingresses]
    est = estimate(world, stack="x", region="us-east-1", project=ProjectCosts(), on=ON)
    urn = {r.name: r.urn for r in ingresses}

    def of(name: str) -> list[tuple[Any, ...]]:
        return [(x.urn, x.type, x.billed, x.kind, x.quantity, round(x.low, 4), round(x.high, 4),
                 x.price.key if x.price else None, x.note) for x in est.lines if x.name == name]

    kind = "kubernetes:networking.k8s.io/v1:Ingress"
    alb, ip = round(_usd("alb_hour") * HOURS, 4), _usd("public_ipv4_hour") * HOURS
    lcu = "average LCUs in use: new connections, active connections, bytes, rule evaluations"

    def balancer(name: str, *addresses: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return [(urn[name], kind, "application load balancer hours", "fixed", "730 h", alb, alb, "alb_hour", ""),
                (urn[name], kind, "load balancer capacity units", "usage", "", 0.0, 0.0, "alb_lcu_hour", lcu),
                *[(urn[name], kind, *a) for a in addresses],
                (urn[name], kind, "data out to the internet", "usage", "", 0.0, 0.0, "data_out_gb", "")]

    zones = ("load balancer public IPv4 addresses", "fixed", "2–6 addresses (one per zone)", round(2 * ip, 4),
             round(6 * ip, 4), "public_ipv4_hour", "its subnets are chosen by the controller: at least two zones")
    assert of("a") == balancer("a", zones)
    assert of("o") == balancer("o", zones)  # subnets not known yet: two to six zones, never the length of a text
    assert of("p") == balancer("p", ("load balancer public IPv4 addresses", "fixed", "3 addresses (one per subnet)",
                                     round(3 * ip, 4), round(3 * ip, 4), "public_ipv4_hour", ""))
    assert of("f") == balancer("f")  # internal: no addresses
    assert of("g") == [(urn["g"], kind, "load balancer", "fixed", "shared", 0.0, 0.0, None,
                        "shares the load balancer of group 'team' with f")]
    assert of("n") == [(urn["n"], kind, "load balancer", "fixed", "shared", 0.0, 0.0, None,
                        "ingress class 'nginx' belongs to the cluster's stack: its load balancer is billed there "
                        "(this ingress adds only its traffic)")]


def test_a_database_instance_line_names_its_price_and_how_multi_az_is_billed() -> None:
    def db(name: str, klass: str, multi: bool) -> Any:
        res = _res("aws:rds/instance:Instance", name, engine="mysql", instanceClass=klass, multiAz=multi,
                   allocatedStorage=20, storageType="gp3")
        (line,) = [x for x in estimate([res], stack="x", region="us-east-1", project=ProjectCosts(), on=ON).lines
                   if x.billed == "DB instance hours"]
        return line

    single = db("a", "db.t3.medium", False)
    assert (single.urn, single.type, single.name) == ("urn:pulumi:s::p::aws:rds/instance:Instance::a", "aws:rds/instance:Instance", "a")
    assert (single.kind, single.quantity, single.note, single.low) == ("fixed", "1 × 730 h db.t3.medium (single-AZ)", "",
                                                                       pytest.approx(0.068 * HOURS))
    assert single.price is not None and (single.price.usd, single.price.unit, single.price.key) == (
        0.068, "db.t3.medium single-AZ hour", "rds_mysql.db.t3.medium")
    assert single.price.source == "https://aws.amazon.com/rds/mysql/pricing/" and single.price.as_of == "2026-11-29"
    assert single.price.checked == load_table().regions["us-east-1"].rds_mysql.checked != ""
    listed = db("b", "db.t4g.small", True)  # the table lists its Multi-AZ price
    assert (listed.quantity, listed.note, listed.low) == ("730 h db.t4g.small (Multi-AZ)",
                                                          "Multi-AZ: the standby instance is billed too",
                                                          pytest.approx(0.065 * HOURS))
    assert listed.price is not None and (listed.price.unit, listed.price.key) == ("db.t4g.small Multi-AZ hour",
                                                                                  "rds_mysql.multi_az.db.t4g.small")
    twice = db("c", "db.t3.medium", True)  # not listed: twice the single-AZ price
    assert (twice.quantity, twice.note, twice.low, twice.high) == (
        "2 × 730 h db.t3.medium (Multi-AZ)", "Multi-AZ: the standby instance is billed too (twice the single-AZ price)",
        pytest.approx(2 * 0.068 * HOURS), pytest.approx(2 * 0.068 * HOURS))
    assert twice.price is not None and twice.price.key == "rds_mysql.db.t3.medium"


def test_a_database_bills_its_storage_backups_and_exported_logs_line_by_line() -> None:
    db = {"engine": "mysql", "instanceClass": "db.t3.medium", "allocatedStorage": 20, "storageType": "gp3",
          "maxAllocatedStorage": 20, "enabledCloudwatchLogsExports": ["error", "slowquery"]}
    gp3 = round(20 * _usd("rds_gp3_gb"), 4)
    assert _one([_res("aws:rds/instance:Instance", "db", **db)])[1:] == [
        ("db", "DB storage", "fixed", gp3, gp3, ""),  # autoscaling up to the allocated size: no growth to note
        ("db", "DB backup storage", "usage", 0.0, 0.0, "free up to the allocated storage; beyond it per GB-month"),
        ("db", "exported DB logs ingestion", "usage", 0.0, 0.0, "")]
    quiet = {k: v for k, v in db.items() if k != "enabledCloudwatchLogsExports"}
    assert [x[1] for x in _one([_res("aws:rds/instance:Instance", "db", **quiet)])] == [
        "DB instance hours", "DB storage", "DB backup storage"]
