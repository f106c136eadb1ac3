"""How a deployed stack is probed (environments.yaml, a rule's ``health``) and what the probe found. Standard library
only; :mod:`automation.adapters.health` probes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HealthSpec:
    """How to probe a stack (environments.yaml, a rule's ``health``)."""

    output: str = "healthUrl"
    timeout_s: float = 300.0
    interval_s: float = 5.0
    expect_status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    #: per attempt
    request_timeout_s: float = 10.0


@dataclass(frozen=True)
class HealthResult:
    healthy: bool
    url: str | None
    attempts: int
    waited_s: float
    detail: str
    status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "url": self.url, "attempts": self.attempts, "waited_s": round(self.waited_s, 2),
                "status": self.status, "detail": self.detail}
