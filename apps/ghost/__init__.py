"""The Ghost blog workload."""

from apps.ghost.component import Ghost, GhostArgs, MailArgs, ProvisionerArgs

__all__ = ["Ghost", "GhostArgs", "MailArgs", "ProvisionerArgs"]
