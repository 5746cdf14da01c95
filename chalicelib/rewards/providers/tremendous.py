"""Tremendous's order API (POST /api/v2/orders), over the standard library's HTTP client.

Every try of one order sends the same `external_id`, which Tremendous keeps unique: a retry after a
timeout or a 5xx finds the order the first try placed instead of placing another. A 429 is waited out
for as long as its Retry-After asks (up to a cap, else the queue retries later); a 401 or 403 (the
deployment's key) is retried by the queue too; any other 4xx is the order's own fault and final.
"""
import http.client
import json
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from chalicelib.core import settings
from chalicelib.rewards.providers.base import Order, ProviderRejected, ProviderResult, ProviderUnavailable

EXECUTED = ("EXECUTED",)  # Tremendous's order statuses that mean delivered; the others are still on their way
MAX_WAIT_SECONDS = 5.0  # a longer Retry-After is left to the queue's own retry


@dataclass
class Tremendous:
    base_url: str
    api_key: str
    timeout: float = 5.0  # 3 attempts of 5 s and 2 waits of at most 5 s stay within the function's 30 s
    attempts: int = 3
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_settings(cls) -> "Tremendous":
        return cls(settings.provider_base_url(), settings.provider_api_key(), settings.provider_timeout_seconds())

    def place_order(self, external_id: str, order: Order) -> ProviderResult:
        body = {"external_id": external_id, "payment": {"funding_source_id": "BALANCE"},
                "reward": {"value": {"denomination": order.denomination, "currency_code": order.currency_code},
                           "products": [order.product], "delivery": {"method": "LINK"},
                           "recipient": order.recipient}}
        last: ProviderUnavailable | None = None
        for attempt in range(self.attempts):
            try:
                status, headers, answer = self._post("/api/v2/orders", body)
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                last = ProviderUnavailable(f"The provider did not answer: {type(error).__name__}.")
                continue
            if status in (200, 201):
                found = answer["order"]
                return ProviderResult("executed" if found["status"] in EXECUTED else "pending", found["id"])
            if status == 429:
                wait = _retry_after(headers.get("Retry-After"))
                last = ProviderUnavailable("The provider asks to slow down.")
                if wait > MAX_WAIT_SECONDS:
                    break
                if attempt + 1 < self.attempts:
                    self.sleep(wait)
                continue
            if status in (401, 403):  # our credentials, not the order: the queue retries, an operator can fix it
                last = ProviderUnavailable(f"The provider refused the credentials ({status}).")
                break
            if 400 <= status < 500:
                raise ProviderRejected(status, _reason(answer))
            last = ProviderUnavailable(f"The provider failed ({status}).")
        raise last

    def _post(self, path: str, body: dict) -> tuple[int, dict, dict]:
        url = urlsplit(self.base_url)
        connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(url.netloc, timeout=self.timeout)
        try:
            connection.request("POST", url.path.rstrip("/") + path, json.dumps(body),
                               {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json",
                                "Accept": "application/json"})
            response = connection.getresponse()
            raw = response.read()
            headers = {name.title(): value for name, value in response.getheaders()}
        finally:
            connection.close()
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        return response.status, headers, answer


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (seconds only; an HTTP date or none means 1 second)."""
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0


def _reason(answer: dict) -> str:
    errors = answer.get("errors") if isinstance(answer, dict) else None
    message = errors.get("message") if isinstance(errors, dict) else None
    return str(message)[:200] if message else "no reason given"
