"""A real HTTP server on 127.0.0.1 in a thread, answering through one function: the test servers' shared part."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: (method, path with query, headers, body) -> (status, headers, JSON text)
Handle = Callable[[str, str, dict[str, str], str], tuple[int, dict[str, str], str]]


@contextmanager
def serve_json(handle: Handle) -> Iterator[str]:
    """Serve ``handle`` on a free port; yields ``http://127.0.0.1:<port>``."""

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, headers, text = handle(self.command, self.path, dict(self.headers), body)
            data = text.encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _any  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
