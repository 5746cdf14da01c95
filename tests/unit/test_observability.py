"""Every log line says which function wrote it, even where the API and every function share one process
(the local stack): a function's labels stay on its own thread and go when its invocation ends."""
import json
import logging
import threading
import types

import pytest

from chalicelib.core.observability import lambda_handler, logger


def context(name: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(function_name=name, aws_request_id=f"{name}-request",
                                 invoked_function_arn=f"arn:aws:lambda:eu-west-1:1:function:{name}",
                                 memory_limit_in_mb=256)


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.setFormatter(logger.registered_formatter)
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))

    def labelled(self, message: str) -> str | None:
        return next(line.get("function_name") for line in self.lines if line["message"] == message)


@pytest.fixture
def lines():
    handler = Lines()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_a_functions_labels_stay_on_its_thread_and_end_with_its_invocation(lines):
    # Given a handler running on another thread, in the middle of its invocation
    inside, finish = threading.Event(), threading.Event()

    @lambda_handler
    def fulfilment(event, ctx):
        logger.info("fulfilment started")
        inside.set()
        finish.wait(5)
        logger.info("fulfilment finished")

    worker = threading.Thread(target=fulfilment, args=({}, context("FulfilmentFunction")))
    worker.start()
    inside.wait(5)
    # When this thread logs meanwhile, and again after the invocation ended
    logger.info("meanwhile elsewhere")
    finish.set()
    worker.join(5)
    logger.info("afterwards")
    # Then only the function's own lines carry its name
    assert lines.labelled("fulfilment started") == "FulfilmentFunction"
    assert lines.labelled("fulfilment finished") == "FulfilmentFunction"
    assert lines.labelled("meanwhile elsewhere") is None
    assert lines.labelled("afterwards") is None


def test_the_first_invocation_of_a_function_is_its_cold_start(lines):
    # Given a handler never invoked in this process
    @lambda_handler
    def handler(event, ctx):
        logger.info("invoked")

    # When it is invoked twice
    handler({}, context("ColdStartProbe"))
    handler({}, context("ColdStartProbe"))
    # Then the first line says cold start, the second does not
    assert [line["cold_start"] for line in lines.lines if line["message"] == "invoked"] == [True, False]


def test_an_api_call_is_labelled_the_api_while_a_function_runs_beside_it(lines):
    # Given the API's middleware on a Chalice app, and a function in the middle of an invocation on another thread
    from chalice import Chalice
    from chalice.config import Config
    from chalice.local import LocalGateway

    from chalicelib.core.web import install

    api = Chalice(app_name="laurel")
    install(api)

    @api.route("/ping")
    def ping():
        logger.info("route ran")
        return {"ok": True}

    inside, finish = threading.Event(), threading.Event()

    @lambda_handler
    def broadcast(event, ctx):
        inside.set()
        finish.wait(5)

    worker = threading.Thread(target=broadcast, args=({}, context("BroadcastFunction")))
    worker.start()
    inside.wait(5)
    # When a request reaches the API (as the local stack serves it: chalice's gateway, the function's name)
    gateway = LocalGateway(api, Config(chalice_stage="local", function_name="ApiFunction"))
    gateway.handle_request("GET", "/ping", {"host": "localhost"}, b"")
    finish.set()
    worker.join(5)
    # Then the route's line and the access line say the API wrote them
    assert lines.labelled("route ran") == "ApiFunction"
    assert lines.labelled("request") == "ApiFunction"
