"""The simulated clients: points of sale reading balances and members, redeeming, and a partner sending events.

Task weights (of all requests): balance reads 50, member reads 10, earns over HTTP 30, redemptions 10.
Every earn has a new event id and every redemption a new Idempotency-Key, so none is a replay.
A redemption refused with 409 `insufficient_points` (or `out_of_stock`) is the contract's business
answer, not an error: it counts as a success in locust's stats and is tallied in `Refusals`.
"""
from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from typing import ClassVar

from locust import FastHttpUser, constant, task

from load.tenant import Tenant

BALANCE = "GET balance"
MEMBER = "GET member"
EARN = "POST event (earn)"
REDEEM = "POST redemption"
REQUEST_TYPES = (BALANCE, MEMBER, EARN, REDEEM)
BUSINESS_REFUSALS = {REDEEM: ("insufficient_points", "out_of_stock")}
GIFT_CARD_SHARE = 0.3  # of redemptions; the rest is cashback (unlimited stock)


class Refusals:
    """Expected business answers, by request type and error code."""

    counts: ClassVar[Counter] = Counter()
    _lock = threading.Lock()

    @classmethod
    def add(cls, name: str, code: str) -> None:
        with cls._lock:
            cls.counts[name, code] += 1


def _code(response) -> str | None:
    try:
        return json.loads(response.text)["error"]["code"]
    except (TypeError, ValueError, KeyError):
        return None


class PointOfSale(FastHttpUser):
    """One till: its own store key (and connection); earns come through the partner integration."""

    tenant: ClassVar[Tenant]  # set before the run
    wait_time = constant(0)
    _numbers = iter(range(10**9))

    def on_start(self) -> None:
        number = next(PointOfSale._numbers)
        self.store = {"Authorization": f"Bearer {self.tenant.store_keys[number % len(self.tenant.store_keys)]}"}
        self.partner = {"Authorization": f"Bearer {self.tenant.partner_key}"}
        self.tag = f"u{number}-{uuid.uuid4().hex[:6]}"
        self.sequence = 0

    def _member(self) -> str:
        return random.choice(self.tenant.members)

    def _check(self, response, name: str, ok: int) -> None:
        if response.status_code == ok:
            response.success()
            return
        code = _code(response)
        if code in BUSINESS_REFUSALS.get(name, ()) and response.status_code == 409:
            Refusals.add(name, code)
            response.success()
            return
        if 200 <= response.status_code < 300:  # e.g. 200, a replay's answer, to a call with a fresh key
            response.failure(f"{response.status_code} instead of {ok}")
            return
        error = (getattr(response, "request_meta", None) or {}).get("exception")
        detail = code or (type(error).__name__ if error else "no error code")
        response.failure(f"{response.status_code} {detail}")

    @task(50)
    def balance(self) -> None:
        with self.client.get(f"{self.tenant.path}/members/{self._member()}/balance", headers=self.store,
                             name=BALANCE, catch_response=True) as response:
            self._check(response, BALANCE, 200)

    @task(10)
    def member(self) -> None:
        with self.client.get(f"{self.tenant.path}/members/{self._member()}", headers=self.store,
                             name=MEMBER, catch_response=True) as response:
            self._check(response, MEMBER, 200)

    @task(30)
    def earn(self) -> None:
        self.sequence += 1
        event = {"id": f"load-{self.tag}-{self.sequence}", "type": "purchase", "member": self._member(),
                 "properties": {"amount": random.randint(100, 10_000)}}
        with self.client.post(f"{self.tenant.path}/events", json=event, headers=self.partner, name=EARN,
                              catch_response=True) as response:
            self._check(response, EARN, 201)

    @task(10)
    def redeem(self) -> None:
        self.sequence += 1
        reward = self.tenant.gift_card_id if random.random() < GIFT_CARD_SHARE else self.tenant.cashback_id
        headers = {**self.store, "Idempotency-Key": f"load-{self.tag}-{self.sequence}"}
        with self.client.post(f"{self.tenant.path}/members/{self._member()}/redemptions",
                              json={"reward_id": reward}, headers=headers, name=REDEEM,
                              catch_response=True) as response:
            self._check(response, REDEEM, 202)
