"""The Ghost blog on Kubernetes: one hardened, stateful-by-PVC, single-replica Deployment behind an ALB.

Ghost supports one instance per site (ghost.org FAQ), so the Deployment has exactly one replica and
the ``Recreate`` strategy. Its state lives in MySQL and in ``/var/lib/ghost/content`` (uploads, themes),
which is a PersistentVolumeClaim so it survives restarts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

GHOST_PORT = 2368
#: A high, unnamed UID (not the image's `node` user): the install is world-readable and the content is the volume,
#: which fsGroup makes writable. Proven by the real-client test (tests/real/test_ghost_real.py).
GHOST_UID = 10001
GHOST_INSTALL = "/var/lib/ghost"
CONTENT_PATH = f"{GHOST_INSTALL}/content"
CONFIG_PATH = f"{GHOST_INSTALL}/config.production.json"
HEALTH_PATH = "/ghost/api/admin/site/"
#: The mysql2 TLS profile with the Amazon RDS certificate authorities (bundled with the mysql2 Ghost ships).
RDS_SSL_PROFILE = "Amazon RDS"
#: Every printable special character but the quote characters and backslash; the bootstrap sends passwords as
#: escaped literals, so none of these can break it (a `#` once did, in a MySQL option file).
DB_PASSWORD_SPECIALS = "!#$%&()*+,-./:;<=>?@[]^_{|}~"  # noqa: S105 - a character set, not a password
SCRIPTS = Path(__file__).resolve().parent / "scripts"
#: The scripts the ConfigMap carries (mounted at /etc/ghost-config beside config.json).
SCRIPT_FILES = ("bootstrap.js", "provisioner.sql", "render-config.js")
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True)
class MailArgs:
    host: str
    port: int
    user: str
    password: pulumi.Input[str]
    from_address: str


@dataclass(frozen=True)
class ProvisionerArgs:
    """Environment stacks: the personal stacks' MySQL provisioner, which the bootstrap manages on the instance."""

    user: str
    #: its password: installed, with EXECUTE on the procedures of scripts/provisioner.sql as its only privilege;
    #: None: the environment hosts no personal stacks, and the bootstrap removes the user and the procedures
    password: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class GhostArgs:
    namespace: str
    image: str
    database_host: pulumi.Input[str]
    database_port: pulumi.Input[int]
    database_name: str
    database_admin_user: pulumi.Input[str]
    database_admin_password: pulumi.Input[str]
    storage_class_name: pulumi.Input[str]
    ingress_class_name: pulumi.Input[str]
    vpc_cidr: pulumi.Input[str]
    storage_gb: int
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    hostname: str | None = None
    certificate_arn: str | None = None
    mail: MailArgs | None = None
    #: staff sign-in from a new device e-mails a code: only workable with mail (Ghost answers 500 without it)
    staff_device_verification: bool = False
    #: PEM bundle of the database server's CA; None: mysql2's Amazon RDS profile (the RDS CAs)
    database_ca: str | None = None
    #: Pulumi `protect` on the namespace and the content volume (production): deleting them needs a deliberate unprotect
    protect: bool = False
    #: before a personal stack is destroyed: Ghost stopped, its database and MySQL user dropped by the Job
    teardown: bool = False
    #: environment stacks: the personal stacks' provisioner (installed or removed by the bootstrap)
    provisioner: ProvisionerArgs | None = None
    #: personal stacks: the admin credentials are the provisioner's; the bootstrap creates, re-passwords and drops
    #: the database and its user only through the provisioner's procedures
    database_via_provisioner: bool = False
    labels: dict[str, str] = field(default_factory=dict)


def _restricted_container_security() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False, read_only_root_filesystem=True, run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"))


def mysql_user(database_name: str) -> str:
    """Ghost's MySQL user for a database: ``ghost_<db>``, hashed down to MySQL's 32-character limit when longer."""
    user = f"ghost_{database_name}"
    if len(user) <= 32:
        return user
    digest = hashlib.sha256(database_name.encode()).hexdigest()[:8]
    return f"{user[:23]}_{digest}"


