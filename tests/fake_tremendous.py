"""A stand-in for Tremendous's order API on a local port, for the integration and end-to-end tiers: it keeps
orders unique by `external_id` (as Tremendous does) and fails on demand, so the adapter's retries and
refunds can be watched."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeTremendous:
    def __init__(self, api_key: str = "test-key"):
        self.api_key = api_key
        self.orders: dict[str, dict] = {}  # external_id → the order placed under it
        self.requests: list[dict] = []  # every order request received, in order
        self.faults: list[tuple] = []  # what the next requests get instead: ("status", code, headers) or ("hang", s)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_next(self, *faults: tuple) -> None:
        self.faults.extend(faults)

    def __enter__(self) -> "FakeTremendous":
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append({"body": body, "authorization": self.headers.get("Authorization")})
                    fault = fake.faults.pop(0) if fake.faults else None
                if self.path != "/api/v2/orders" or self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._answer(401, {"errors": {"message": "Unauthorized"}})
                if fault and fault[0] == "status":
                    return self._answer(fault[1], {"errors": {"message": f"fault {fault[1]}"}}, fault[2])
                if not isinstance(body.get("reward", {}).get("value", {}).get("denomination"), (int, float)):
                    return self._answer(400, {"errors": {"message": "denomination is required"}})
                with fake.lock:  # the order is placed even when the answer is then lost to a timeout
                    order = fake.orders.setdefault(body["external_id"], {
                        "id": f"ORD{len(fake.orders) + 1:06d}", "external_id": body["external_id"],
                        "status": "EXECUTED", "reward": body["reward"]})
                if fault and fault[0] == "hang":
                    time.sleep(fault[1])
                self._answer(200, {"order": order})

            def _answer(self, status, body, headers=None):
                raw = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                try:
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up waiting

        return Handler
