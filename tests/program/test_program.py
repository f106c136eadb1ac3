"""Ghost requirements, dev/prod differences and personal stacks, on the real program's offline synth."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from automation.engines.synth import SECRET_MARKER, UNKNOWN_MARKER, SynthResult
from infra.network import subnet_cidrs
from tests.support.program import container, one


def _env(result: SynthResult) -> dict[str, dict]:
    return {e["name"]: e for e in container(result)["env"]}


def _ghost_config_map(result: SynthResult) -> dict:
    (found,) = [r.inputs for r in result.of_type("kubernetes:core/v1:ConfigMap") if r.inputs["metadata"]["name"] == "ghost-config"]
    return dict(found)


def _config(result: SynthResult) -> dict:
    return json.loads(_ghost_config_map(result)["data"]["config.json"])


def test_ghost_env_holds_no_secret_and_the_config_file_holds_the_rest(any_stack: SynthResult) -> None:
    env = _env(any_stack)
    assert set(env) == {"url", "NODE_ENV", "database__connection__host", "database__connection__port"}
    assert all("valueFrom" not in e for e in env.values()), "no secret reaches Ghost through env (CKV_K8S_35)"
    config = _config(any_stack)
    connection = config["database"]["connection"]
    assert config["database"]["client"] == "mysql" and "password" not in connection
    assert connection["ssl"] == "Amazon RDS", "TLS verified against the RDS CAs (mysql2's profile), never unverified"
    assert "rejectUnauthorized" not in json.dumps(config)
    assert config["security"] == {"staffDeviceVerification": False}, "no SMTP here: verification off, explicitly"
    assert "mail" not in config, "no SMTP configured in these stacks"
    assert config["server"] == {"host": "::", "port": 2368} and config["paths"] == {"contentPath": "/var/lib/ghost/content"}


def test_ghost_config_file_is_rendered_from_secret_files_by_an_init_container(any_stack: SynthResult) -> None:
    pod = one(any_stack, "kubernetes:apps/v1:Deployment")["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["command"] == ["node", "/etc/ghost-config/render-config.js"] and init["image"] == container(any_stack)["image"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["emptyDir"]["medium"] == "Memory"
    mounts = {m["mountPath"]: m for m in container(any_stack)["volumeMounts"]}
    assert mounts["/var/lib/ghost/config.production.json"] == {
        "name": "config", "mountPath": "/var/lib/ghost/config.production.json", "readOnly": True,
        "subPath": "config.production.json"}
    assert {m["mountPath"] for m in init["volumeMounts"]} == {"/etc/ghost-config", "/etc/ghost-db", "/config"}
    annotations = one(any_stack, "kubernetes:apps/v1:Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert set(annotations) == {"ghost-gitops.dev/config-sha256", "ghost-gitops.dev/db-password-sha256"}


def test_ghost_runs_as_a_high_uid_with_a_persistent_content_volume(any_stack: SynthResult) -> None:
    pod = one(any_stack, "kubernetes:apps/v1:Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["fsGroup"] == 10001
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/var/lib/ghost/content"]]["persistentVolumeClaim"]["claimName"] == "ghost-content"
    assert "emptyDir" in volumes[mounts["/tmp"]]
    pvc = one(any_stack, "kubernetes:core/v1:PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert container(any_stack)["ports"] == [{"name": "http", "containerPort": 2368, "protocol": "TCP"}]


def test_storage_class_is_encrypted_gp3_on_auto_mode(env_stack: SynthResult) -> None:
    sc = one(env_stack, "kubernetes:storage.k8s.io/v1:StorageClass")
    assert sc["provisioner"] == "ebs.csi.eks.amazonaws.com"
    assert sc["parameters"] == {"type": "gp3", "encrypted": "true"}
    pvc = env_stack.of_type("kubernetes:core/v1:PersistentVolumeClaim")[0]
    assert pvc.dependencies["spec"] == (env_stack.of_type("kubernetes:storage.k8s.io/v1:StorageClass")[0].urn,)
    classes = env_stack.of_type("kubernetes:networking.k8s.io/v1:IngressClass")
    assert sorted(c.inputs["metadata"]["name"] for c in classes) == ["alb", "alb-personal"]
    assert all(c.inputs["spec"]["controller"] == "eks.amazonaws.com/alb" for c in classes)


def test_url_https_with_hostname_else_follows_the_alb(prod: SynthResult, dev: SynthResult) -> None:
    assert _env(prod)["url"]["value"] == "https://blog.example.com"
    assert prod.outputs["ghostUrl"] == "https://blog.example.com"
    rule = one(prod, "kubernetes:networking.k8s.io/v1:Ingress")["spec"]["rules"][0]
    assert rule["host"] == "blog.example.com"
    # dev has no hostname: Ghost's url is the ALB's DNS name, which only the cloud knows
    assert _env(dev)["url"]["value"] == UNKNOWN_MARKER
    deployment = dev.of_type("kubernetes:apps/v1:Deployment")[0]
    assert dev.of_type("kubernetes:networking.k8s.io/v1:Ingress")[0].urn in deployment.dependencies["spec"]
    ann = one(dev, "kubernetes:networking.k8s.io/v1:Ingress")["metadata"]["annotations"]
    assert "alb.ingress.kubernetes.io/ssl-redirect" not in ann
    assert "host" not in one(dev, "kubernetes:networking.k8s.io/v1:Ingress")["spec"]["rules"][0]


def test_database_bootstrap_job_gives_ghost_its_own_user(any_stack: SynthResult) -> None:
    job = any_stack.of_type("kubernetes:batch/v1:Job")[0]
    pod = job.inputs["spec"]["template"]["spec"]
    (bootstrap,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in bootstrap["env"]}
    personal = any_stack.stack.startswith("dev-")
    expected = {"database__connection__host": env["database__connection__host"],
                "database__connection__port": env["database__connection__port"],
                "GHOST_DB_ACCESS": "provisioner" if personal else "admin",
                # environment stacks manage the personal stacks' provisioner: dev installs it, prod removes it
                **({} if personal else {"GHOST_DB_PROVISIONER_USER": "ghost_provisioner"})}
    assert env == expected
    assert all("valueFrom" not in e for e in bootstrap["env"]), "credentials are read from Secret files, not env"
    provisioner = {"ghost-db-provisioner"} if any_stack.stack == "dev" else set()  # only where personal stacks run
    assert {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v} == {"ghost-db", "ghost-db-admin", *provisioner}
    assert bootstrap["command"] == ["node", "/etc/ghost-config/bootstrap.js"]
    assert bootstrap["image"] == container(any_stack)["image"], "one image, one driver: Ghost's own Node and mysql2"
    data = _ghost_config_map(any_stack)["data"]
    script = data["bootstrap.js"]
    assert "CREATE USER IF NOT EXISTS" in script and "GRANT ALL PRIVILEGES ON ??.*" in script and "ssl: conn.ssl" in script
    assert "CREATE PROCEDURE gitops_provisioning.provision_personal" in data["provisioner.sql"]
    # the Job re-runs when Ghost's password changes (its pod template carries the password's hash), and when what
    # it runs changes (a new bootstrap upgrades the database in place: the provisioner's privileges)
    annotations = job.inputs["spec"]["template"]["metadata"]["annotations"]
    assert "ghost-gitops.dev/db-password-sha256" in annotations
    from apps.ghost.component import script as read_script

    scripts = "\0".join(read_script(f) for f in ("bootstrap.js", "provisioner.sql"))
    assert annotations["ghost-gitops.dev/bootstrap-sha256"] == hashlib.sha256(scripts.encode()).hexdigest()[:16]
    # Ghost never sees the admin secret
    deployment_pod = one(any_stack, "kubernetes:apps/v1:Deployment")["spec"]["template"]["spec"]
    assert all(v.get("secret", {}).get("secretName") != "ghost-db-admin" for v in deployment_pod["volumes"])


def test_dev_and_prod_differ_where_they_should(dev: SynthResult, prod: SynthResult) -> None:
    def count(result: SynthResult, type_: str) -> int:
        return len(result.of_type(type_))

    assert count(dev, "aws:ec2/natGateway:NatGateway") == 1
    assert count(prod, "aws:ec2/natGateway:NatGateway") == 3
    assert count(dev, "aws:ec2/subnet:Subnet") == 4
    assert count(prod, "aws:ec2/subnet:Subnet") == 6
    dev_db, prod_db = one(dev, "aws:rds/instance:Instance"), one(prod, "aws:rds/instance:Instance")
    assert (dev_db["multiAz"], dev_db["deletionProtection"], dev_db["skipFinalSnapshot"]) == (False, False, True)
    assert (prod_db["multiAz"], prod_db["deletionProtection"], prod_db["skipFinalSnapshot"]) == (True, True, False)
    assert prod_db["backupRetentionPeriod"] > dev_db["backupRetentionPeriod"]
    assert one(prod, "kubernetes:storage.k8s.io/v1:StorageClass")["reclaimPolicy"] == "Retain"
    assert one(dev, "kubernetes:storage.k8s.io/v1:StorageClass")["reclaimPolicy"] == "Delete"
    assert one(dev, "aws:ec2/vpc:Vpc")["cidrBlock"] != one(prod, "aws:ec2/vpc:Vpc")["cidrBlock"]


def test_subnets_follow_the_vpc_cidr(env_stack: SynthResult) -> None:
    vpc = one(env_stack, "aws:ec2/vpc:Vpc")["cidrBlock"]
    subnets = env_stack.of_type("aws:ec2/subnet:Subnet")
    public, private = subnet_cidrs(vpc, len(subnets) // 2)
    assert sorted(s.inputs["cidrBlock"] for s in subnets) == sorted(public + private)
    for s in subnets:
        role = "kubernetes.io/role/elb" if "-public-" in s.name else "kubernetes.io/role/internal-elb"
        assert s.inputs["tags"][role] == "1"


@pytest.mark.parametrize(("cidr", "zones"), [("10.0.0.0/16", 2), ("10.1.0.0/20", 4), ("172.16.0.0/18", 3)])
def test_subnet_cidrs_do_not_overlap(cidr: str, zones: int) -> None:
    import ipaddress

    public, private = subnet_cidrs(cidr, zones)
    nets = [ipaddress.IPv4Network(c) for c in public + private]
    assert len(nets) == 2 * zones
    assert all(n.subnet_of(ipaddress.IPv4Network(cidr)) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


def test_personal_stack_shares_the_integration_platform(personal: SynthResult) -> None:
    types = {r.type for r in personal.resources}
    assert not any(t.startswith("aws:") or t.startswith("eks:") for t in types), "no VPC, cluster or database of its own"
    ref = one(personal, "pulumi:pulumi:StackReference")
    assert ref["name"] == "organization/ghost-gitops/dev"
    ns = one(personal, "kubernetes:core/v1:Namespace")["metadata"]["name"]
    assert ns == "ghost-alice"
    assert personal.outputs["ghostNamespace"] == "ghost-alice"
    # everything Kubernetes goes through the provider built from the shared kubeconfig
    provider = personal.of_type("pulumi:providers:kubernetes")[0]
    assert provider.dependencies["kubeconfig"] == (personal.of_type("pulumi:pulumi:StackReference")[0].urn,)
    k8s_objects = [r for r in personal.resources if r.type.startswith("kubernetes:")]
    assert k8s_objects and all(r.provider and r.provider.startswith(provider.urn) for r in k8s_objects)
    assert not personal.of_type("kubernetes:storage.k8s.io/v1:StorageClass"), "cluster-scoped objects stay with dev"


def test_personal_stack_gets_its_own_database(personal: SynthResult, dev: SynthResult) -> None:
    assert personal.of_type("kubernetes:core/v1:Secret")[0].inputs["stringData"] == SECRET_MARKER
    # the database name is derived from the branch, so it differs from dev's
    from automation.config.stackconfig import load_stack_config
    from tests.support.paths import ROOT

    cfg = load_stack_config(ROOT, "dev-alice")
    assert cfg.values["ghost-gitops:ghostDatabaseName"] == "ghost_alice"
    assert cfg.values["ghost-gitops:environment"] == "personal"
    assert cfg.values.get("ghost-gitops:ghostHostname", "") == ""  # not inherited: only the project's empty default


def test_environment_stacks_use_their_explicit_provider(env_stack: SynthResult) -> None:
    provider = env_stack.of_type("pulumi:providers:kubernetes")[0]
    eks = env_stack.of_type("eks:index:Cluster")[0]
    assert provider.dependencies["kubeconfig"] == (eks.urn,)
    for r in env_stack.resources:
        if r.type.startswith("kubernetes:"):
            assert r.provider and r.provider.startswith(provider.urn), r.name


def test_components_register_their_children(env_stack: SynthResult) -> None:
    components = {r.urn: r.type for r in env_stack.resources if not r.custom}
    assert set(components.values()) >= {"ghost:infra:Network", "ghost:infra:Cluster", "ghost:infra:Database",
                                        "ghost:infra:ClusterAddons", "ghost:apps:Ghost"}
    for r in env_stack.resources:
        if r.custom and not r.type.startswith("pulumi:"):
            assert r.parent in components, f"{r.type} {r.name} is not inside a component"


def test_mysql_users_stay_unique_within_mysqls_32_characters() -> None:
    from apps.ghost.component import mysql_user

    a, b = mysql_user("ghost_" + "a" * 29 + "x"), mysql_user("ghost_" + "a" * 29 + "y")
    assert a != b and len(a) <= 32 and len(b) <= 32
    assert mysql_user("ghost") == "ghost_ghost"


def test_personal_stack_config_ignores_a_generated_stack_file_and_refuses_a_hand_written_one(project_copy) -> None:
    from automation.config.environments import parse_environments
    from automation.config.stackconfig import ENGINE_WRITTEN_HEADER, load_stack_config
    from automation.model.errors import ConfigError

    stale = "config:\n  ghost-gitops:ghostStorageGb: 99\n"
    (project_copy / "Pulumi.dev-alice.yaml").write_text(f"{ENGINE_WRITTEN_HEADER}\n{stale}")
    envs = parse_environments({"environments": [
        {"branch": "main", "stack": "dev", "kind": "environment"},
        {"branch": "dev/{name}", "stack": "dev-{name}", "kind": "personal", "template": "dev"}]}, "e.yaml")
    cfg = envs.stack_config(project_copy, "dev-alice")
    assert cfg.values["ghost-gitops:ghostStorageGb"] == "5", "derived from Pulumi.dev.yaml, not the engine's output"
    assert cfg.personal is not None and cfg.source.startswith("Pulumi.dev.yaml + derived")
    assert load_stack_config(project_copy, "dev").personal is None
    # the same settings written by hand: never silently ignored
    (project_copy / "Pulumi.dev-alice.yaml").write_text(stale)
    with pytest.raises(ConfigError, match=r"Pulumi.dev-alice.yaml is not read: personal stack 'dev-alice' takes its "
                       r"config from Pulumi.dev.yaml .* move the settings you need into Pulumi.dev.yaml"):
        envs.stack_config(project_copy, "dev-alice")


def test_every_name_a_personal_stack_reads_is_exported_by_dev(dev: SynthResult, prod: SynthResult) -> None:
    """The shared-platform contract (infra/platform.py: SharedPlatform) is one type for both sides."""
    from infra.platform import SharedPlatform

    assert set(SharedPlatform.names()) <= set(dev.outputs), set(SharedPlatform.names()) - set(dev.outputs)
    for name, secret in SharedPlatform.names().items():
        assert (dev.outputs[name] == "[secret]") == secret, (name, dev.outputs[name])
    # prod hosts no personal stacks: the same contract but the provisioner, which it neither creates nor exports
    assert set(SharedPlatform.names()) - set(prod.outputs) == SharedPlatform.PROVISIONER == {
        "dbProvisionerUser", "dbProvisionerPassword"}


def test_personal_stacks_share_one_alb_through_an_ingress_group(dev: SynthResult) -> None:
    params = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in dev.resources if r.inputs.get("kind") == "IngressClassParams"}
    assert params["alb-personal"]["group"] == {"name": "ghost-personal"}
    assert "group" not in params["alb"], "the environment's own blog keeps its own ALB"
    assert dev.outputs["personalIngressClassName"] == "alb-personal"


def test_a_personal_teardown_stops_ghost_and_drops_its_database() -> None:
    """What the engine's `up` before destroying a personal stack renders (environments.yaml: before_destroy_config)."""
    from dataclasses import replace

    from automation.config.environments import load_environments
    from automation.engines.synth import synthesize
    from tests.support.paths import ROOT

    envs = load_environments(ROOT)
    (rule,) = [r for r in envs.rules if r.kind == "personal"]
    assert rule.before_destroy_config == {"ghost-gitops:ghostTeardown": "true"}
    config = envs.stack_config(ROOT, "dev-alice")
    torn = synthesize(ROOT, replace(config, values={**config.values, **rule.before_destroy_config}))
    assert one(torn, "kubernetes:apps/v1:Deployment")["spec"]["replicas"] == 0
    (job,) = torn.of_type("kubernetes:batch/v1:Job")
    env = {e["name"]: e.get("value") for e in job.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GHOST_BOOTSTRAP_MODE"] == "drop" and env["GHOST_DB_ACCESS"] == "provisioner"
    data = _ghost_config_map(torn)["data"]
    assert "CALL ${PROVISIONING_SCHEMA}.drop_personal(?)" in data["bootstrap.js"]
    assert "DROP DATABASE IF EXISTS `" in data["provisioner.sql"] and "DROP USER IF EXISTS" in data["provisioner.sql"]


def test_personal_stacks_get_a_provisioner_not_the_rds_master(dev: SynthResult, personal: SynthResult) -> None:
    """dev's bootstrap installs a MySQL user that may only call the provisioner's procedures; a personal stack's admin
    Secret holds that user, never the RDS master, which only environment stacks see."""
    secret = {r.inputs["metadata"]["name"]: r for r in dev.of_type("kubernetes:core/v1:Secret")}["ghost-db-provisioner"]
    assert secret.inputs["stringData"] == "[secret]"
    from infra.platform import PROVISIONER_USER, SharedPlatform

    names = SharedPlatform.names()
    assert "dbProvisionerPassword" in names and names["dbProvisionerPassword"] is True
    assert not any("Admin" in n for n in names), "the RDS master never leaves the environment stack"
    assert dev.outputs["dbProvisionerUser"] == PROVISIONER_USER
    (admin,) = [r for r in personal.of_type("kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] == "ghost-db-admin"]
    shared = next(r for r in personal.resources if r.type == "pulumi:pulumi:StackReference")
    assert shared.urn in admin.dependencies["stringData"], "the personal admin Secret comes from dev's provisioner output"
    assert len([r for r in dev.of_type("random:index/randomPassword:RandomPassword") if "provisioner" in r.name]) == 1


def test_prod_declares_no_provisioner(prod: SynthResult) -> None:
    """prod hosts no personal stacks: no provisioner password, no provisioner Secret, nothing exported; its bootstrap
    removes a provisioner an earlier version created (GHOST_DB_PROVISIONER_USER without the Secret mounted)."""
    assert not [r for r in prod.resources if "provisioner" in r.name], [r.name for r in prod.resources if "provisioner" in r.name]
    assert not [k for k in prod.outputs if "Provisioner" in k]
    (job,) = prod.of_type("kubernetes:batch/v1:Job")
    pod = job.inputs["spec"]["template"]["spec"]
    assert all("provisioner" not in v["name"] for v in pod["volumes"])
    assert {e["name"]: e["value"] for e in pod["containers"][0]["env"]}["GHOST_DB_PROVISIONER_USER"] == "ghost_provisioner"


def test_only_templates_of_personal_rules_host_personal_stacks() -> None:
    """hostsPersonalStacks is true exactly on the stacks environments.yaml names as a personal rule's template; a
    personal stack on another template is refused with the fix, and personal stacks never inherit the key."""
    from automation.config.environments import load_environments
    from automation.config.stackconfig import PersonalSpec, load_stack_config
    from automation.model.errors import ConfigError
    from tests.support.paths import ROOT

    envs = load_environments(ROOT)
    templates = {r.template for r in envs.rules if r.kind == "personal"}
    for rule in envs.rules:
        if rule.kind == "environment":
            values = load_stack_config(ROOT, rule.stack).values
            assert (values["ghost-gitops:hostsPersonalStacks"] == "true") == (rule.stack in templates), rule.stack
    assert load_stack_config(ROOT, "dev-alice").values["ghost-gitops:hostsPersonalStacks"] == "false"
    with pytest.raises(ConfigError, match=re.escape("does not host personal stacks: set `ghost-gitops:hostsPersonalStacks: true` in Pulumi.prod.yaml")):
        load_stack_config(ROOT, "prod-alice", PersonalSpec.of("ghost-gitops", "alice", "prod"))


def test_ghost_objects_are_wired_to_what_they_use_through_outputs(any_stack: SynthResult) -> None:
    """Every namespaced object takes its namespace from the Namespace resource, and the Job and the Deployment
    name the Secrets, ConfigMap and volume claim they mount: Pulumi orders them without hand-kept lists."""
    (ns,) = any_stack.of_type("kubernetes:core/v1:Namespace")
    namespaced = [r for r in any_stack.resources if r.type.startswith("kubernetes:") and r.parent
                  and "ghost:apps:Ghost" in r.parent and r.type != "kubernetes:core/v1:Namespace"]
    assert len(namespaced) >= 12, [r.type for r in namespaced]
    for res in namespaced:
        assert ns.urn in res.dependencies.get("metadata", ()), f"{res.type} {res.name} does not use the Namespace output"
    k8s_by_name = {r.name: r.urn for r in namespaced}
    (job,) = any_stack.of_type("kubernetes:batch/v1:Job")
    (deployment,) = any_stack.of_type("kubernetes:apps/v1:Deployment")
    assert {k8s_by_name["ghost-db"], k8s_by_name["ghost-db-admin"], k8s_by_name["ghost-config"]} <= set(job.dependencies["spec"])
    assert {k8s_by_name["ghost-db"], k8s_by_name["ghost-config"], k8s_by_name["ghost-content"],
            k8s_by_name["ghost-sa"]} <= set(deployment.dependencies["spec"])
