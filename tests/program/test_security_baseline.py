"""GUIDE.md section 4, control by control, on the real program's offline synth for every stack file."""

from __future__ import annotations

import json

from automation.engines.synth import SECRET_MARKER, SynthResult
from infra.cluster import CONTROL_PLANE_LOG_TYPES
from infra.settings import SUPPORTED_KUBERNETES_VERSIONS
from tests.support.program import container, one

EKS = "eks:index:Cluster"
RDS = "aws:rds/instance:Instance"


def _urn_of(result: SynthResult, type_: str) -> str:
    found = result.of_type(type_)
    assert len(found) == 1
    return found[0].urn


def test_eks_1_private_endpoint_and_explicit_public_cidrs(env_stack: SynthResult) -> None:
    cluster = one(env_stack, EKS)
    assert cluster["endpointPrivateAccess"] is True
    if cluster["endpointPublicAccess"]:
        cidrs = cluster["publicAccessCidrs"]
        assert cidrs, "public endpoint on without explicit CIDRs means 0.0.0.0/0"
        if env_stack.stack == "prod":
            assert "0.0.0.0/0" not in cidrs


def test_eks_3_kms_4_secrets_encrypted_with_rotating_key(env_stack: SynthResult) -> None:
    cluster = env_stack.of_type(EKS)[0]
    key_urn = _urn_of(env_stack, "aws:kms/key:Key")
    assert cluster.dependencies["encryptionConfigKeyArn"] == (key_urn,)
    assert env_stack.by_urn(key_urn).inputs["enableKeyRotation"] is True


def test_eks_8_all_control_plane_logs(env_stack: SynthResult) -> None:
    assert set(one(env_stack, EKS)["enabledClusterLogTypes"]) == set(CONTROL_PLANE_LOG_TYPES) == {
        "api", "audit", "authenticator", "controllerManager", "scheduler"}


def test_eks_2_supported_version_pinned(env_stack: SynthResult) -> None:
    assert one(env_stack, EKS)["version"] in SUPPORTED_KUBERNETES_VERSIONS


def test_ec2_8_ec2_170_nodes_are_auto_mode_managed_with_imdsv2(env_stack: SynthResult) -> None:
    # Auto Mode nodes are AWS-managed with IMDSv2 required and hop limit 1; nothing of ours launches
    # instances, so no launch template or node group could weaken that.
    cluster = one(env_stack, EKS)
    assert cluster["autoMode"]["enabled"] is True
    assert cluster["skipDefaultNodeGroup"] is True
    for forbidden in ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance",
                      "eks:index:ManagedNodeGroup", "eks:index:NodeGroupV2", "aws:eks/nodeGroup:NodeGroup"):
        assert not env_stack.of_type(forbidden)
    for template in env_stack.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        meta = template.inputs["metadataOptions"]
        assert meta["httpTokens"] == "required" and meta["httpPutResponseHopLimit"] == 1


def test_rds_2_private_and_3306_only_from_cluster_security_group(env_stack: SynthResult) -> None:
    db = env_stack.of_type(RDS)[0]
    assert db.inputs["publiclyAccessible"] is False
    subnet_group = env_stack.by_urn(db.dependencies["dbSubnetGroupName"][0])
    private = {r.urn for r in env_stack.of_type("aws:ec2/subnet:Subnet") if "-private-" in r.name}
    assert set(subnet_group.dependencies["subnetIds"]) == private
    sg_urn = db.dependencies["vpcSecurityGroupIds"][0]
    sg = env_stack.by_urn(sg_urn)
    assert not sg.inputs.get("ingress") and not sg.inputs.get("egress")
    rules = [r for r in env_stack.resources
             if r.type.startswith("aws:vpc/securityGroupIngressRule") or r.type == "aws:ec2/securityGroupRule:SecurityGroupRule"]
    into_db = [r for r in rules if r.dependencies.get("securityGroupId") == (sg_urn,)]
    assert len(into_db) == 1
    rule = into_db[0]
    assert rule.inputs["fromPort"] == rule.inputs["toPort"] == 3306
    assert "cidrIpv4" not in rule.inputs
    assert rule.dependencies["referencedSecurityGroupId"] == (_urn_of(env_stack, EKS),)


def test_rds_3_storage_encrypted(env_stack: SynthResult) -> None:
    assert one(env_stack, RDS)["storageEncrypted"] is True


def test_rds_11_backups_and_final_snapshot(env_stack: SynthResult) -> None:
    db = one(env_stack, RDS)
    assert db["backupRetentionPeriod"] >= 7
    if env_stack.stack == "prod":
        assert db["skipFinalSnapshot"] is False and db["finalSnapshotIdentifier"]


