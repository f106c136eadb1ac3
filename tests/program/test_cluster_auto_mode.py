"""The EKS cluster as pulumi-eks builds it in Auto Mode: what our inputs must say, and why (issue: CoreDNS
add-on, node placement, the aws CLI on the deploying machine)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from automation.cli.main import main
from automation.engines.synth import SynthResult
from tests.support.gitrepo import project_repo
from tests.support.paths import ROOT
from tests.support.realcli import require_cli

EKS = "eks:index:Cluster"


def _subnets(result: SynthResult, kind: str) -> set[str]:
    return {r.urn for r in result.of_type("aws:ec2/subnet:Subnet") if f"-{kind}-" in r.name}


def test_no_coredns_addon_on_auto_mode(env_stack: SynthResult) -> None:
    """Auto Mode serves cluster DNS itself; pulumi-eks still adds the coredns EKS add-on unless told not to, and
    that add-on fails on Auto Mode clusters after 20 minutes in DEGRADED (pulumi/pulumi-eks#1726)."""
    (cluster,) = env_stack.of_type(EKS)
    assert cluster.inputs["autoMode"]["enabled"] is True
    assert cluster.inputs["corednsAddonOptions"]["enabled"] is False


def test_nodes_can_only_be_placed_in_private_subnets(env_stack: SynthResult) -> None:
    """Auto Mode's built-in NodeClass places nodes in the cluster's subnets: the cluster gets only the private
    subnets (pulumi-eks would otherwise pass the public ones first), so no node lands in a public subnet."""
    (cluster,) = env_stack.of_type(EKS)
    assert "publicSubnetIds" not in cluster.inputs and "subnetIds" not in cluster.inputs
    assert set(cluster.dependencies["privateSubnetIds"]) == _subnets(env_stack, "private")
    assert len(cluster.inputs["privateSubnetIds"]) == len(_subnets(env_stack, "private"))


def test_the_internet_facing_alb_gets_the_public_subnets_explicitly(env_stack: SynthResult) -> None:
    """Load balancers no longer see the public subnets through the cluster: the IngressClassParams pins them."""
    (params,) = [r for r in env_stack.resources
                 if r.inputs.get("kind") == "IngressClassParams" and r.inputs["metadata"]["name"] == "alb"]
    assert params.inputs["spec"]["scheme"] == "internet-facing"
    assert set(params.dependencies["spec"]) >= _subnets(env_stack, "public")
    assert not set(params.dependencies["spec"]) & _subnets(env_stack, "private")
    assert len(params.inputs["spec"]["subnets"]["ids"]) == len(_subnets(env_stack, "public"))


def _fake_aws(tmp_path: Path, version: str) -> Path:
    bin_dir = tmp_path / f"aws-{version}"
    bin_dir.mkdir()
    exe = bin_dir / "aws"
    exe.write_text(f"#!/bin/sh\necho 'aws-cli/{version} Python/3.11.7 Linux/6 botocore/1.0'\n")
    exe.chmod(0o755)
    return bin_dir


@pytest.mark.cli
def test_a_missing_or_old_aws_cli_stops_before_any_change(tmp_path: Path) -> None:
    repo = project_repo(tmp_path / "repo", ROOT)
    state = tmp_path / "state"
    base = "/usr/bin:/bin"
    cli = require_cli()
    for path, expected in ((base, "the `aws` CLI is not on PATH"),
                           (f"{_fake_aws(tmp_path, '1.10.0')}:{base}", "is 1.10.0; pulumi-eks needs v1.24+ or v2.7+")):
        err = io.StringIO()
        environ = {"PATH": path, "PULUMI_CONFIG_PASSPHRASE": "x", "PULUMI_BACKEND_URL": state.as_uri(), "HOME": str(tmp_path),
                   "GHOST_GITOPS_PULUMI_ROOT": str(cli.path.parent.parent)}
        code = main(["--project-dir", str(repo), "up", "--stack", "dev", "--lock-dir", str(tmp_path / "locks")],
                    environ=environ, out=io.StringIO(), err=err)
        message = err.getvalue()
        assert code == 4, message
        assert expected in message and "where the engine runs" in message
        assert not (state / ".pulumi" / "stacks").exists(), "nothing was created"


def _cr(result: SynthResult, kind: str) -> Any:
    (found,) = [r for r in result.resources if r.inputs.get("kind") == kind]
    return found


def test_network_policies_are_enforced_on_the_nodes_ghost_runs_on(env_stack: SynthResult) -> None:
    """AWS: NetworkPolicy is enforced on Auto Mode only on nodes of a NodeClass with `networkPolicy`, with the
    `amazon-vpc-cni` ConfigMap's controller on; the built-in general-purpose pool (which would bypass it) is off."""
    (cluster,) = env_stack.of_type(EKS)
    assert cluster.inputs["autoMode"]["computeConfig"]["nodePools"] == ["system"]
    (cni,) = [r for r in env_stack.of_type("kubernetes:core/v1:ConfigMap") if r.inputs["metadata"]["name"] == "amazon-vpc-cni"]
    assert cni.inputs["metadata"]["namespace"] == "kube-system"
    assert cni.inputs["data"] == {"enable-network-policy-controller": "true"}
    node_class = _cr(env_stack, "NodeClass")
    spec = node_class.inputs["spec"]
    assert spec["networkPolicy"] == "DefaultAllow" and spec["advancedNetworking"] == {"associatePublicIPAddress": False}
    assert set(node_class.dependencies["spec"]) >= _subnets(env_stack, "private")
    assert not set(node_class.dependencies["spec"]) & _subnets(env_stack, "public"), "nodes only in private subnets"
    assert len(spec["subnetSelectorTerms"]) == len(_subnets(env_stack, "private"))
    assert cluster.urn in node_class.dependencies["spec"], "the node role and security group come from the cluster"
    pool = _cr(env_stack, "NodePool")
    assert pool.inputs["spec"]["template"]["spec"]["nodeClassRef"] == {
        "group": "eks.amazonaws.com", "kind": "NodeClass", "name": node_class.inputs["metadata"]["name"]}


def test_dns_egress_works_with_node_local_dns(any_stack: SynthResult) -> None:
    """Auto Mode serves DNS from the node; the DNS egress rule names only the port, so it holds once enforced."""
    policies = [r for r in any_stack.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r.inputs["metadata"]["name"] in ("ghost", "ghost-db-bootstrap")]
    assert len(policies) == 2
    for policy in policies:
        dns = [rule for rule in policy.inputs["spec"]["egress"] if {p["port"] for p in rule["ports"]} == {53}]
        assert dns and "to" not in dns[0], policy.name
