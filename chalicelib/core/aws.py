"""AWS service clients, made on first use (after any mock or local endpoint is in place) and reused.

botocore directly: pynamodb has already loaded it, so the clients cost no extra import time.
"""
import threading

import botocore.session
from botocore.config import Config

from chalicelib.core import settings

_clients: dict[str, object] = {}
_lock = threading.Lock()
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
# Presigned URLs in SigV4 everywhere: botocore would otherwise sign SigV2 URLs in us-east-1.
_PRESIGN_CONFIG = Config(signature_version="s3v4")


def _cached(name: str, service: str, config: Config):
    with _lock:
        if name not in _clients:
            session = botocore.session.get_session()
            _clients[name] = session.create_client(service, region_name=settings.region(), config=config)
        return _clients[name]


def client(service: str):
    return _cached(service, service, _CONFIG)


def presigner():
    """An S3 client for presigned URLs only: it signs locally (no request), with the function's own
    credentials, for the same endpoint as every other client (moto's locally, via AWS_ENDPOINT_URL)."""
    return _cached("s3:presign", "s3", _PRESIGN_CONFIG)


def reset() -> None:
    """Forget every client (tests that switch endpoints)."""
    with _lock:
        _clients.clear()
