"""The local stack's control port, for end-to-end tests: never part of the deployed API.

POST /jobs/<FunctionLogicalId>  runs that scheduled job now; 200 and its result as JSON, 500 if it raised.
POST /drain {"timeout": s}      waits for every consumer queue to be empty; {"drained": bool}.
GET /sent                       the emails and SMS handed to the embedded emulator's SES and SNS.
GET /strict                     the strict DynamoDB mode's settings (null when off) and counters.
"""
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local import outbox, strict_dynamodb
from local.lambda_runtime import Runtime

log = logging.getLogger("local.control")

_DEFAULT_DRAIN_TIMEOUT = 30.0


class _Handler(BaseHTTPRequestHandler):
    runtime: Runtime  # set on the subclass made per server
    region: str | None  # the embedded emulator's region; None when an external endpoint is used

    def do_GET(self) -> None:
        if self.path == "/strict":
            self._reply(200, {"settings": strict_dynamodb.describe(), "counters": strict_dynamodb.counters()})
        elif self.path != "/sent":
            self._reply(404, {"error": f"no GET {self.path}: GET /sent or /strict"})
        elif self.region is None:
            self._reply(404, {"error": "GET /sent needs the embedded emulator (AWS_ENDPOINT_URL is set)"})
        else:
            self._reply(200, outbox.sent(self.region))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._reply(400, {"error": "the body is not JSON"})
            return
        if self.path == "/drain":
            timeout = float(body.get("timeout", _DEFAULT_DRAIN_TIMEOUT))
            self._reply(200, {"drained": self.runtime.drain(timeout)})
        elif self.path.startswith("/jobs/"):
            self._run_job(self.path.removeprefix("/jobs/"))
        else:
            self._reply(404, {"error": f"no {self.path}: POST /jobs/<FunctionLogicalId> or /drain"})

    def _run_job(self, logical_id: str) -> None:
        if logical_id not in self.runtime.schedules:
            self._reply(404, {"error": f"{logical_id} has no schedule", "jobs": sorted(self.runtime.schedules)})
            return
        try:
            result = self.runtime.run_job(logical_id)
        except Exception as error:
            log.exception("%s failed (run through the control port)", logical_id)
            self._reply(500, {"error": f"{type(error).__name__}: {error}"})
            return
        self._reply(200, result)

    def _reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class ControlServer:
    def __init__(self, runtime: Runtime, host: str, port: int, emulator_region: str | None) -> None:
        handler = type("Handler", (_Handler,), {"runtime": runtime, "region": emulator_region})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