def _alb_url(status: Any) -> str:
    """Ghost's url when no hostname is configured: the ALB's DNS name, known once the Ingress is admitted."""
    return f"http://{status.load_balancer.ingress[0].hostname}"


def ghost_config(*, database_name: str, database_user: str, database_ca: str | None, mail: MailArgs | None,
                 staff_device_verification: bool) -> dict[str, Any]:
    """Ghost's config.production.json without its secrets (render-config.js adds them from Secret files) and
    without what only the cloud knows (the database host and port come as Ghost's own env overrides,
    ``database__connection__host``/``__port``), so previews show it whole.

    Replaces the image's own file, so it also sets what that one did (listen address, content path, logging).
    The database connection uses verified TLS: the RDS CAs, or ``database_ca``; never rejectUnauthorized=false.
    """
    config: dict[str, Any] = {
        "server": {"host": "::", "port": GHOST_PORT},
        "paths": {"contentPath": CONTENT_PATH},
        "logging": {"transports": ["stdout"]},
        "database": {"client": "mysql", "connection": {
            "user": database_user, "database": database_name,
            "ssl": {"ca": database_ca} if database_ca else RDS_SSL_PROFILE}},
        "security": {"staffDeviceVerification": staff_device_verification},
    }
    if mail is not None:
        config["mail"] = {"transport": "SMTP", "from": mail.from_address,
                          "options": {"host": mail.host, "port": mail.port, "secure": mail.port == 465, "auth": {}}}
    return config


def script(name: str) -> str:
    return (SCRIPTS / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class _Kit:
    """What every builder needs: the component's name (every object name derives from it), its labels, the
    namespace as an output (so Pulumi sees each object's dependency on it), and the parent."""

    name: str
    parent: pulumi.Resource
    labels: dict[str, str]
    selector: dict[str, str]
    job_selector: dict[str, str]
    namespace: pulumi.Input[str]

    def meta(self, obj: str, extra: dict[str, str] | None = None, **kw: Any) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=obj, namespace=self.namespace, labels={**self.labels, **(extra or {})},
                                          **kw)

    def opts(self, **kw: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent, **kw)


@dataclass(frozen=True)
class _Database:
    """Ghost's database credentials and settings, as the bootstrap Job and Ghost consume them."""

    user: str
    password: random.RandomPassword
    secret: k8s.core.v1.Secret
    admin_secret: k8s.core.v1.Secret
    provisioner_secret: k8s.core.v1.Secret | None
    mail_secret: k8s.core.v1.Secret | None
    config_map: k8s.core.v1.ConfigMap
    env: list[k8s.core.v1.EnvVarArgs]
    #: pod annotations: pods and the Job change (and so re-run) when the config or the database password change
    checksums: dict[str, pulumi.Input[str]]
    #: a hash of what the bootstrap Job runs (bootstrap.js, provisioner.sql): the Job re-runs when it changes
    bootstrap_sha: str


def _secret_volume(volume: str, secret: k8s.core.v1.Secret) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(name=volume, secret=k8s.core.v1.SecretVolumeSourceArgs(
        secret_name=secret.metadata.name, default_mode=0o440))


def _mount(volume: str, at: str, sub_path: str | None = None) -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name=volume, mount_path=at, read_only=True, sub_path=sub_path)


def _config_volume(db: _Database) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(name="scripts", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
        name=db.config_map.metadata.name, default_mode=0o444))


POD_SECURITY = k8s.core.v1.PodSecurityContextArgs(
    run_as_non_root=True, run_as_user=GHOST_UID, run_as_group=GHOST_UID, fs_group=GHOST_UID,
    fs_group_change_policy="OnRootMismatch", seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"))
TMP_VOLUME = k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="256Mi"))
TMP_MOUNT = k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")  # noqa: S108 - a private emptyDir
SMALL = k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "50m", "memory": "64Mi"},
                                             limits={"cpu": "250m", "memory": "256Mi"})


