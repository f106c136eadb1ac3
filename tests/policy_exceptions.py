"""Every check the manifest tests skip, in one place, each with its reason. Nothing else is skipped."""

#: checkov check id -> why it does not apply. Passed to checkov as --skip-check.
CHECKOV_SKIPS: dict[str, str] = {
    "CKV_K8S_35": "Ghost is configured through environment variables (its documented 12-factor interface: "
                  "database__connection__*, mail__options__auth__*); the values come from a Secret through "
                  "secretKeyRef, never as literals. The bootstrap Job does read its secrets as files.",
    "CKV_K8S_40": "The Ghost image runs as its `node` user, uid 1000, which owns /var/lib/ghost; a different "
                  "uid breaks the image's content handling. The bootstrap Job runs as uid 10001.",
    "CKV_K8S_43": "Images are pinned to an exact version (ghost:6.x.y-alpine, mysql:8.4.z); ghostImage accepts "
                  "an @sha256 digest, but no digest is set here because none can be verified offline.",
}

#: Kinds kubernetes-validate has no schema for (CRDs) -> why they are still safe to ship.
SCHEMA_SKIPS: dict[str, str] = {
    "IngressClassParams": "EKS Auto Mode CRD (eks.amazonaws.com/v1); not in the upstream Kubernetes schemas. "
                          "Its fields (scheme, ipAddressType) are asserted by the tests instead.",
}
