"""The Ghost blog workload."""

from apps.ghost.component import Ghost, GhostArgs, MailArgs

__all__ = ["Ghost", "GhostArgs", "MailArgs"]
