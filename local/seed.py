"""Demo data for `make run`, made through the public HTTP API so it is valid by construction."""
import secrets
from dataclasses import dataclass
from typing import Any

import requests

_MEMBERS = [
    {"external_id": "alice", "name": "Alice Example", "email": "alice@example.com", "phone": "+15555550101",
     "purchases": [4200, 18000]},
    {"external_id": "bob", "name": "Bob Example", "email": "bob@example.com", "purchases": [950]},
    {"external_id": "carol", "name": "Carol Example", "phone": "+15555550103", "purchases": [120000]},
]


class SeedError(Exception):
    pass


@dataclass(frozen=True)
class Demo:
    org_id: str
    program_id: str
    admin_key: str
    partner_key: str
    store_key: str
    partner_queue_url: str
    gift_card_id: str
    cashback_id: str


class _Client:
    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self._session = requests.Session()

    def call(self, method: str, path: str, key: str, body: Any = None) -> Any:
        response = self._session.request(method, self._base_url + path, json=body, timeout=30,
                                         headers={"Authorization": f"Bearer {key}"})
        if response.status_code >= 300:
            raise SeedError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None


def seed(base_url: str, root_key: str) -> Demo:
    api = _Client(base_url)
    org = api.call("POST", "/v1/orgs", root_key, {"name": "Demo Coffee Co"})
    admin = org["admin_key"]["secret"]
    program = api.call("POST", "/v1/programs", admin, {
        "name": "Coffee Club",
        "currency_name": "beans",
        "locale": "en",
        "points_expiry_days": 365,
        "earn_rules": [
            {"event_type": "signup", "points": 100},
            {"event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1}},
        ],
        "tiers": [
            {"name": "Silver", "min_points": 1000, "multiplier": 1.25},
            {"name": "Gold", "min_points": 5000, "multiplier": 1.5},
        ],
    })
    base = f"/v1/programs/{program['id']}"
    for member in _MEMBERS:
        profile = {key: member[key] for key in ("name", "email", "phone") if key in member}
        api.call("PUT", f"{base}/members/{member['external_id']}", admin, profile)
        api.call("POST", f"{base}/events", admin,
                 {"id": f"demo-signup-{member['external_id']}", "type": "signup", "member": member["external_id"]})
        for number, amount in enumerate(member["purchases"]):
            api.call("POST", f"{base}/events", admin, {
                "id": f"demo-purchase-{member['external_id']}-{number}", "type": "purchase",
                "member": member["external_id"], "properties": {"amount": amount}})
    gift_card = api.call("POST", f"{base}/rewards", admin, {
        "type": "gift_card", "name": "$5 coffee gift card", "cost": 500,
        "value": {"amount": 500, "currency": "USD"}})
    api.call("POST", f"{base}/rewards/{gift_card['id']}/codes", admin,
             {"codes": [f"DEMO-{secrets.token_hex(4).upper()}" for _ in range(5)]})
    cashback = api.call("POST", f"{base}/rewards", admin, {
        "type": "cashback", "name": "$10 cashback", "cost": 1000, "value": {"amount": 1000, "currency": "USD"}})
    partner = api.call("POST", "/v1/api-keys", admin, {"name": "Demo partner", "role": "partner"})
    store = api.call("POST", "/v1/api-keys", admin, {"name": "Demo store", "role": "store"})
    org_info = api.call("GET", "/v1/org", admin)
    return Demo(org_id=org["id"], program_id=program["id"], admin_key=admin, partner_key=partner["secret"],
                store_key=store["secret"], partner_queue_url=org_info["partner_events_queue_url"],
                gift_card_id=gift_card["id"], cashback_id=cashback["id"])


def banner(demo: Demo, base_url: str, root_key: str) -> str:
    return "\n".join([
        "",
        f"  API                {base_url}",
        f"  root key           {root_key}",
        "Demo data (organisation 'Demo Coffee Co', program 'Coffee Club', members alice, bob, carol)",
        f"  org id             {demo.org_id}",
        f"  program id         {demo.program_id}",
        f"  admin key          {demo.admin_key}",
        f"  partner key        {demo.partner_key}",
        f"  store key          {demo.store_key}",
        f"  gift card reward   {demo.gift_card_id}",
        f"  cashback reward    {demo.cashback_id}",
        f"  partner queue      {demo.partner_queue_url}",
        "Try:",
        (f"  curl -s -H 'Authorization: Bearer {demo.store_key}' "
         f"{base_url}/v1/programs/{demo.program_id}/members/alice/balance"),
        "",
    ])
