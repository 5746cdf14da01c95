"""One place for logging: structured JSON through Powertools, ids only, never a body, address or code.

Every line says which function wrote it (`function_name`, `function_request_id`, `cold_start`). The keys
are kept per thread, not on the shared logger as Powertools' `inject_lambda_context` keeps them: the local
stack runs the API and every function in one process, where the last function to start would otherwise
label everyone's lines.
"""
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.logging import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "laurel"))
_started: set[str] = set()  # functions that have handled an invocation in this process


@contextmanager
def invocation(context: Any) -> Iterator[None]:
    """Label this thread's log lines with the invocation's function and request while it runs."""
    name = getattr(context, "function_name", None)
    if name is None:  # no Lambda context (a script, a test calling code directly)
        yield
        return
    cold_start = name not in _started
    _started.add(name)
    logger.thread_safe_append_keys(function_name=name, function_request_id=context.aws_request_id,
                                   function_arn=context.invoked_function_arn,
                                   function_memory_size=context.memory_limit_in_mb, cold_start=cold_start)
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()


def lambda_handler(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A Lambda handler whose log lines carry its invocation's labels (see `invocation`)."""

    @functools.wraps(handler)
    def labelled(event: Any, context: Any) -> Any:
        with invocation(context):
            return handler(event, context)

    return labelled
