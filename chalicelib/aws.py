"""AWS service clients, made on first use (after any mock or local endpoint is in place) and reused.

botocore directly: pynamodb has already loaded it, so the clients cost no extra import time.
"""
import threading

import botocore.session
from botocore.config import Config

from chalicelib import settings

_clients: dict[str, object] = {}
_lock = threading.Lock()
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})


def client(service: str):
    with _lock:
        if service not in _clients:
            session = botocore.session.get_session()
            _clients[service] = session.create_client(service, region_name=settings.region(), config=_CONFIG)
        return _clients[service]


def reset() -> None:
    """Forget every client (tests that switch endpoints)."""
    with _lock:
        _clients.clear()
