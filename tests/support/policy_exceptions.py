"""Every check the manifest tests skip, in one place, each with its reason. Nothing else is skipped."""

#: checkov check id -> why it does not apply. Passed to checkov as --skip-check.
CHECKOV_SKIPS: dict[str, str] = {
    "CKV_K8S_43": "The image is pinned to an exact version (ghost:6.x.y-alpine); ghostImage accepts an @sha256 "
                  "digest, but no digest is set here because none can be verified offline.",
}

#: Kinds kubernetes-validate has no schema for (CRDs) -> why they are still safe to ship.
SCHEMA_SKIPS: dict[str, str] = {
    "NodeClass": "EKS Auto Mode CRD (eks.amazonaws.com/v1); its fields (private subnets, no public IPs, "
                 "networkPolicy, role, security group) are asserted by tests/program/test_cluster_auto_mode.py.",
    "NodePool": "Karpenter CRD (karpenter.sh/v1) as EKS Auto Mode serves it; its NodeClass reference and "
                "requirements are asserted by tests/program/test_cluster_auto_mode.py.",
    "IngressClassParams": "EKS Auto Mode CRD (eks.amazonaws.com/v1); not in the upstream Kubernetes schemas. "
                          "Its fields (scheme, ipAddressType, subnets) are asserted by the tests instead.",
}
