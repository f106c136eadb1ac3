"""How the program feeds a stack's settings and platform to Ghost: one function, used by ``__main__.py`` and by
the Kubernetes harness that applies the Ghost component in the shape dev and prod use it
(tests/real/test_k8s_real.py), so both build exactly the same arguments."""

from __future__ import annotations

import pulumi

from apps.ghost import GhostArgs, MailArgs, ProvisionerArgs
from infra.platform import Platform
from infra.settings import Settings


def ghost_args(settings: Settings, platform: Platform) -> GhostArgs:
    mail = None
    if settings.mail_enabled:
        assert settings.smtp_host and settings.smtp_user and settings.smtp_password and settings.mail_from
        mail = MailArgs(host=settings.smtp_host, port=settings.smtp_port, user=settings.smtp_user,
                        password=pulumi.Output.secret(settings.smtp_password.get_secret_value()),
                        from_address=settings.mail_from)
    return GhostArgs(
        namespace=settings.ghost_namespace, image=settings.ghost_image,
        database_host=platform.db_host, database_port=platform.db_port, database_name=settings.ghost_database_name,
        database_admin_user=platform.db_admin_user, database_admin_password=platform.db_admin_password,
        storage_class_name=platform.storage_class_name, ingress_class_name=platform.ingress_class_name,
        vpc_cidr=platform.vpc_cidr, storage_gb=settings.ghost_storage_gb,
        cpu_request=settings.ghost_cpu_request, cpu_limit=settings.ghost_cpu_limit,
        memory_request=settings.ghost_memory_request, memory_limit=settings.ghost_memory_limit,
        hostname=settings.ghost_hostname, certificate_arn=settings.ghost_certificate_arn, mail=mail,
        staff_device_verification=settings.ghost_staff_device_verification, protect=settings.is_production,
        teardown=settings.ghost_teardown,
        provisioner=ProvisionerArgs(*platform.provisioner) if platform.provisioner else None,
        database_via_provisioner=settings.is_personal,
        labels={"environment": settings.environment})