def test_rds_5_rds_8_prod_multi_az_and_deletion_protection(prod: SynthResult) -> None:
    db = prod.of_type(RDS)[0]
    assert db.inputs["multiAz"] is True
    assert db.inputs["deletionProtection"] is True


def test_rds_13_rds_9_rds_17_upgrades_logs_tags(env_stack: SynthResult) -> None:
    db = one(env_stack, RDS)
    assert db["autoMinorVersionUpgrade"] is True
    assert set(db["enabledCloudwatchLogsExports"]) >= {"error", "slowquery"}
    assert db["copyTagsToSnapshot"] is True


def test_rds_parameter_group_utf8mb4(env_stack: SynthResult) -> None:
    params = {p["name"]: p["value"] for p in one(env_stack, "aws:rds/parameterGroup:ParameterGroup")["parameters"]}
    assert params["character_set_server"] == "utf8mb4"
    assert params["collation_server"].startswith("utf8mb4")


def test_ec2_6_vpc_flow_logs_with_retention(env_stack: SynthResult) -> None:
    flow = env_stack.of_type("aws:ec2/flowLog:FlowLog")[0]
    assert flow.dependencies["vpcId"] == (_urn_of(env_stack, "aws:ec2/vpc:Vpc"),)
    assert flow.inputs["trafficType"] == "ALL"
    log_group = env_stack.by_urn(flow.dependencies["logDestination"][0])
    assert log_group.type == "aws:cloudwatch/logGroup:LogGroup"
    assert log_group.inputs["retentionInDays"] > 0


def test_ec2_2_default_security_group_has_no_rules(env_stack: SynthResult) -> None:
    default_sg = one(env_stack, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg["ingress"] == [] and default_sg["egress"] == []


def test_ec2_15_no_subnet_maps_public_ips(env_stack: SynthResult) -> None:
    subnets = env_stack.of_type("aws:ec2/subnet:Subnet")
    assert subnets
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)


def test_iam_1_iam_21_no_wildcard_actions(env_stack: SynthResult) -> None:
    documents = [(res.name, field, res.inputs[field]) for res in env_stack.resources if res.type.startswith("aws:iam/")
                 for field in ("policy", "assumeRolePolicy") if field in res.inputs]
    assert len(documents) >= 2, "at least the flow-log role's trust policy and its policy are checked"
    checked = 0
    for name, field, document in documents:
        assert document not in ("[unknown]", "[secret]"), f"{name}.{field} must be reviewable offline"
        for statement in json.loads(document)["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert actions and all("*" not in a for a in actions), (name, actions)
            checked += 1
    assert checked >= len(documents), "every document has at least one statement"


def test_ghost_faq_exactly_one_replica_recreate(any_stack: SynthResult) -> None:
    spec = one(any_stack, "kubernetes:apps/v1:Deployment")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def test_ckv_k8s_8_to_13_probes_requests_and_limits(any_stack: SynthResult) -> None:
    c = container(any_stack)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/ghost/api/admin/site/"
        assert {"name": "X-Forwarded-Proto", "value": "https"} in c[probe]["httpGet"]["httpHeaders"]
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}


def test_ckv_k8s_20_22_23_28_29_30_31_37_38_pod_hardening(any_stack: SynthResult) -> None:
    for kind in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job"):
        pod = one(any_stack, kind)["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["runAsNonRoot"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"])
    sa = one(any_stack, "kubernetes:core/v1:ServiceAccount")
    assert sa["automountServiceAccountToken"] is False


def test_ckv_k8s_14_43_image_pinned_never_latest(any_stack: SynthResult) -> None:
    for kind in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job"):
        image = container(any_stack, kind)["image"]
        assert ":" in image and not image.endswith(":latest")
    assert container(any_stack)["image"].startswith("ghost:6.")