def _namespace(kit: _Kit, args: GhostArgs) -> k8s.core.v1.Namespace:
    return k8s.core.v1.Namespace(f"{kit.name}-ns", metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels={
        **kit.labels,
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted",
    }), opts=kit.opts(protect=args.protect))


def _database(kit: _Kit, args: GhostArgs) -> _Database:
    """Admin credentials only for the bootstrap Job; Ghost gets its own user. Non-secret settings and the two
    scripts in a ConfigMap, visible in previews and run as rendered by the real-client test."""
    name = kit.name
    user = mysql_user(args.database_name)
    password = random.RandomPassword(f"{name}-db", length=32, special=True, override_special=DB_PASSWORD_SPECIALS,
                                     opts=kit.opts())
    admin_secret = k8s.core.v1.Secret(f"{name}-db-admin", metadata=kit.meta(f"{name}-db-admin"), type="Opaque",
                                      string_data={"user": args.database_admin_user,
                                                   "password": pulumi.Output.from_input(args.database_admin_password).apply(pulumi.Output.secret)},
                                      opts=kit.opts())
    provisioner_secret = None
    if args.provisioner is not None and args.provisioner.password is not None:
        provisioner_secret = k8s.core.v1.Secret(f"{name}-db-provisioner", metadata=kit.meta(f"{name}-db-provisioner"),
                                                type="Opaque", string_data={
            "user": args.provisioner.user,
            "password": pulumi.Output.from_input(args.provisioner.password).apply(pulumi.Output.secret)}, opts=kit.opts())
    secret = k8s.core.v1.Secret(f"{name}-db", metadata=kit.meta(f"{name}-db"), type="Opaque", string_data={
        "password": password.result.apply(pulumi.Output.secret)}, opts=kit.opts())
    mail_secret = None
    if args.mail is not None:
        mail_secret = k8s.core.v1.Secret(f"{name}-mail", metadata=kit.meta(f"{name}-mail"), type="Opaque", string_data={
            "user": args.mail.user, "password": pulumi.Output.secret(args.mail.password)}, opts=kit.opts())
    config_json = json.dumps(ghost_config(
        database_name=args.database_name, database_user=user, database_ca=args.database_ca, mail=args.mail,
        staff_device_verification=args.staff_device_verification), indent=2, sort_keys=True)
    env = [k8s.core.v1.EnvVarArgs(name="database__connection__host", value=args.database_host),
           k8s.core.v1.EnvVarArgs(name="database__connection__port",
                                  value=pulumi.Output.from_input(args.database_port).apply(lambda p: str(int(p))))]
    scripts = {f: script(f) for f in SCRIPT_FILES}
    config_map = k8s.core.v1.ConfigMap(f"{name}-config", metadata=kit.meta(f"{name}-config"), data={
        "config.json": config_json, **scripts}, opts=kit.opts())
    bootstrap_sha = hashlib.sha256("\0".join(scripts[f] for f in ("bootstrap.js", "provisioner.sql")).encode()).hexdigest()[:16]
    # only a hash of the password is shown
    password_sha = pulumi.Output.unsecret(password.result.apply(lambda p: hashlib.sha256(p.encode()).hexdigest()[:16]))
    checksums: dict[str, pulumi.Input[str]] = {"ghost-gitops.dev/config-sha256": hashlib.sha256(config_json.encode()).hexdigest()[:16],
                                               "ghost-gitops.dev/db-password-sha256": password_sha}
    return _Database(user, password, secret, admin_secret, provisioner_secret, mail_secret, config_map, env, checksums,
                     bootstrap_sha)


