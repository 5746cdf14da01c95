"""The shared shape of the scheduled handlers: run one job, log and return its counts."""
from typing import Callable

from chalicelib.core.observability import lambda_handler, logger


def scheduled(name: str, job: Callable[[], dict]):
    @lambda_handler
    def handler(event: dict, context) -> dict:
        result = job()
        logger.info(name, extra=result)
        return result

    return handler
