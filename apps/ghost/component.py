"""The Ghost blog on Kubernetes: one hardened, stateful-by-PVC, single-replica Deployment behind an ALB.

Ghost supports one instance per site (ghost.org FAQ), so the Deployment has exactly one replica and
the ``Recreate`` strategy. Its state lives in MySQL and in ``/var/lib/ghost/content`` (uploads, themes),
which is a PersistentVolumeClaim so it survives restarts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

GHOST_PORT = 2368
GHOST_UID = 1000  # the image's `node` user, which owns /var/lib/ghost
CONTENT_PATH = "/var/lib/ghost/content"
HEALTH_PATH = "/ghost/api/admin/site/"
#: The database bootstrap Job's client. It runs as a high, unnamed UID; it only needs /tmp.
MYSQL_CLIENT_IMAGE = "mysql:8.4.6"
MYSQL_CLIENT_UID = 10001
DB_PASSWORD_SPECIALS = "!#%^*()-_=+[]{}<>:?"  # no quote, backslash or '$': safe inside the bootstrap SQL  # noqa: S105 - a character set, not a password
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True)
class MailArgs:
    host: str
    port: int
    user: str
    password: pulumi.Input[str]
    from_address: str


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
    labels: dict[str, str] = field(default_factory=dict)


def _restricted_container_security() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False, read_only_root_filesystem=True, run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"))


def _secret_env(name: str, secret: str, key: str) -> k8s.core.v1.EnvVarArgs:
    return k8s.core.v1.EnvVarArgs(name=name, value_from=k8s.core.v1.EnvVarSourceArgs(
        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret, key=key)))


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


def bootstrap_script() -> str:
    """Idempotent SQL for the database and least-privilege user Ghost runs with.

    Credentials are read from the mounted Secret files, never from the command line or env.
    """
    return "\n".join([
        "set -eu",
        "umask 077",
        *[f'{var}="$(cat /etc/{secret}/{key})"' for var, secret, key in (
            ("DB_HOST", "ghost-db", "host"), ("DB_PORT", "ghost-db", "port"), ("DB_NAME", "ghost-db", "database"),
            ("DB_USER", "ghost-db", "user"), ("DB_PASSWORD", "ghost-db", "password"),
            ("ADMIN_USER", "ghost-db-admin", "user"), ("ADMIN_PASSWORD", "ghost-db-admin", "password"))],
        "printf '[client]\\nuser=%s\\npassword=%s\\nhost=%s\\nport=%s\\n' "
        '"$ADMIN_USER" "$ADMIN_PASSWORD" "$DB_HOST" "$DB_PORT" > /tmp/admin.cnf',
        'mysql --defaults-extra-file=/tmp/admin.cnf --ssl-mode=REQUIRED <<SQL',
        "CREATE DATABASE IF NOT EXISTS \\`$DB_NAME\\` CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;",
        "CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';",
        "ALTER USER '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';",
        "GRANT ALL PRIVILEGES ON \\`$DB_NAME\\`.* TO '$DB_USER'@'%';",
        "SQL",
        "rm -f /tmp/admin.cnf",
    ])


class Ghost(pulumi.ComponentResource):
    url: pulumi.Output[str]
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: GhostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ghost:apps:Ghost", name, None, opts)
        # Children inherit the explicit Kubernetes provider passed in `opts.providers`.
        child = pulumi.ResourceOptions(parent=self)
        ns_name = args.namespace
        labels = {"app.kubernetes.io/name": "ghost", "app.kubernetes.io/instance": ns_name,
                  "app.kubernetes.io/part-of": "ghost-gitops", "app.kubernetes.io/managed-by": "pulumi", **args.labels}
        selector = {"app.kubernetes.io/name": "ghost", "app.kubernetes.io/instance": ns_name}
        job_selector = {"app.kubernetes.io/name": "ghost-db-bootstrap", "app.kubernetes.io/instance": ns_name}

        def meta(obj: str, extra: dict[str, str] | None = None, **kw: object) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=obj, namespace=ns_name, labels={**labels, **(extra or {})}, **kw)  # type: ignore[arg-type]

        ns = k8s.core.v1.Namespace(f"{name}-ns", metadata=k8s.meta.v1.ObjectMetaArgs(name=ns_name, labels={
            **labels,
            "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted",
        }), opts=child)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])

        # -- database: admin credentials only for the bootstrap Job; Ghost gets its own user ----------
        db_user = mysql_user(args.database_name)
        db_password = random.RandomPassword(f"{name}-db", length=32, special=True,
                                            override_special=DB_PASSWORD_SPECIALS, opts=child)
        admin_secret = k8s.core.v1.Secret(f"{name}-db-admin", metadata=meta("ghost-db-admin"), type="Opaque",
                                          string_data={"user": args.database_admin_user,
                                                       "password": pulumi.Output.from_input(args.database_admin_password).apply(pulumi.Output.secret)},
                                          opts=in_ns)
        db_secret = k8s.core.v1.Secret(f"{name}-db", metadata=meta("ghost-db"), type="Opaque", string_data={
            "host": args.database_host,
            "port": pulumi.Output.from_input(args.database_port).apply(lambda p: str(int(p))),
            "database": args.database_name,
            "user": db_user,
            "password": db_password.result.apply(pulumi.Output.secret),
        }, opts=in_ns)

        tmp_volume = k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="256Mi"))
        tmp_mount = k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")  # noqa: S108 - a private emptyDir
        bootstrap = k8s.batch.v1.Job(f"{name}-db-bootstrap", metadata=meta("ghost-db-bootstrap", job_selector), spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=4,
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, **job_selector}),
                spec=k8s.core.v1.PodSpecArgs(
                    restart_policy="OnFailure",
                    automount_service_account_token=False,
                    security_context=k8s.core.v1.PodSecurityContextArgs(
                        run_as_non_root=True, run_as_user=MYSQL_CLIENT_UID, run_as_group=MYSQL_CLIENT_UID,
                        fs_group=MYSQL_CLIENT_UID, seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
                    containers=[k8s.core.v1.ContainerArgs(
                        name="bootstrap", image=MYSQL_CLIENT_IMAGE, image_pull_policy="Always",
                        command=["/bin/sh", "-c", bootstrap_script()],
                        resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "50m", "memory": "64Mi"},
                                                                       limits={"cpu": "250m", "memory": "256Mi"}),
                        security_context=_restricted_container_security(),
                        volume_mounts=[tmp_mount, *[k8s.core.v1.VolumeMountArgs(name=sec, mount_path=f"/etc/{sec}", read_only=True)
                                                    for sec in ("ghost-db", "ghost-db-admin")]])],
                    volumes=[tmp_volume, *[k8s.core.v1.VolumeArgs(name=sec, secret=k8s.core.v1.SecretVolumeSourceArgs(
                        secret_name=sec, default_mode=0o440)) for sec in ("ghost-db", "ghost-db-admin")]]))),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns, admin_secret, db_secret]))

        # -- mail (optional) ------------------------------------------------------------------------
        env: list[k8s.core.v1.EnvVarArgs] = []
        mail_secret = None
        if args.mail is not None:
            mail_secret = k8s.core.v1.Secret(f"{name}-mail", metadata=meta("ghost-mail"), type="Opaque", string_data={
                "user": args.mail.user, "password": pulumi.Output.secret(args.mail.password)}, opts=in_ns)
            env += [
                k8s.core.v1.EnvVarArgs(name="mail__transport", value="SMTP"),
                k8s.core.v1.EnvVarArgs(name="mail__from", value=args.mail.from_address),
                k8s.core.v1.EnvVarArgs(name="mail__options__host", value=args.mail.host),
                k8s.core.v1.EnvVarArgs(name="mail__options__port", value=str(args.mail.port)),
                k8s.core.v1.EnvVarArgs(name="mail__options__secure", value="true" if args.mail.port == 465 else "false"),
                _secret_env("mail__options__auth__user", "ghost-mail", "user"),
                _secret_env("mail__options__auth__pass", "ghost-mail", "password"),
            ]

        # -- storage, service, ingress --------------------------------------------------------------
        # WaitForFirstConsumer: the volume binds when the pod schedules, so Pulumi must not wait for it here.
        pvc = k8s.core.v1.PersistentVolumeClaim(f"{name}-content",
                                                metadata=meta("ghost-content", annotations={"pulumi.com/skipAwait": "true"}),
                                                spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                                                    access_modes=["ReadWriteOnce"],
                                                    storage_class_name=args.storage_class_name,
                                                    resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                                                        requests={"storage": f"{args.storage_gb}Gi"})),
                                                opts=in_ns)
        service = k8s.core.v1.Service(f"{name}-svc", metadata=meta("ghost"), spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP", selector=selector,
            ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http", protocol="TCP")]), opts=in_ns)

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
        ingress = k8s.networking.v1.Ingress(f"{name}-ingress", metadata=meta("ghost", annotations=annotations),
                                            spec=k8s.networking.v1.IngressSpecArgs(
                                                ingress_class_name=args.ingress_class_name,
                                                rules=[k8s.networking.v1.IngressRuleArgs(
                                                    host=args.hostname,
                                                    http=k8s.networking.v1.HTTPIngressRuleValueArgs(paths=[
                                                        k8s.networking.v1.HTTPIngressPathArgs(
                                                            path="/", path_type="Prefix",
                                                            backend=k8s.networking.v1.IngressBackendArgs(
                                                                service=k8s.networking.v1.IngressServiceBackendArgs(
                                                                    name="ghost",
                                                                    port=k8s.networking.v1.ServiceBackendPortArgs(name="http"))))]))]),
                                            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns, service]))
        if https:
            url: pulumi.Output[str] = pulumi.Output.from_input(f"https://{args.hostname}")
        else:  # Ghost's url follows the ALB's DNS name
            url = ingress.status.apply(_alb_url)

        # -- network policy: default deny, then only what Ghost and the bootstrap Job need ----------
        dns = k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels={"kubernetes.io/metadata.name": "kube-system"}))],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="UDP", port=53),
                   k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=53)])
        mysql = k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=args.vpc_cidr))],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=3306)])
        outbound_ports = [443] + ([args.mail.port] if args.mail else [])
        k8s.networking.v1.NetworkPolicy(f"{name}-default-deny", metadata=meta("default-deny"),
                                        spec=k8s.networking.v1.NetworkPolicySpecArgs(
                                            pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                                            policy_types=["Ingress", "Egress"]), opts=in_ns)
        k8s.networking.v1.NetworkPolicy(f"{name}-netpol", metadata=meta("ghost"), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=args.vpc_cidr))],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=GHOST_PORT)])],
            egress=[dns, mysql, k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0"))],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in outbound_ports])]),
            opts=in_ns)
        k8s.networking.v1.NetworkPolicy(f"{name}-bootstrap-netpol", metadata=meta("ghost-db-bootstrap"),
                                        spec=k8s.networking.v1.NetworkPolicySpecArgs(
                                            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=job_selector),
                                            policy_types=["Ingress", "Egress"], egress=[dns, mysql]), opts=in_ns)

        # -- the workload ---------------------------------------------------------------------------
        sa = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta("ghost"), automount_service_account_token=False, opts=in_ns)
        probe_get = k8s.core.v1.HTTPGetActionArgs(path=HEALTH_PATH, port="http", http_headers=[
            k8s.core.v1.HTTPHeaderArgs(name="X-Forwarded-Proto", value="https")])
        env = [
            k8s.core.v1.EnvVarArgs(name="url", value=url),
            k8s.core.v1.EnvVarArgs(name="NODE_ENV", value="production"),
            k8s.core.v1.EnvVarArgs(name="database__client", value="mysql"),
            _secret_env("database__connection__host", "ghost-db", "host"),
            _secret_env("database__connection__port", "ghost-db", "port"),
            _secret_env("database__connection__database", "ghost-db", "database"),
            _secret_env("database__connection__user", "ghost-db", "user"),
            _secret_env("database__connection__password", "ghost-db", "password"),
            *env,
        ]
        k8s.apps.v1.Deployment(f"{name}-deployment", metadata=meta("ghost"), spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=1,  # Ghost supports exactly one instance per site
            strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PodSpecArgs(
                    service_account_name="ghost",
                    automount_service_account_token=False,
                    security_context=k8s.core.v1.PodSecurityContextArgs(
                        run_as_non_root=True, run_as_user=GHOST_UID, run_as_group=GHOST_UID, fs_group=GHOST_UID,
                        fs_group_change_policy="OnRootMismatch",
                        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
                    containers=[k8s.core.v1.ContainerArgs(
                        name="ghost", image=args.image, image_pull_policy="Always",
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
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="content", mount_path=CONTENT_PATH), tmp_mount])],
                    volumes=[k8s.core.v1.VolumeArgs(name="content", persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                        claim_name="ghost-content")), tmp_volume]))),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[d for d in (ns, sa, pvc, bootstrap, db_secret, mail_secret) if d]))

        self.url = url
        self.namespace = ns.metadata.apply(lambda m: str(m.name))
        self.register_outputs({"url": self.url, "namespace": self.namespace})
