"""The stand-in AWS controllers are no kinder than AWS (issue 28): each refusal of tests/support/standins/aws_controllers.py
has a case where it alone fires, on what the real program declares (prod's synth: the Ghost claim, its class, the
Ingress and its Service) changed in one place, and the unchanged declarations pass. The k8s tier shows the same
refusals on the cluster (tests/real/test_k8s_real.py, test 7c: an Event, the claim Pending, no address)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.policy_cases import DELETE, annotation
from tests.support.program import one, synth
from tests.support.standins.aws_controllers import alb_refusal, ebs_refusal, quantity_bytes


def _program() -> dict[str, dict[str, Any]]:
    prod = synth("prod")
    return {"claim": one(prod, "kubernetes:core/v1:PersistentVolumeClaim"),
            "class": one(prod, "kubernetes:storage.k8s.io/v1:StorageClass"),
            "ingress": one(prod, "kubernetes:networking.k8s.io/v1:Ingress"),
            "service": one(prod, "kubernetes:core/v1:Service")}


def _ebs(change: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> str | None:
    objs = copy.deepcopy(_program())
    if change is not None:
        change(objs["claim"], objs["class"])
    return ebs_refusal(objs["claim"], objs["class"])


def _alb(change: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> str | None:
    objs = copy.deepcopy(_program())
    if change is not None:
        change(objs["ingress"], objs["service"])
    return alb_refusal(objs["ingress"], {objs["service"]["metadata"]["name"]: objs["service"]})


def _annotate(key: str, value: str | None) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    """Set (or with None remove) one annotation of the Ingress (tests/program/test_policy_subchecks.py's helper)."""
    return lambda ingress, _: annotation(key, DELETE if value is None else value)(ingress)


def test_what_the_program_declares_is_served() -> None:
    assert _ebs() is None and _alb() is None


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c, s: c["spec"].update(accessModes=["ReadWriteMany"]), "access modes ['ReadWriteMany']"),
    (lambda c, s: c["spec"].update(accessModes=["ReadWriteOnce", "ReadOnlyMany"]), "access modes ['ReadOnlyMany']"),
    (lambda c, s: s["parameters"].update(type="gp4"), "invalid VolumeType 'gp4'"),
    (lambda c, s: s["parameters"].update(encrypted="yes"), "encrypted parameter 'yes'"),
    (lambda c, s: c["spec"]["resources"]["requests"].update(storage="17Ti"), "1-16384 GiB, not 17408 GiB"),
    (lambda c, s: c["spec"]["resources"]["requests"].update(storage="lots"), "requests no storage size"),
    (lambda c, s: (s["parameters"].update(type="io2"), c["spec"]["resources"]["requests"].update(storage="3Gi")),
     "io2 volumes are 4-65536 GiB, not 3 GiB"),
], ids=["ReadWriteMany", "ReadOnlyMany", "volume type", "encrypted", "too large", "no size", "io2 too small"])
def test_the_ebs_stand_in_refuses_what_ebs_refuses(change: Callable[[dict[str, Any], dict[str, Any]], None],
                                                   expected: str) -> None:
    refusal = _ebs(change)
    assert refusal is not None and expected in refusal, refusal


@pytest.mark.parametrize("change", [
    lambda c, s: c["spec"].update(accessModes=["ReadWriteOncePod"]),
    lambda c, s: c["spec"]["resources"]["requests"].update(storage="1Gi"),
    lambda c, s: c["spec"]["resources"]["requests"].update(storage="16Ti"),
    lambda c, s: c["spec"]["resources"]["requests"].update(storage="500M"),  # rounded up to 1 GiB, as EBS does
    lambda c, s: s["parameters"].pop("type"),  # the driver's default type, gp3
], ids=["ReadWriteOncePod", "1Gi", "16Ti", "500M", "default type"])
def test_the_ebs_boundaries_it_serves(change: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    assert _ebs(change) is None


@pytest.mark.parametrize(("change", "expected"), [
    (_annotate("alb.ingress.kubernetes.io/target-type", None), "When using Instance targets"),
    (_annotate("alb.ingress.kubernetes.io/target-type", "instance"), "When using Instance targets"),
    (_annotate("alb.ingress.kubernetes.io/target-type", "pod"), "unknown target type 'pod'"),
    (_annotate("alb.ingress.kubernetes.io/certificate-arn", None), "no certificate found for an HTTPS listener"),
    (_annotate("alb.ingress.kubernetes.io/listen-ports", "[{HTTP: 80}]"), "failed to parse json annotation"),
    (lambda i, s: s["metadata"].update(name="blog"), 'services "ghost" not found'),
    (lambda i, s: s["spec"]["ports"][0].update(name="web"), "unable to find port {'name': 'http'}"),
], ids=["default instance target", "instance target", "unknown target type", "HTTPS without certificate",
        "listen-ports not JSON", "no service", "no port"])
def test_the_alb_stand_in_refuses_what_the_controller_refuses(change: Callable[[dict[str, Any], dict[str, Any]], None],
                                                               expected: str) -> None:
    refusal = _alb(change)
    assert refusal is not None and expected in refusal, refusal
    assert refusal.startswith("ingress: ghost/ghost: "), refusal


@pytest.mark.parametrize("change", [
    lambda i, s: (_annotate("alb.ingress.kubernetes.io/target-type", None)(i, s), s["spec"].update(type="NodePort")),
    lambda i, s: (_annotate("alb.ingress.kubernetes.io/certificate-arn", None)(i, s),
                  i["spec"].update(tls=[{"hosts": ["blog.example.com"]}])),  # certificate discovery by host
    _annotate("alb.ingress.kubernetes.io/listen-ports", json.dumps([{"HTTP": 80}])),
    lambda i, s: i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(port={"number": 80}),
], ids=["instance target on NodePort", "certificate by TLS host", "HTTP only", "port by number"])
def test_the_alb_boundaries_it_serves(change: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    assert _alb(change) is None


def test_storage_quantities() -> None:
    assert quantity_bytes("8Gi") == 8 * 2**30 and quantity_bytes("500M") == 5e8 and quantity_bytes("1.5Ti") == 1.5 * 2**40
    assert quantity_bytes("8GB") is None and quantity_bytes("") is None