def test_ckv_k8s_21_ckv2_k8s_6_own_namespace_and_network_policy(any_stack: SynthResult) -> None:
    ns = one(any_stack, "kubernetes:core/v1:Namespace")["metadata"]
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for res, manifest in any_stack.manifests():
        if manifest["kind"] in {"Namespace", "StorageClass", "IngressClass", "IngressClassParams", "NodeClass", "NodePool"}:
            continue  # cluster-scoped
        if manifest["metadata"]["name"] == "amazon-vpc-cni":  # Auto Mode's network policy switch lives in kube-system
            assert manifest["metadata"]["namespace"] == "kube-system" and set(manifest["data"]) == {
                "enable-network-policy-controller"}
            continue
        assert manifest["metadata"]["namespace"] == ns["name"], res.name
    pod_labels = one(any_stack, "kubernetes:apps/v1:Deployment")["spec"]["template"]["metadata"]["labels"]
    policies = [r.inputs["spec"] for r in any_stack.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")]
    selecting = [p for p in policies if all(pod_labels.get(k) == v for k, v in p["podSelector"].get("matchLabels", {}).items())]
    assert any(p["podSelector"] == {} for p in selecting), "a default-deny policy selects every pod"
    ghost_policy = next(p for p in selecting if p["podSelector"].get("matchLabels"))
    assert [port["port"] for rule in ghost_policy["ingress"] for port in rule["ports"]] == [2368]
    egress_ports = sorted(port["port"] for rule in ghost_policy["egress"] for port in rule["ports"])
    assert set(egress_ports) <= {53, 3306, 443, 587, 465, 25}


def test_elb_1_elb_4_https_redirect_and_invalid_headers_dropped(prod: SynthResult, dev: SynthResult) -> None:
    annotations = one(prod, "kubernetes:networking.k8s.io/v1:Ingress")["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
    assert json.loads(annotations["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    for result in (prod, dev):
        ann = one(result, "kubernetes:networking.k8s.io/v1:Ingress")["metadata"]["annotations"]
        assert "routing.http.drop_invalid_header_fields.enabled=true" in ann["alb.ingress.kubernetes.io/load-balancer-attributes"]


def test_secrets_hygiene_no_literal_password_anywhere(any_stack: SynthResult) -> None:
    names = [env["name"].lower() for env in container(any_stack)["env"]]
    assert names and not [n for n in names if "password" in n or "pass" in n.split("__")], "no secret in env at all"
    secrets = any_stack.of_type("kubernetes:core/v1:Secret")
    assert secrets, "the database credentials reach Ghost through a Secret"
    assert all(secret.inputs["stringData"] == SECRET_MARKER for secret in secrets)
    databases = any_stack.of_type(RDS)
    assert databases or any_stack.stack.startswith("dev-"), "environment stacks own a database"
    assert all(db.inputs["password"] == SECRET_MARKER for db in databases)
    sensitive = {k: v for k, v in any_stack.outputs.items() if "password" in k.lower() or k == "kubeconfig"}
    assert all(v == SECRET_MARKER for v in sensitive.values()), sensitive
    assert sensitive or any_stack.stack.startswith("dev-"), "environment stacks export the kubeconfig and a password"


PROTECTED_IN_PROD = ("aws:kms/key:Key", EKS, RDS, "kubernetes:core/v1:Namespace", "kubernetes:core/v1:PersistentVolumeClaim")


def test_prod_protects_what_holds_its_data(prod: SynthResult, dev: SynthResult) -> None:
    """Pulumi `protect`: a destroy or a replacement of these stops until someone unprotects them on purpose."""
    for type_ in PROTECTED_IN_PROD:
        found = [r for r in prod.of_type(type_) if type_ != "aws:kms/key:Key" or "secrets" in r.name]
        assert found and all(r.protect for r in found), type_
        assert not any(r.protect for r in dev.of_type(type_)), f"dev stays disposable: {type_}"


def test_names_follow_zones_and_roles_not_list_positions(env_stack: SynthResult) -> None:
    zones = {r.inputs["availabilityZone"] for r in env_stack.of_type("aws:ec2/subnet:Subnet")}
    names = {r.name for r in env_stack.of_type("aws:ec2/subnet:Subnet")}
    assert names == {f"{env_stack.stack}-{kind}-{az}" for az in zones for kind in ("public", "private")}


def test_the_final_snapshot_name_is_unique_per_instance(prod: SynthResult) -> None:
    db = prod.of_type(RDS)[0]
    assert db.inputs["skipFinalSnapshot"] is False
    (final_id,) = prod.of_type("random:index/randomId:RandomId")
    assert db.dependencies["finalSnapshotIdentifier"] == (final_id.urn,)


def test_the_rds_ca_is_pinned_to_the_one_ghost_verifies(env_stack: SynthResult) -> None:
    assert env_stack.of_type(RDS)[0].inputs["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    params = {p["name"]: p["value"] for p in env_stack.of_type("aws:rds/parameterGroup:ParameterGroup")[0].inputs["parameters"]}
    assert params["require_secure_transport"] == "1"  # and Ghost connects with verified TLS (tests/real/test_ghost_real.py)


def test_no_default_kubernetes_provider(any_stack: SynthResult) -> None:
    from automation.config.stackconfig import load_stack_config
    from tests.support.paths import ROOT

    config = load_stack_config(ROOT, any_stack.stack)
    assert json.loads(config.values["pulumi:disable-default-providers"]) == ["kubernetes"]
    k8s = [r for r in any_stack.resources if r.type.startswith("kubernetes:") and r.custom]
    assert k8s and all(r.provider and "pulumi:providers:kubernetes" in r.provider for r in k8s)