def _bootstrap_job(kit: _Kit, args: GhostArgs, db: _Database) -> k8s.batch.v1.Job:
    """Creates Ghost's database and user (and, on environment stacks, the provisioner) with the Ghost image's own
    Node and mysql2: one image, one driver, Ghost's TLS settings. Its inputs name every Secret and the ConfigMap
    it mounts, so Pulumi orders it after them."""
    name = kit.name
    provisioner = db.provisioner_secret
    env = [*db.env, k8s.core.v1.EnvVarArgs(name="GHOST_DB_ACCESS",
                                           value="provisioner" if args.database_via_provisioner else "admin")]
    if args.provisioner is not None:
        env.append(k8s.core.v1.EnvVarArgs(name="GHOST_DB_PROVISIONER_USER", value=args.provisioner.user))
    if args.teardown:
        env.append(k8s.core.v1.EnvVarArgs(name="GHOST_BOOTSTRAP_MODE", value="drop"))
    return k8s.batch.v1.Job(f"{name}-db-bootstrap", metadata=kit.meta(f"{name}-db-bootstrap", kit.job_selector),
                            spec=k8s.batch.v1.JobSpecArgs(
        backoff_limit=4,
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels={**kit.labels, **kit.job_selector}, annotations={
                # the Job re-runs when what it runs changes (a new bootstrap upgrades the database in place)
                **db.checksums, "ghost-gitops.dev/bootstrap-sha256": db.bootstrap_sha}),
            spec=k8s.core.v1.PodSpecArgs(
                restart_policy="OnFailure",
                automount_service_account_token=False,
                security_context=POD_SECURITY,
                containers=[k8s.core.v1.ContainerArgs(
                    name="bootstrap", image=args.image, image_pull_policy="Always",
                    command=["node", "/etc/ghost-config/bootstrap.js"],
                    env=env,
                    resources=SMALL, security_context=_restricted_container_security(),
                    volume_mounts=[TMP_MOUNT, _mount("scripts", "/etc/ghost-config"),
                                   _mount("db", "/etc/ghost-db"), _mount("db-admin", "/etc/ghost-db-admin"),
                                   *([_mount("db-provisioner", "/etc/ghost-db-provisioner")] if provisioner else [])])],
                volumes=[TMP_VOLUME, _config_volume(db), _secret_volume("db", db.secret),
                         _secret_volume("db-admin", db.admin_secret),
                         *([_secret_volume("db-provisioner", provisioner)] if provisioner else [])]))),
        opts=kit.opts())


