"""A local HTTP server for tests that need a server to answer (or refuse) like a real one:
``answer(method, path, body) -> (status, json_body)`` decides each reply; every request is
recorded. Used for the KFP API (none can run here) and for servers that refuse credentials."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def serving(answer):
    """Yields ``(url, requests)``; requests are ``(method, path, json body or None)``."""
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def reply(self):
            size = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(size)) if size else None
            path = self.path.split("?")[0]
            requests.append((self.command, path, body))
            status, out = answer(self.command, path, body)
            data = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = reply

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
