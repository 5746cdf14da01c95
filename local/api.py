"""Serves the Chalice app with chalice's own local gateway (threaded, so requests run concurrently).

Three things differ from chalice's defaults so the local API behaves like API Gateway: an unknown
route is a plain 404 (chalice's gateway answers 403 and echoes the Authorization header back), the
listen backlog is deep enough for a burst of clients, and responses are not held back by Nagle's
algorithm on kept-alive connections.
"""
import json
import threading

from chalice import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    ForbiddenError,
    LocalChalice,
    LocalDevServer,
    ThreadedHTTPServer,
)

from local.lambda_runtime import load_handler
from local.resources import Deployment, Function
from local.template import TemplateError

NO_ROUTE = json.dumps({"error": {"code": "not_found", "message": "No such route.", "details": {}}}).encode()
NO_ROUTE_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def find_app(deployment: Deployment) -> tuple[Function, Chalice]:
    """The function whose handler is a Chalice app (its HttpApi events exist only once packaged)."""
    triggered = {trigger.function.logical_id for trigger in deployment.queue_triggers} | set(deployment.schedules)
    apps = [(function, handler) for function in deployment.functions.values()
            if function.logical_id not in triggered
            and isinstance(handler := load_handler(function.handler), Chalice)]
    if len(apps) != 1:
        raise TemplateError(f"expected one function whose handler is a Chalice app, found {len(apps)}")
    return apps[0]


class _Handler(ChaliceRequestHandler):
    disable_nagle_algorithm = True

    def _send_error_response(self, error) -> None:
        if isinstance(error, ForbiddenError):  # chalice's gateway matched no route
            self._send_http_response(404, NO_ROUTE_HEADERS, NO_ROUTE)
        else:
            super()._send_error_response(error)


class _Server(ThreadedHTTPServer):
    request_queue_size = 256  # socketserver's 5 resets connections under a burst of clients


class ApiServer:
    def __init__(self, app: Chalice, function: Function, host: str, port: int) -> None:
        config = Config(chalice_stage="local", function_name=function.name, user_provided_params={
            "lambda_timeout": function.timeout, "lambda_memory_size": function.memory_size})
        if not isinstance(app, CustomLocalChalice):  # as chalice's create_local_server does
            CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
            app.__class__ = CustomLocalChalice
        self._server = LocalDevServer(app, config, host, port, handler_cls=_Handler, server_cls=_Server)
        self._thread = threading.Thread(target=self._server.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server.server_close()
