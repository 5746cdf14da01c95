"""The objects the fuzzer's path parameters point at, made through the public API like any client would."""
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import requests


class SetupError(Exception):
    pass


@dataclass
class Tenant:
    org_id: str
    admin_key: str
    store_key: str
    analyst_key: str
    partner_key: str
    program_id: str
    member: str
    reward_id: str  # a gift card with codes
    redemption_id: str
    spare_key_id: str  # DELETE /v1/api-keys/{key_id} revokes this one, never a key the fuzzer uses
    session: str  # the member's session token
    keys: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # ids beyond the contract's (campaign_id, kind, ...)

    def path_parameters(self) -> dict[str, str]:
        return {"program_id": self.program_id, "external_id": self.member, "reward_id": self.reward_id,
                "redemption_id": self.redemption_id, "key_id": self.spare_key_id, **self.extra}


CAMPAIGNS = ("POST", "/v1/programs/{program_id}/campaigns")
IMPORTS = ("POST", "/v1/programs/{program_id}/imports")
IMPORT_SECONDS = 60
BROADCASTS = ("POST", "/v1/programs/{program_id}/broadcasts")


def make_tenant(base_url: str, root_key: str, document: dict | None = None) -> Tenant:
    """`document` (the served OpenAPI) says which optional features to switch on so their endpoints do work."""
    session = requests.Session()
    document = document or {"paths": {}, "components": {"schemas": {}}}
    program_options = document["components"]["schemas"].get("ProgramCreate", {}).get("properties", {})

    def call(method: str, path: str, key: str, body=None, headers=None, expect=(200, 201, 202)):
        response = session.request(method, base_url + path, json=body, timeout=30,
                                   headers={"Authorization": f"Bearer {key}", **(headers or {})})
        if response.status_code not in expect:
            raise SetupError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    org = call("POST", "/v1/orgs", root_key, {"name": f"Fuzz {uuid.uuid4().hex[:8]}"})
    admin = org["admin_key"]["secret"]
    keys = {role: call("POST", "/v1/api-keys", admin, {"name": f"fuzz {role}", "role": role})
            for role in ("store", "analyst", "partner", "fulfilment", "admin")}
    program = call("POST", "/v1/programs", admin, {
        "name": "Coffee Club", "currency_name": "beans", "locale": "en", "points_expiry_days": 365,
        "earn_rules": [{"event_type": "signup", "points": 100},
                       {"event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1}}],
        "tiers": [{"name": "Silver", "min_points": 1000, "multiplier": 1.25},
                  {"name": "Gold", "min_points": 5000, "multiplier": 1.5}],
        **({"referral": {"qualifying_event": "purchase", "referrer_points": 10, "referee_points": 10}}
           if "referral" in program_options else {}),
        **({"recognition": {"monthly_allowance": 1000}} if "recognition" in program_options else {})})
    p = f"/v1/programs/{program['id']}"
    member = "ada"
    call("PUT", f"{p}/members/{member}", admin, {"email": "ada@example.com", "phone": "+14155550100", "name": "Ada"})
    call("POST", f"{p}/events", admin, {"id": "signup-ada", "type": "signup", "member": member})
    call("POST", f"{p}/members/{member}/adjustments", admin, {"points": 10_000_000, "reason": "fuzz float"},
         headers={"Idempotency-Key": "fuzz-float"})
    reward = call("POST", f"{p}/rewards", admin, {"type": "gift_card", "name": "Pastry voucher", "cost": 100})
    call("POST", f"{p}/rewards/{reward['id']}/codes", admin,
         {"codes": [f"FUZZ-{n:04d}" for n in range(40)]})  # one transaction: the emulator is slow on big ones
    call("POST", f"{p}/rewards", admin, {"type": "cashback", "name": "5 back", "cost": 50,
                                         "value": {"amount": 500, "currency": "EUR"}})
    redemption = call("POST", f"{p}/members/{member}/redemptions", admin, {"reward_id": reward["id"]},
                      headers={"Idempotency-Key": "fuzz-first"})
    token = call("POST", f"{p}/members/{member}/sessions", admin, {"ttl_seconds": 86400})["token"]
    call("PUT", f"{p}/members/bob", admin, {"name": "Bob"})  # someone to recognise or refer
    extra = {}
    if CAMPAIGNS[1] in document["paths"] and CAMPAIGNS[0].lower() in document["paths"][CAMPAIGNS[1]]:
        extra["campaign_id"] = call("POST", f"{p}/campaigns", admin, {
            "name": "Double week", "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z",
            "earn_rules": [{"event_type": "purchase", "points": 10}]})["id"]
    if IMPORTS[1] in document["paths"] and IMPORTS[0].lower() in document["paths"][IMPORTS[1]]:
        # A file through the upload URL, as an integrator sends it; its import is made by the import function.
        body = f"external_id,name\n{member},Ada\n".encode()
        upload = call("POST", f"{p}/imports", admin, {"file_name": "members.csv", "size": len(body)})
        put = session.put(upload["upload_url"], data=body, headers=upload["headers"], timeout=30)
        if put.status_code != 200:
            raise SetupError(f"PUT to the import upload URL answered {put.status_code}: {put.text[:500]}")
        deadline = time.monotonic() + IMPORT_SECONDS
        while not (imports := call("GET", f"{p}/imports?key={quote(upload['key'], safe='')}", admin)["items"]):
            if time.monotonic() > deadline:
                raise SetupError(f"the uploaded file's import did not start within {IMPORT_SECONDS} s")
            time.sleep(0.2)
        extra["import_id"] = imports[0]["id"]
    if "/v1/programs/{program_id}/templates/{kind}/{locale}" in document["paths"]:
        extra.update(kind="points_earned", locale="en")  # names, not ids: the same in every program
    if BROADCASTS[1] in document["paths"] and BROADCASTS[0].lower() in document["paths"][BROADCASTS[1]]:
        extra["broadcast_id"] = call("POST", f"{p}/broadcasts", admin, {
            "content": {"en": {"title": "Fuzz", "body": "A broadcast to point at"}}, "channels": ["email"]},
            headers={"Idempotency-Key": "fuzz-broadcast"})["id"]
    return Tenant(org_id=org["id"], admin_key=admin, store_key=keys["store"]["secret"],
                  analyst_key=keys["analyst"]["secret"], partner_key=keys["partner"]["secret"],
                  program_id=program["id"], member=member, reward_id=reward["id"], redemption_id=redemption["id"],
                  spare_key_id=keys["admin"]["id"], session=token,
                  keys={role: made["secret"] for role, made in keys.items()}, extra=extra)
