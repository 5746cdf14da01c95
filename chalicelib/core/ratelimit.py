"""Per-credential token buckets, so one noisy client cannot starve a function instance.

Each Lambda instance keeps its own buckets (no table round trip per call); API Gateway's stage
throttling bounds the total.
"""
import math
import os
import threading
import time

from chalicelib.core.errors import RateLimited


class Limiter:
    def __init__(self):
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: str) -> None:
        rate = float(os.environ.get("LAUREL_RATE_LIMIT_PER_SECOND", "100"))
        burst = float(os.environ.get("LAUREL_RATE_LIMIT_BURST", "200"))
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(who, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens < 1:
                self._buckets[who] = (tokens, now)
                retry_after = max(1, math.ceil((1 - tokens) / rate))
                raise RateLimited("Too many requests with this credential; slow down.",
                                  {"retry_after_seconds": retry_after})
            if len(self._buckets) > 10_000:
                self._buckets.clear()
            self._buckets[who] = (tokens - 1, now)


limiter = Limiter()
