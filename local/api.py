"""Serves the Chalice app with chalice's own local gateway (threaded, so requests run concurrently)."""
import threading

from chalice import Chalice
from chalice.config import Config
from chalice.local import LocalDevServer, create_local_server

from local.lambda_runtime import load_handler
from local.resources import Deployment, Function
from local.template import TemplateError

BACKLOG = 256


def find_app(deployment: Deployment) -> tuple[Function, Chalice]:
    """The function whose handler is a Chalice app (its HttpApi events exist only once packaged)."""
    triggered = {trigger.function.logical_id for trigger in deployment.queue_triggers} | set(deployment.schedules)
    apps = [(function, handler) for function in deployment.functions.values()
            if function.logical_id not in triggered
            and isinstance(handler := load_handler(function.handler), Chalice)]
    if len(apps) != 1:
        raise TemplateError(f"expected one function whose handler is a Chalice app, found {len(apps)}")
    return apps[0]


class ApiServer:
    def __init__(self, app: Chalice, function: Function, host: str, port: int) -> None:
        config = Config(chalice_stage="local", function_name=function.name, user_provided_params={
            "lambda_timeout": function.timeout, "lambda_memory_size": function.memory_size})
        self._server: LocalDevServer = create_local_server(app, config, host, port)
        # socketserver listens with a backlog of 5: a burst of clients would see connection resets.
        self._server.server.socket.listen(BACKLOG)
        self._thread = threading.Thread(target=self._server.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server.server_close()
