"""The policy pack on what the real Pulumi CLI sent it (issue 28), not only on the mock runtime's inputs: the fixtures in
tests/data/analyzer/ were recorded by the pack itself under the real CLI (tests/support/analyzer_records.py; the k8s
and cli tiers re-record them on every run and fail when their shape changes). Each fixture names its source.

- k8s-personal-stack: alice's personal stack of THIS program on the real pulumi-kubernetes provider v4.25.0 (the
  k8s tier's story). The pack finds nothing, as the CLI said; one change to the recorded Deployment or Job in the
  shape the provider sends is caught, so the rules read the real shape.
- fixture-project: the cli tier's fixture project in production: the CLI's one verdict, prod-stateful-protected on
  the unprotected database.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policypack import rules
from tests.support.analyzer_records import fixture, paths, shape_difference, subjects


def _verdicts(resources: list[dict[str, Any]], stack: str, environment: str,
              stateful: tuple[str, ...] = rules.DEFAULT_STATEFUL) -> set[tuple[str, str, str]]:
    ctx = rules.Context(stack=stack, environment=environment, stateful=stateful)
    found = rules.evaluate(subjects(resources), ctx, {}, [])
    return {(v.policy, f"{v.type}::{v.name}", v.level) for v in found}


def _resources(name: str) -> list[dict[str, Any]]:
    doc = fixture(name)
    assert doc["source"] and doc["resources"], f"{name}: a fixture names where it came from"
    return copy.deepcopy(doc["resources"])


def _one(resources: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    (found,) = [r for r in resources if r["type"] == type_]
    return found


def test_the_real_providers_personal_stack_passes_the_pack_as_the_cli_said() -> None:
    resources = _resources("k8s-personal-stack")
    assert {"kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job", "kubernetes:networking.k8s.io/v1:Ingress",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy"} <= {r["type"] for r in resources}
    assert _verdicts(resources, "dev-alice", "development") == set()
    # what the real CLI sends for a component's own registration: no inputs (policypack/rules.py: COMPONENTS)
    assert _one(resources, "ghost:apps:Ghost")["props"] == {}


def test_an_eks_component_registration_as_the_real_cli_sends_it_is_not_judged_its_cluster_is() -> None:
    """pulumi-eks's cluster is a component: the real CLI sends its registration as it sent Ghost's, with no inputs.
    The eks-* policies then judge the provider resource it creates, not the empty registration."""
    empty = {"urn": "urn:pulumi:prod::ghost-gitops::eks:index:Cluster::prod-eks", "type": "eks:index:Cluster",
             "name": "prod-eks", "props": {}, "protect": True}
    cluster = {"urn": "urn:pulumi:prod::ghost-gitops::eks:index:Cluster$aws:eks/cluster:Cluster::prod-eks-eksCluster",
               "type": "aws:eks/cluster:Cluster", "name": "prod-eks-eksCluster", "protect": True,
               "props": {"version": "1.35", "vpcConfig": {"endpointPrivateAccess": False, "endpointPublicAccess": False},
                         "encryptionConfig": {"resources": ["secrets"]},
                         "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"]}}
    found = {p for p, n, _ in _verdicts([empty, cluster], "prod", "production") if n.startswith("eks:index:Cluster")}
    assert found == set(), found
    assert ("eks-private-endpoint", "aws:eks/cluster:Cluster::prod-eks-eksCluster", "mandatory") in _verdicts(
        [empty, cluster], "prod", "production")


@pytest.mark.parametrize(("type_", "change", "policy"), [
    ("kubernetes:apps/v1:Deployment",
     lambda p: p["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(readOnlyRootFilesystem=False),
     "k8s-pod-hardening"),
    ("kubernetes:batch/v1:Job",
     lambda p: p["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True),
     "k8s-pod-hardening"),
    ("kubernetes:apps/v1:Deployment",
     lambda p: p["spec"]["template"]["spec"]["containers"][0]["resources"].pop("limits"), "k8s-resources-and-probes"),
], ids=["Deployment root filesystem", "Job escalation", "Deployment limits"])
def test_one_change_to_what_the_provider_sends_is_caught(type_: str, change: Any, policy: str) -> None:
    resources = _resources("k8s-personal-stack")
    target = _one(resources, type_)
    change(target["props"])
    found = _verdicts(resources, "dev-alice", "development")
    assert (policy, f"{type_}::{target['name']}", "mandatory") in {(p, n, lvl) for p, n, lvl in found}, found


def test_the_fixture_project_in_production_gets_the_clis_one_verdict() -> None:
    resources = _resources("fixture-project")
    stateful = ("pulumi-python:dynamic:Resource::database",)  # the fixture project's environments.yaml
    assert _verdicts(resources, "dev", "production", stateful) == {
        ("prod-stateful-protected", "pulumi-python:dynamic:Resource::database", "mandatory")}
    database = next(r for r in resources if r["name"] == "database")
    database["protect"] = True
    assert _verdicts(resources, "dev", "production", stateful) == set()


def test_no_secret_in_a_fixture() -> None:
    for name in ("k8s-personal-stack", "fixture-project"):
        for r in _resources(name):
            if r["type"] == "kubernetes:core/v1:Secret":
                assert set((r["props"].get("stringData") or r["props"].get("data") or {}).values()) <= {"[redacted]"}


def test_the_shape_comparison_names_what_changed() -> None:
    resources = _resources("k8s-personal-stack")
    assert shape_difference(resources, "k8s-personal-stack") == ""
    deployment = _one(resources, "kubernetes:apps/v1:Deployment")
    deployment["props"]["spec"]["paused"] = True
    resources.append({**deployment, "name": "extra"})
    diff = shape_difference(resources, "k8s-personal-stack")
    assert "resource kubernetes:apps/v1:Deployment::extra is new" in diff
    assert "new paths ['spec.paused']" in diff
    assert paths({"a": [{"b": 1}], "c": {}, "d": []}) == {"a[].b", "c", "d[]"}
