"""Ghost on EKS: the AWS platform and the Ghost blog, one Pulumi program for every stack.

Thin by design: read and validate settings once, build the components, export outputs.
"""

import pulumi

from apps.ghost import Ghost, GhostArgs, MailArgs, ProvisionerArgs
from infra.config import read_settings
from infra.platform import build_platform, shared_platform
from infra.settings import SettingsError

try:
    settings = read_settings()
except SettingsError as exc:  # a user error: shown without a traceback, before any resource exists
    raise pulumi.RunError(str(exc)) from None

platform = shared_platform(settings) if settings.is_personal else build_platform(settings)

mail = None
if settings.mail_enabled:
    assert settings.smtp_host and settings.smtp_user and settings.smtp_password and settings.mail_from
    mail = MailArgs(host=settings.smtp_host, port=settings.smtp_port, user=settings.smtp_user,
                    password=pulumi.Output.secret(settings.smtp_password.get_secret_value()),
                    from_address=settings.mail_from)

ghost = Ghost("ghost", GhostArgs(
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
    labels={"environment": settings.environment}),
    opts=pulumi.ResourceOptions(providers=[platform.k8s_provider]))

for key, value in platform.exports.items():
    pulumi.export(key, value)
pulumi.export("ghostUrl", ghost.url)
pulumi.export("healthUrl", ghost.health_url)
pulumi.export("ghostNamespace", ghost.namespace)