def _routing(kit: _Kit, args: GhostArgs) -> tuple[k8s.core.v1.PersistentVolumeClaim, pulumi.Output[str]]:
    """The content volume, the Service and the Ingress (an ALB); returns the volume claim and Ghost's url."""
    name = kit.name
    # WaitForFirstConsumer: the volume binds when the pod schedules, so Pulumi must not wait for it here.
    pvc = k8s.core.v1.PersistentVolumeClaim(f"{name}-content",
                                            metadata=kit.meta(f"{name}-content", annotations={"pulumi.com/skipAwait": "true"}),
                                            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                                                access_modes=["ReadWriteOnce"],
                                                storage_class_name=args.storage_class_name,
                                                resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                                                    requests={"storage": f"{args.storage_gb}Gi"})),
                                            opts=kit.opts(protect=args.protect))
    service = k8s.core.v1.Service(f"{name}-svc", metadata=kit.meta(name), spec=k8s.core.v1.ServiceSpecArgs(
        type="ClusterIP", selector=kit.selector,
        ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http", protocol="TCP")]), opts=kit.opts())
    https = args.hostname is not None and args.certificate_arn is not None
    annotations = {
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/healthcheck-path": HEALTH_PATH,
        "alb.ingress.kubernetes.io/success-codes": "200-399",
        "alb.ingress.kubernetes.io/load-balancer-attributes": "routing.http.drop_invalid_header_fields.enabled=true",
    }
    if https:
        annotations |= {
            "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
            "alb.ingress.kubernetes.io/ssl-redirect": "443",
            "alb.ingress.kubernetes.io/certificate-arn": str(args.certificate_arn),
            "alb.ingress.kubernetes.io/ssl-policy": TLS_POLICY,
        }
    else:
        annotations["alb.ingress.kubernetes.io/listen-ports"] = json.dumps([{"HTTP": 80}])
    ingress = k8s.networking.v1.Ingress(f"{name}-ingress", metadata=kit.meta(name, annotations=annotations),
                                        spec=k8s.networking.v1.IngressSpecArgs(
                                            ingress_class_name=args.ingress_class_name,
                                            rules=[k8s.networking.v1.IngressRuleArgs(
                                                host=args.hostname,
                                                http=k8s.networking.v1.HTTPIngressRuleValueArgs(paths=[
                                                    k8s.networking.v1.HTTPIngressPathArgs(
                                                        path="/", path_type="Prefix",
                                                        backend=k8s.networking.v1.IngressBackendArgs(
                                                            service=k8s.networking.v1.IngressServiceBackendArgs(
                                                                name=service.metadata.name,
                                                                port=k8s.networking.v1.ServiceBackendPortArgs(name="http"))))]))]),
                                        opts=kit.opts())
    if https:
        return pvc, pulumi.Output.from_input(f"https://{args.hostname}")
    return pvc, ingress.status.apply(_alb_url)  # Ghost's url follows the ALB's DNS name


def _network_policies(kit: _Kit, args: GhostArgs) -> None:
    """Default deny, then only what Ghost and the bootstrap Job need. DNS on port 53 to any destination: Auto Mode
    serves DNS from the node (a node-local cache), not from pods in kube-system, so a rule naming the kube-system
    namespace would block every lookup once enforced."""
    name = kit.name
    dns = k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="UDP", port=53),
               k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=53)])
    mysql = k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        to=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=args.vpc_cidr))],
        ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=3306)])
    outbound_ports = [443] + ([args.mail.port] if args.mail else [])
    k8s.networking.v1.NetworkPolicy(f"{name}-default-deny", metadata=kit.meta(f"{name}-default-deny"),
                                    spec=k8s.networking.v1.NetworkPolicySpecArgs(
                                        pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                                        policy_types=["Ingress", "Egress"]), opts=kit.opts())
    k8s.networking.v1.NetworkPolicy(f"{name}-netpol", metadata=kit.meta(name), spec=k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kit.selector),
        policy_types=["Ingress", "Egress"],
        ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=args.vpc_cidr))],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=GHOST_PORT)])],
        egress=[dns, mysql, k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0"))],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in outbound_ports])]),
        opts=kit.opts())
    k8s.networking.v1.NetworkPolicy(f"{name}-bootstrap-netpol", metadata=kit.meta(f"{name}-db-bootstrap"),
                                    spec=k8s.networking.v1.NetworkPolicySpecArgs(
                                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kit.job_selector),
                                        policy_types=["Ingress", "Egress"], egress=[dns, mysql]), opts=kit.opts())


