"""Post-deploy health check: probe a stack's health URL output until it answers as expected or time runs out.

The only module that probes deployed applications over HTTP. Redirects are followed (at most
``MAX_REDIRECTS``; a loop is unhealthy) and the final answer is judged. Each attempt has its own short
timeout so a hanging load balancer cannot stall the whole check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

from automation.model.health import HealthResult, HealthSpec

MAX_REDIRECTS = 5


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
