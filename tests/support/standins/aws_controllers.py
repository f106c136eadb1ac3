"""What the STAND-IN AWS controllers of the test cluster (tests/support/k8s_cluster.py: StandInControllers) refuse, as pure
functions: a stand-in must be no kinder than the controller it replaces (issue 28). Each refusal returns the reason
the real controller gives, worded after it, and the stand-in then does what the real one does: it posts a Warning
Event on the object and leaves it as it was (the claim Pending, the Ingress without an address).

Sources (checked with the search tool, 2026-12):
- EBS CSI driver (EKS Auto Mode's ``ebs.csi.eks.amazonaws.com``): EBS volumes attach to one node, so only the
  access modes ReadWriteOnce and ReadWriteOncePod are supported; a StorageClass ``type`` must be an EBS volume type;
  gp2/gp3 sizes run from 1 GiB to 16 TiB (io1/io2 from 4 GiB). The external provisioner reports a refusal as a
  ``ProvisioningFailed`` Event on the claim.
- AWS Load Balancer Controller / Auto Mode's ``eks.amazonaws.com/alb``: instance targets (the default target type)
  need a Service of type NodePort or LoadBalancer ("TargetGroup port is empty. When using Instance targets, your
  service be must of type 'NodePort' or 'LoadBalancer'", kubernetes-sigs/aws-load-balancer-controller#4243); a
  backend Service and its port must exist; an HTTPS listener needs a certificate (``certificate-arn``, or TLS hosts
  for discovery); ``listen-ports`` must be JSON. A refusal is a ``FailedBuildModel`` Event on the Ingress ("Failed
  build model due to ...").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

EBS_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod")
#: EBS volume types and their size bounds in GiB (the EBS user guide's volume types)
EBS_SIZES_GIB = {"gp2": (1, 16384), "gp3": (1, 16384), "io1": (4, 16384), "io2": (4, 65536), "st1": (125, 16384),
                 "sc1": (125, 16384), "standard": (1, 1024)}
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "k": 10**3, "M": 10**6, "G": 10**9,
          "T": 10**12, "P": 10**15, "": 1}
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P|)$")


def quantity_bytes(value: str) -> float | None:
    """A Kubernetes storage quantity ("8Gi", "500M") in bytes; None when it is not one."""
    found = _QUANTITY.match(str(value))
    return float(found.group(1)) * _UNITS[found.group(2)] if found else None


def ebs_refusal(claim: Mapping[str, Any], storage_class: Mapping[str, Any]) -> str | None:
    """Why the EBS CSI driver would not provision this claim of this class, or None when it would."""
    spec = claim.get("spec") or {}
    modes = [m for m in spec.get("accessModes") or [] if m not in EBS_ACCESS_MODES]
    if modes:
        return (f"rpc error: code = InvalidArgument desc = Volume capabilities not supported: access modes {modes}; "
                f"only {list(EBS_ACCESS_MODES)} are supported (an EBS volume attaches to one node)")
    params = storage_class.get("parameters") or {}
    volume_type = str(params.get("type", "gp3"))
    if volume_type not in EBS_SIZES_GIB:
        return (f"rpc error: code = InvalidArgument desc = Could not create volume: invalid VolumeType {volume_type!r} "
                f"(one of {', '.join(EBS_SIZES_GIB)})")
    encrypted = params.get("encrypted")
    if encrypted is not None and str(encrypted) not in ("true", "false"):
        return f"rpc error: code = InvalidArgument desc = Could not parse encrypted parameter {encrypted!r}"
    size = quantity_bytes(((spec.get("resources") or {}).get("requests") or {}).get("storage", ""))
    low, high = EBS_SIZES_GIB[volume_type]
    if size is None:
        return "rpc error: code = InvalidArgument desc = the claim requests no storage size"
    gib = -(-size // 2**30)  # EBS sizes are whole GiB, rounded up
    if not low <= gib <= high:
        return (f"rpc error: code = InvalidArgument desc = Could not create volume: {volume_type} volumes are "
                f"{low}-{high} GiB, not {int(gib)} GiB")
    return None


def _backends(ingress: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = ingress.get("spec") or {}
    found = [spec["defaultBackend"]] if spec.get("defaultBackend") else []
    for rule in spec.get("rules") or []:
        found += [p.get("backend") or {} for p in ((rule.get("http") or {}).get("paths") or [])]
    return [b.get("service") or {} for b in found]


def alb_refusal(ingress: Mapping[str, Any], services: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why the ALB controller would not build this Ingress's load balancer, or None when it would. ``services``:
    the Services of the Ingress's namespace by name."""
    meta = ingress.get("metadata") or {}
    where = f"ingress: {meta.get('namespace')}/{meta.get('name')}"
    annotations = meta.get("annotations") or {}
    target_type = annotations.get("alb.ingress.kubernetes.io/target-type", "instance")
    if target_type not in ("instance", "ip"):
        return f"{where}: unknown target type {target_type!r} (instance or ip)"
    raw_ports = annotations.get("alb.ingress.kubernetes.io/listen-ports", '[{"HTTP": 80}]')
    try:
        ports = json.loads(raw_ports)
        protocols = {str(k).upper() for entry in ports for k in entry}
    except (ValueError, TypeError, AttributeError):
        return f"{where}: failed to parse json annotation, alb.ingress.kubernetes.io/listen-ports: {raw_ports}"
    tls_hosts = [h for t in (ingress.get("spec") or {}).get("tls") or [] for h in t.get("hosts") or []]
    if "HTTPS" in protocols and not annotations.get("alb.ingress.kubernetes.io/certificate-arn") and not tls_hosts:
        return f"{where}: no certificate found for an HTTPS listener (set alb.ingress.kubernetes.io/certificate-arn)"
    for backend in _backends(ingress):
        name = backend.get("name")
        service = services.get(str(name))
        if service is None:
            return f"{where}: services \"{name}\" not found"
        port = backend.get("port") or {}
        found = [p for p in (service.get("spec") or {}).get("ports") or []
                 if ("number" in port and p.get("port") == port["number"]) or ("name" in port and p.get("name") == port["name"])]
        if not found:
            return f"{where}: unable to find port {port} on service {meta.get('namespace')}/{name}"
        if target_type == "instance" and (service.get("spec") or {}).get("type", "ClusterIP") not in ("NodePort", "LoadBalancer"):
            return (f"{where}: TargetGroup port is empty. When using Instance targets, your service be must of type "
                    "'NodePort' or 'LoadBalancer'")
    return None
