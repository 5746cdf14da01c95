"""A webhook receiver for the integration and end-to-end tiers: it checks every signature as
docs/webhooks.md tells receivers to, and fails on demand."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chalicelib.webhooks import signing


class Receiver:
    """An HTTP endpoint on a free port of 127.0.0.1: verifies each request's signature against `secrets`,
    records it, and answers 500 to the first `failures` requests (or to all while `down`), else 204."""

    def __init__(self):
        self.requests: list[dict] = []
        self.secrets: list[str] = []
        self.failures = 0
        self.down = False
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                receiver._answer(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/laurel/hooks?source=test"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers["Content-Length"]))
        header = handler.headers.get(signing.SIGNATURE_HEADER, "")
        with self._lock:
            self.requests.append({
                "body": body, "path": handler.path, "event_id": handler.headers.get(signing.EVENT_ID_HEADER),
                "delivery_id": handler.headers.get(signing.DELIVERY_ID_HEADER),
                "verified_with": [s for s in self.secrets if signing.verify(s, header, body, time.time())]})
            failing = self.down or self.failures > 0
            self.failures -= 1
        handler.send_response(500 if failing else 204)
        handler.end_headers()

    def bodies(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