def _workload(kit: _Kit, args: GhostArgs, db: _Database, pvc: k8s.core.v1.PersistentVolumeClaim,
              url: pulumi.Input[str], bootstrap: k8s.batch.v1.Job) -> k8s.apps.v1.Deployment:
    """The ServiceAccount and the single-replica Deployment. Only non-secret settings in env; the database and mail
    passwords reach Ghost in its config file, rendered by the init container into memory."""
    name = kit.name
    sa = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=kit.meta(name), automount_service_account_token=False,
                                    opts=kit.opts())
    probe_get = k8s.core.v1.HTTPGetActionArgs(path=HEALTH_PATH, port="http", http_headers=[
        k8s.core.v1.HTTPHeaderArgs(name="X-Forwarded-Proto", value="https")])
    env = [k8s.core.v1.EnvVarArgs(name="url", value=url), k8s.core.v1.EnvVarArgs(name="NODE_ENV", value="production"),
           *db.env]
    secret_mounts = [_mount("db", "/etc/ghost-db")] + ([_mount("mail", "/etc/ghost-mail")] if args.mail else [])
    config_dir = k8s.core.v1.VolumeArgs(name="config", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
        medium="Memory", size_limit="1Mi"))
    render = k8s.core.v1.ContainerArgs(
        name="config", image=args.image, image_pull_policy="Always", command=["node", "/etc/ghost-config/render-config.js"],
        resources=SMALL, security_context=_restricted_container_security(),
        volume_mounts=[_mount("scripts", "/etc/ghost-config"), *secret_mounts,
                       k8s.core.v1.VolumeMountArgs(name="config", mount_path="/config")])
    return k8s.apps.v1.Deployment(f"{name}-deployment", metadata=kit.meta(name), spec=k8s.apps.v1.DeploymentSpecArgs(
        replicas=0 if args.teardown else 1,  # Ghost supports exactly one instance per site
        strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kit.selector),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=kit.labels, annotations=db.checksums),
            spec=k8s.core.v1.PodSpecArgs(
                service_account_name=sa.metadata.name,
                automount_service_account_token=False,
                security_context=POD_SECURITY,
                init_containers=[render],
                containers=[k8s.core.v1.ContainerArgs(
                    name=name, image=args.image, image_pull_policy="Always",
                    ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=GHOST_PORT, protocol="TCP")],
                    env=env,
                    resources=k8s.core.v1.ResourceRequirementsArgs(
                        requests={"cpu": args.cpu_request, "memory": args.memory_request},
                        limits={"cpu": args.cpu_limit, "memory": args.memory_limit}),
                    startup_probe=k8s.core.v1.ProbeArgs(http_get=probe_get, period_seconds=10, failure_threshold=60),
                    readiness_probe=k8s.core.v1.ProbeArgs(http_get=probe_get, period_seconds=10, failure_threshold=3),
                    liveness_probe=k8s.core.v1.ProbeArgs(http_get=probe_get, period_seconds=20,
                                                         timeout_seconds=5, failure_threshold=3),
                    security_context=_restricted_container_security(),
                    volume_mounts=[k8s.core.v1.VolumeMountArgs(name="content", mount_path=CONTENT_PATH), TMP_MOUNT,
                                   _mount("config", CONFIG_PATH, sub_path="config.production.json")])],
                volumes=[k8s.core.v1.VolumeArgs(name="content", persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                    claim_name=pvc.metadata.name)), TMP_VOLUME, _config_volume(db), config_dir,
                    _secret_volume("db", db.secret),
                    *([_secret_volume("mail", db.mail_secret)] if db.mail_secret is not None else [])]))),
        # the one ordering no input carries: Ghost starts once its database and user exist
        opts=kit.opts(depends_on=[bootstrap]))


class Ghost(pulumi.ComponentResource):
    """Ghost as a few builders: namespace, database credentials and config, the bootstrap Job, routing, network
    policies, the workload. Every object's name derives from the component's name, and every object takes its
    namespace (and the Secrets, ConfigMap and volume claim it uses) as outputs, so Pulumi sees the dependencies."""

    url: pulumi.Output[str]
    #: what the engine probes after an `up` (environments.yaml `health.output: healthUrl`): the endpoint the
    #: pod's probes use, through the load balancer
    health_url: pulumi.Output[str]
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: GhostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ghost:apps:Ghost", name, None, opts)
        # Children inherit the explicit Kubernetes provider passed in `opts.providers`.
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": args.namespace,
                  "app.kubernetes.io/part-of": "ghost-gitops", "app.kubernetes.io/managed-by": "pulumi", **args.labels}
        kit = _Kit(name=name, parent=self, labels=labels, namespace=args.namespace,
                   selector={"app.kubernetes.io/name": name, "app.kubernetes.io/instance": args.namespace},
                   job_selector={"app.kubernetes.io/name": f"{name}-db-bootstrap",
                                 "app.kubernetes.io/instance": args.namespace})
        ns = _namespace(kit, args)
        kit = replace(kit, namespace=ns.metadata.apply(lambda m: str(m.name)))
        db = _database(kit, args)
        bootstrap = _bootstrap_job(kit, args, db)
        pvc, url = _routing(kit, args)
        _network_policies(kit, args)
        _workload(kit, args, db, pvc, url, bootstrap)

        self.url = url
        self.health_url = pulumi.Output.from_input(url).apply(lambda u: u.rstrip("/") + HEALTH_PATH)
        self.namespace = kit.namespace  # type: ignore[assignment]
        self.register_outputs({"url": self.url, "healthUrl": self.health_url, "namespace": self.namespace})
