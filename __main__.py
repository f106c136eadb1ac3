"""Ghost on EKS: the AWS platform and the Ghost blog, one Pulumi program for every stack.

Thin by design: read and validate settings once, build the components, export outputs.
"""

import pulumi

from apps.ghost import Ghost
from apps.ghost.wiring import ghost_args
from infra.config import read_settings
from infra.platform import build_platform, shared_platform
from infra.settings import SettingsError

try:
    settings = read_settings()
except SettingsError as exc:  # a user error: shown without a traceback, before any resource exists
    raise pulumi.RunError(str(exc)) from None

platform = shared_platform(settings) if settings.is_personal else build_platform(settings)
ghost = Ghost("ghost", ghost_args(settings, platform), opts=pulumi.ResourceOptions(providers=[platform.k8s_provider]))

for key, value in platform.exports.items():
    pulumi.export(key, value)
pulumi.export("ghostUrl", ghost.url)
pulumi.export("healthUrl", ghost.health_url)
pulumi.export("ghostNamespace", ghost.namespace)
