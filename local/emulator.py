"""The AWS side of the local stack: moto's server in this process, unless AWS_ENDPOINT_URL names one.

Everything in the process (boto3, pynamodb, the app) reaches AWS through the environment set here,
so it must run before any client is created or any project module is imported.
"""
import logging
import os
import socket

from moto.server import ThreadedMotoServer

from local import atomic_dynamodb, strict_dynamodb

REGION = "us-east-1"
HOST = "127.0.0.1"
DEFAULT_PORT = 4566

log = logging.getLogger("local.emulator")


class PortInUse(Exception):
    pass


def ensure_free(port: int, what: str) -> None:
    """Fail clearly before a server thread dies on bind (moto's would leave its start() waiting forever)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise PortInUse(f"port {port} for {what} is in use ({error.strerror})") from None


class Emulator:
    """Started moto server, or none when an external endpoint is used."""

    def __init__(self) -> None:
        self.endpoint = os.environ.get("AWS_ENDPOINT_URL")
        self._server: ThreadedMotoServer | None = None

    def start(self) -> str:
        if not self.endpoint:
            port = int(os.environ.get("LAUREL_AWS_PORT", str(DEFAULT_PORT)))
            ensure_free(port, "the AWS emulator (set LAUREL_AWS_PORT, or AWS_ENDPOINT_URL to use a running one)")
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per AWS call otherwise
            atomic_dynamodb.install()
            strict = strict_dynamodb.enable_from_environment()
            if strict:
                log.info("strict DynamoDB: transactions hold their items %g ms, at most %d WCU/s per item",
                         strict.commit_ms, strict.item_wcu)
            self._server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
            self._server.start()
            self.endpoint = f"http://{HOST}:{port}"
            log.info("AWS emulator (moto) on %s", self.endpoint)
        else:
            log.info("using the AWS endpoint %s", self.endpoint)
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        # Dummy credentials always: a local run must never reach a real account.
        os.environ["AWS_ACCESS_KEY_ID"] = "testing"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        os.environ["AWS_DEFAULT_REGION"] = REGION
        os.environ["AWS_REGION"] = REGION
        return self.endpoint

    @property
    def embedded(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
