"""The tenant the load runs against, made through the public API (valid by construction).

An organisation, a program with earn rules and tiers, members with points (one in five with
few, so some redemptions are refused; half with an email and a quarter with a phone too, so
fulfilment notifies them), a cashback reward with unlimited stock, a gift card
with plenty of codes, a partner key that sends the events and the store keys of the points of
sale that read balances and redeem.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

OPENING_PURCHASE = 500_000  # minor units: 5000 points at 1 per 1.00, enough for dozens of redemptions
SMALL_OPENING_PURCHASE = 20_000  # every 5th member: 200 points, so some redemptions are refused (409)
CASHBACK_COST = 100
GIFT_CARD_COST = 250
CODES_PER_CALL = 100


class SeedError(Exception):
    pass


@dataclass
class Tenant:
    org_id: str
    program_id: str
    admin_key: str
    partner_key: str
    store_keys: list[str]
    members: list[str]
    cashback_id: str
    gift_card_id: str
    codes: int
    seconds: float = 0.0
    calls: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"/v1/programs/{self.program_id}"

    def public(self) -> dict:
        """What the report may show (no secrets)."""
        return {"org_id": self.org_id, "program_id": self.program_id, "members": len(self.members),
                "store_keys": len(self.store_keys), "cashback_id": self.cashback_id,
                "gift_card_id": self.gift_card_id, "gift_card_codes": self.codes,
                "seed_calls": self.calls, "seed_seconds": round(self.seconds, 1)}


class _Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.calls = 0

    def call(self, method: str, path: str, key: str, body: Any = None, headers: dict | None = None,
             expect: tuple[int, ...] = (200, 201)) -> Any:
        self.calls += 1
        response = self.session.request(method, self.base_url + path, json=body, timeout=60,
                                        headers={"Authorization": f"Bearer {key}", **(headers or {})})
        if response.status_code not in expect:
            raise SeedError(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None


def member_id(number: int) -> str:
    return f"load-member-{number:04d}"


def seed(base_url: str, root_key: str, *, members: int, codes: int, store_keys: int,
         map_parallel: Callable[[Callable, list], list]) -> Tenant:
    """Make the tenant; `map_parallel(function, items)` runs the per-member calls a few at a time."""
    started = time.monotonic()
    api = _Api(base_url)
    run = uuid.uuid4().hex[:8]
    org = api.call("POST", "/v1/orgs", root_key, {"name": f"Load test {run}"})
    admin = org["admin_key"]["secret"]
    program = api.call("POST", "/v1/programs", admin, {
        "name": "Load Club", "currency_name": "points", "locale": "en", "points_expiry_days": 365,
        "earn_rules": [{"event_type": "signup", "points": 100},
                       {"event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1}}],
        "tiers": [{"name": "Silver", "min_points": 10_000, "multiplier": 1.25},
                  {"name": "Gold", "min_points": 50_000, "multiplier": 1.5}]})
    path = f"/v1/programs/{program['id']}"

    # Codes first, while the table is small: the emulator copies the whole table per item of a transaction
    cashback = api.call("POST", f"{path}/rewards", admin, {
        "type": "cashback", "name": "1.00 cashback", "cost": CASHBACK_COST, "value": {"amount": 100, "currency": "USD"}})
    gift_card = api.call("POST", f"{path}/rewards", admin, {
        "type": "gift_card", "name": "2.50 coffee card", "cost": GIFT_CARD_COST,
        "value": {"amount": 250, "currency": "USD"}})
    added = 0
    for start in range(0, codes, CODES_PER_CALL):
        batch = [f"LOAD-{run}-{n:06d}" for n in range(start, min(codes, start + CODES_PER_CALL))]
        added += api.call("POST", f"{path}/rewards/{gift_card['id']}/codes", admin, {"codes": batch})["added"]

    def enrol(number: int) -> int:
        member = member_id(number)
        client = _Api(base_url)  # one session per worker call: requests sessions are not shared
        if number % 2 == 0:  # half have an email, a quarter a phone too: fulfilment tells them
            profile = {"name": f"Member {number}", "email": f"{member}@example.com"}
            if number % 4 == 0:
                profile["phone"] = f"+1415555{number % 10_000:04d}"
            client.call("PUT", f"{path}/members/{member}", admin, profile)
        # the other half are enrolled by their first event, as the contract allows
        amount = SMALL_OPENING_PURCHASE if number % 5 == 4 else OPENING_PURCHASE
        client.call("POST", f"{path}/events", admin, {"id": f"opening-{member}", "type": "purchase", "member": member,
                                                     "properties": {"amount": amount}})
        return client.calls

    api.calls += sum(map_parallel(enrol, list(range(members))))
    partner = api.call("POST", "/v1/api-keys", admin, {"name": "load partner", "role": "partner"})
    stores = [api.call("POST", "/v1/api-keys", admin, {"name": f"load till {n}", "role": "store"})["secret"]
              for n in range(store_keys)]
    return Tenant(org_id=org["id"], program_id=program["id"], admin_key=admin, partner_key=partner["secret"],
                  store_keys=stores, members=[member_id(n) for n in range(members)], cashback_id=cashback["id"],
                  gift_card_id=gift_card["id"], codes=added, seconds=time.monotonic() - started, calls=api.calls)
