"""``whistle webhooks receive``: a tiny receiver that verifies each delivery and prints it.

What a department's system does with a Whistle webhook, in thirty lines: take the raw body,
check the Standard Webhooks signature with the endpoint's secret (``signing.verify``), answer
204 when it is authentic and 401 when it is not, and read the CloudEvent.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from whistle.webhooks.signing import WebhookVerificationError, verify


def describe(event: dict[str, Any]) -> str:
    """One line about a verified CloudEvent: type, case, department, sequence."""
    return (
        f"verified {event.get('type')} case={event.get('caseid') or event.get('subject')}"
        f" department={event.get('department')} seq={event.get('sequence')}"
        f" id={event.get('id')}"
    )


def handler_for(secret: str, out: TextIO) -> type[BaseHTTPRequestHandler]:
    """A request handler class that verifies deliveries signed with ``secret``."""

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                verify(secret, dict(self.headers.items()), body)
            except WebhookVerificationError as exc:
                print(f"REJECTED (401): {exc}", file=out, flush=True)
                self.send_response(401)
                self.end_headers()
                return
            print(describe(json.loads(body)), file=out, flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the verified lines are the output."""

    return Receiver


def serve(host: str, port: int, secret: str, out: TextIO = sys.stdout) -> None:
    """Receive and verify deliveries on ``host:port`` until interrupted."""
    server = ThreadingHTTPServer((host, port), handler_for(secret, out))
    print(f"receiving on http://{host}:{port}/ (any path); Ctrl-C stops", file=out, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
