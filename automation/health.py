"""Post-deploy health check: probe a stack's health URL output until it answers as expected or time runs out.

The only module that probes deployed applications over HTTP. Redirects are followed (at most
``MAX_REDIRECTS``; a loop is unhealthy) and the final answer is judged. Each attempt has its own short
timeout so a hanging load balancer cannot stall the whole check.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 5


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


def probe(url: str | None, spec: HealthSpec, *, sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic, transport: httpx.BaseTransport | None = None,
          notify: Callable[[str], None] | None = None) -> HealthResult:
    """Probe ``url`` every ``spec.interval_s`` until it answers ``spec.expect_status`` or ``spec.timeout_s`` passed."""
    import httpx

    if not url or not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return HealthResult(False, None, 0, 0.0, f"the stack exports no usable `{spec.output}` output "
                            f"(got {url!r}); the health check needs an http(s) URL")
    start = clock()
    attempts = 0
    last = "no answer"
    status: int | None = None
    with httpx.Client(follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=spec.request_timeout_s,
                      headers=dict(spec.headers), transport=transport) as client:
        while True:
            attempts += 1
            try:
                response = client.get(url)
                status = response.status_code
                hops = len(response.history)
                via = f" after {hops} redirect(s) to {response.url}" if hops else ""
                if status == spec.expect_status:
                    return HealthResult(True, url, attempts, clock() - start, f"HTTP {status}{via}", status)
                last = f"HTTP {status}{via}"
            except httpx.TooManyRedirects:
                status, last = None, f"more than {MAX_REDIRECTS} redirects (a redirect loop?)"
            except httpx.HTTPError as exc:
                status, last = None, f"{type(exc).__name__}: {str(exc)[:200] or 'no detail'}"
            waited = clock() - start
            if waited + spec.interval_s > spec.timeout_s:
                return HealthResult(False, url, attempts, waited, f"not healthy after {attempts} attempt(s) over "
                                    f"{waited:.1f}s (timeout {spec.timeout_s:g}s); last answer: {last}", status)
            if notify is not None:
                notify(f"health: {url} not ready ({last}); next probe in {spec.interval_s:g}s")
            sleep(spec.interval_s)
