"""OWASP API Security Top 10, over HTTP against the local stack, for every operation of the contract.

The operations come from the OpenAPI document (built from the same declarations as the one
GET /v1/openapi.json serves; the first test checks they agree), so a new endpoint meets every check
here without an edit: credentials (API2), roles from its `x-roles` (API5), other organisations and
other members (API1, BOLA), injection-ish ids and oversized bodies (API4, API8), and the hygiene of
every answer (no stack trace, no AWS text, no secret, the security headers). A new endpoint may need
two things, and a test says so: a valid body (`sample_body` derives one from the schema; `SAMPLES`
overrides it where that one is refused), and, for a new kind of id in its path, a maker (`MAKERS`).
The roles table of API.md is checked against the `x-roles` of every operation (`MUST`, `MAY`), and so is the
project's roles beyond it, `fulfilment` (a fulfilment partner's key: merchandise only) and `auditor` (reads the
organisation and its audit trail, changes nothing), probed like the rest.

Two organisations, A and B, are made once per module. Every call goes through `Guard`, which fails
the test on any 5xx, any answer without the security headers or the contract's error shape, and
any answer that carries a stack trace, AWS error text or a secret it should not.
"""
import base64
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from laurel_http import Http, Reply, finished_import, upload_import


def _document() -> dict:
    import app  # noqa: F401 - declares the endpoints
    from chalicelib.core import openapi
    from chalicelib.core.web import ENDPOINTS

    return openapi.document(ENDPOINTS)


DOCUMENT = _document()
CONTRACT_ROLES = ("root", "admin", "partner", "store", "analyst", "member")
EXTENSION_ROLES = ("fulfilment", "auditor")  # the project's: a 3PL that ships merchandise; a read-only auditor
ROLES = CONTRACT_ROLES + EXTENSION_ROLES
P = "/v1/programs/{program_id}"
M = P + "/members/{external_id}"
EXTERNAL_ID = re.compile(r"[A-Za-z0-9._\-:@]{1,128}")  # API.md


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    roles: tuple[str, ...]
    params: tuple[str, ...]
    body: dict | None  # the request body's JSON Schema (a $ref), if it takes one
    idempotent: bool

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _operations(document: dict) -> list[Op]:
    found = []
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            parameters = spec.get("parameters", [])
            body = (spec.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            found.append(Op(method.upper(), path, tuple(spec.get("x-roles", ())),
                            tuple(p["name"] for p in parameters if p["in"] == "path"), body,
                            any(p["in"] == "header" and p["name"].lower() == "idempotency-key" for p in parameters)))
    return found


OPERATIONS = _operations(DOCUMENT)
SECURED = [op for op in OPERATIONS if op.roles]
WITH_PARAMS = [op for op in SECURED if op.params]
WITH_BODY = [op for op in SECURED if op.body]
MEMBER_OWNED = [op for op in SECURED if "member" in op.roles and {"external_id", "redemption_id"} & set(op.params)]
MEMBER_PROGRAM = [op for op in SECURED if "member" in op.roles and "program_id" in op.params]
PAGED = [op for op in SECURED if op.method == "GET"
         and any(p.get("name") == "cursor" for p in DOCUMENT["paths"][op.path]["get"].get("parameters", []))]


def ids(ops):
    return [op.label for op in ops]


# --- the contract's roles table (API.md) ---------------------------------------------------

ORG = "GET /v1/org"
READ_MEMBER, BALANCE, TRANSACTIONS = f"GET {M}", f"GET {M}/balance", f"GET {M}/transactions"
REWARDS, REWARD = f"GET {P}/rewards", f"GET {P}/rewards/{{reward_id}}"
REDEEM, REDEMPTION = f"POST {M}/redemptions", f"GET {P}/redemptions/{{redemption_id}}"
# What each role must be able to do, and all it may do (the project may add endpoints, not widen roles).
MUST = {
    "root": {"POST /v1/orgs"},
    "partner": {ORG, f"POST {P}/events", BALANCE},
    "store": {ORG, READ_MEMBER, BALANCE, REWARDS, REDEEM},
    "analyst": {ORG, "GET /v1/programs", f"GET {P}", READ_MEMBER, TRANSACTIONS, REWARDS, REWARD, REDEMPTION},
    "member": {READ_MEMBER, BALANCE, TRANSACTIONS, REWARDS, REWARD, REDEEM},
}
# Added by the project beyond API.md's table: member self-service (referrals, peer recognition, its tier
# history, what messages it receives, its cash wallet and its own payouts: request, read, cancel), where
# API.md says "nothing else"; and an order webhook, one more way for a partner to send events.
PO = P + "/payouts/{payout_id}"
MEMBER_EXTENSIONS = {f"GET {M}/referral-code", f"PUT {M}/referral", f"POST {M}/recognitions",
                     f"GET {M}/tier-history", f"GET {M}/preferences", f"PUT {M}/preferences",
                     f"GET {M}/wallet", f"POST {M}/payouts", f"GET {PO}", f"POST {PO}/cancel",
                     f"POST {P}/redemptions/{{redemption_id}}/cancel-booking",  # its own booking, before the cutoff
                     f"GET {M}/statement",  # its own statement as CSV
                     f"DELETE {M}/sessions",  # sign out everywhere: revoke its own sessions
                     f"GET {P}/leaderboard"}  # names and points only, others' ids and contact details never
PARTNER_EXTENSIONS = {f"POST {P}/webhooks/orders"}
# Read with the catalog: the charities a donation reward may give to, and their totals; and a member's own
# view of the catalog (what it may redeem and can afford: the rewards list and its balance, read together).
CATALOG_EXTENSIONS = {f"GET {P}/charities", f"GET {M}/catalog"}
# A member's redemptions ("my rewards"), each as GET .../redemptions/{redemption_id} shows it to the caller: read
# by those who read a redemption, but a fulfilment key (merchandise only).
MEMBER_REDEMPTIONS = f"GET {M}/redemptions"
# Added by the project for admins alone: the approval queues, an admin's decisions on a redemption or a
# payout (money moves); the budget is also read by analysts.
R = P + "/redemptions/{redemption_id}"
ADMIN_ONLY = {f"POST {R}/approve", f"POST {R}/reject", f"POST {R}/cancel", f"GET {P}/payouts",
              f"POST {PO}/approve", f"POST {PO}/reject", f"POST {PO}/mark-paid"}
ADMIN_AND_ANALYST = {f"GET {P}/budget"}
# The project's auditor role, and all it may do: read the organisation and its audit trail (query, verify, the
# retention setting). Never a member's personal data (the trail holds ids only), never a change, not even retention.
AUDIT_TRAIL = {"GET /v1/audit", "GET /v1/audit/verify", "GET /v1/audit/settings"}
AUDITOR = AUDIT_TRAIL | {ORG}
ADMIN_ONLY |= {"PUT /v1/audit/settings"}
# The project's fulfilment role, and all it may do: list the merchandise waiting to ship (the redemptions list,
# `?status=processing` only), read a merchandise redemption (its address; any other is 404), report shipments
# (a return gives points back), and read its organisation. Nothing more, not even the contract's reads.
SHIPPING = {f"GET {P}/redemptions", f"POST {R}/shipment"}
FULFILMENT = SHIPPING | {ORG, REDEMPTION}
MAY = {
    "root": MUST["root"],
    "partner": MUST["partner"] | PARTNER_EXTENSIONS,
    "store": MUST["store"] | {REWARD, REDEMPTION, MEMBER_REDEMPTIONS} | CATALOG_EXTENSIONS,
    "member": MUST["member"] | {REDEMPTION, MEMBER_REDEMPTIONS} | MEMBER_EXTENSIONS | CATALOG_EXTENSIONS,
    "fulfilment": FULFILMENT,
    "auditor": AUDITOR,
}

# --- answers -------------------------------------------------------------------------------

LEAKS = ("Traceback", "botocore", "boto3", "pynamodb", "ConditionalCheckFailed", "TransactionCanceled",
         "ValidationException", "arn:aws", 'File "', "/site-packages/", "Exception:", "KeyError", "TypeError",
         "AttributeError")
OVERSIZED = b'{"name": "' + b"x" * (300 * 1024) + b'"}'


@dataclass
class Guard:
    """The module's HTTP client: every answer is checked for what no answer may ever do."""

    http: Http
    secrets: set[str] = field(default_factory=set)  # never in an answer
    codes: set[str] = field(default_factory=set)  # gift-card codes: only where allowed
    calls: int = 0
    throttled: int = 0

    def call(self, method: str, path: str, key: str | None = None, body=None, *, headers=None, raw=None,
             codes_allowed: bool = False, routed: bool = True) -> Reply:
        """`routed=False`: a path no route may match, answered by the gateway, not the app (in AWS, API
        Gateway's own 404): only no 5xx and no leak (the local gateway's echo of the credential is
        `test_an_unknown_route_does_not_echo_the_credential`)."""
        for _ in range(10):
            reply = self.http.call(method, path, key, body, headers=headers, raw=raw)
            # A fresh connection per call: on a kept-alive one the local server's answer waits ~40 ms for a
            # delayed ACK (Nagle), which would make this module several times slower.
            self.http.session.close()
            self.calls += 1
            if reply.status != 429:
                break
            self.throttled += 1
            time.sleep(float(reply.headers.get("Retry-After", 1)))
        where = f"{method} {path[:200]} -> {reply.status}"
        assert reply.status < 500, f"{where}: a server error: {str(reply.body)[:500]}"
        headers_ = {name.lower(): value for name, value in reply.headers.items()}
        text = json.dumps(reply.body) if not isinstance(reply.body, str) else reply.body
        if routed:
            self._shape(where, reply, headers_, text)
        if path != "/v1/openapi.json":
            leaked = [word for word in LEAKS if word in text]
            assert not leaked, f"{where}: the answer carries {leaked}: {text[:500]}"
        shown = [secret for secret in self.secrets if secret in text and routed]
        assert not shown, f"{where}: the answer shows a secret ({shown[0][:12]}...)"
        if not codes_allowed:
            shown = [code for code in self.codes if code in text]
            assert not shown, f"{where}: the answer shows a gift-card code {shown}"
        return reply

    @staticmethod
    def _shape(where: str, reply: Reply, headers_: dict, text: str) -> None:
        """The security headers, and the contract's error shape."""
        assert "no-store" in headers_.get("cache-control", ""), f"{where}: Cache-Control {headers_}"
        if reply.body not in (None, ""):
            assert headers_.get("x-content-type-options") == "nosniff", f"{where}: no nosniff: {headers_}"
            content_type = headers_.get("content-type", "")
            sheet = reply.status == 200 and content_type.startswith("text/csv")  # a report as CSV, documented so
            assert content_type.startswith("application/json") or sheet, f"{where}: {headers_}"
        if reply.status >= 400:
            assert isinstance(reply.body, dict) and set(reply.body) == {"error"}, f"{where}: {text[:300]}"
            assert set(reply.body["error"]) == {"code", "message", "details"} and reply.body["error"]["code"], text


# --- two organisations ---------------------------------------------------------------------

@dataclass
class Tenant:
    label: str
    org_id: str
    keys: dict[str, str]  # role -> secret (admin, partner, store, analyst, spare, revoked)
    key_ids: dict[str, str]
    program_id: str
    program2_id: str
    reward_id: str  # a gift card
    cashback_id: str
    redemption_id: str  # m1's gift card
    sessions: dict[str, str]  # external id -> session token
    extra: dict[str, str] = field(default_factory=dict)  # ids made by MAKERS
    code: str = ""  # the code m1's redemption was fulfilled with
    mug_redemption_id: str = ""  # m1's merchandise, processing: what a fulfilment key reaches

    @property
    def admin(self) -> str:
        return self.keys["admin"]

    @property
    def path(self) -> str:
        return f"/v1/programs/{self.program_id}"

    def ids(self, **override: str) -> dict[str, str]:
        known = {"program_id": self.program_id, "external_id": "m1", "reward_id": self.reward_id,
                 "redemption_id": self.redemption_id, "key_id": self.key_ids["spare"], **NAMES, **self.extra}
        unknown = {name: f"unknown-{name}" for op in OPERATIONS for name in op.params if name not in known}
        return {**unknown, **known, **override}

    def credential(self, role: str, root_key: str) -> str:
        return root_key if role == "root" else self.sessions["m1"] if role == "member" else self.keys[role]

    def probe(self, role: str, op: "Op") -> tuple[dict[str, str], str]:
        """The ids and query `role` is probed with on `op`: a fulfilment key reaches merchandise alone (m1's mug,
        not its gift card, which is 404 to it as if absent) and lists only what waits to ship."""
        if role != "fulfilment":
            return self.ids(), ""
        return self.ids(redemption_id=self.mug_redemption_id), "?status=processing" if op.label in SHIPPING else ""

    def identifiers(self) -> set[str]:
        """What must never appear in another organisation's answers."""
        return {self.org_id, self.program_id, self.program2_id, self.reward_id, self.cashback_id,
                self.redemption_id, self.mug_redemption_id, *self.key_ids.values(), *self.extra.values(), f"Club {self.label}",
                f"Member one {self.label}"}


def _ok(reply: Reply, *statuses: int) -> Reply:
    assert reply.status in (statuses or (200, 201, 202, 204)), reply
    return reply


def _wait_for_cash(g: Guard, admin: str, path: str, timeout: float = 60) -> None:
    """m1's cashback, credited to its cash wallet by the fulfilment function (payouts are made from it)."""
    deadline = time.monotonic() + timeout
    while not _ok(g.call("GET", f"{path}/members/m1/wallet", admin)).body["balances"]:
        assert time.monotonic() < deadline, "m1's cashback never reached its cash wallet"
        time.sleep(0.2)


def _make_tenant(g: Guard, root_key: str, label: str) -> Tenant:
    org = _ok(g.call("POST", "/v1/orgs", root_key, {"name": f"Security {label}"}))
    admin = org.body["admin_key"]["secret"]
    keys, key_ids = {"admin": admin}, {"admin": org.body["admin_key"]["id"]}
    for name, role in (("partner", "partner"), ("store", "store"), ("analyst", "analyst"),
                       ("fulfilment", "fulfilment"), ("auditor", "auditor"), ("spare", "admin"), ("revoked", "admin")):
        made = _ok(g.call("POST", "/v1/api-keys", admin, {"name": f"{label} {name}", "role": role}))
        keys[name], key_ids[name] = made.body["secret"], made.body["id"]
    _ok(g.call("DELETE", f"/v1/api-keys/{key_ids['revoked']}", admin))
    program = _ok(g.call("POST", "/v1/programs", admin, {
        "name": f"Club {label}", "currency_name": "points",
        "earn_rules": [{"event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1}}]}))
    program2 = _ok(g.call("POST", "/v1/programs", admin, {"name": f"Other club {label}"}))
    path = f"/v1/programs/{program.body['id']}"
    for member in ("m1", "m2"):
        _ok(g.call("PUT", f"{path}/members/{member}", admin,
                   {"email": f"{member}@example.com", "name": f"Member {'one' if member == 'm1' else 'two'} {label}",
                    "locale": "en"}))
    _ok(g.call("POST", f"{path}/members/m1/adjustments", admin, {"points": 10_000, "reason": "float"},
               headers={"Idempotency-Key": f"float-{label}"}))
    gift = _ok(g.call("POST", f"{path}/rewards", admin,
                      {"type": "gift_card", "name": f"Voucher {label}", "description": "same", "cost": 100}))
    codes = [f"SECRET-{label}-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    _ok(g.call("POST", f"{path}/rewards/{gift.body['id']}/codes", admin, {"codes": codes}))
    g.codes.update(codes)
    cashback = _ok(g.call("POST", f"{path}/rewards", admin,
                          {"type": "cashback", "name": f"Cash {label}", "description": "same", "cost": 10,
                           "stock": 1000, "value": {"amount": 100, "currency": "EUR"}}))
    _ok(g.call("POST", f"{path}/members/m1/redemptions", admin, {"reward_id": cashback.body["id"], "quantity": 10},
               headers={"Idempotency-Key": f"cash-{label}"}))
    _wait_for_cash(g, admin, path)
    redemption = _ok(g.call("POST", f"{path}/members/m1/redemptions", admin, {"reward_id": gift.body["id"]},
                            headers={"Idempotency-Key": f"gift-{label}"}))
    mug = _ok(g.call("POST", f"{path}/rewards", admin,
                     {"type": "merchandise", "name": f"Mug {label}", "description": "same", "cost": 100, "stock": 10}))
    address = {"name": f"Member one {label}", "line1": "1 High Street", "city": "London", "postal_code": "N1 9GU",
               "country": "GB"}
    mug_redemption = _ok(g.call("POST", f"{path}/members/m1/redemptions", admin,
                                {"reward_id": mug.body["id"], "delivery": {"address": address}},
                                headers={"Idempotency-Key": f"mug-{label}"}))
    sessions = {member: _ok(g.call("POST", f"{path}/members/{member}/sessions", admin, {"ttl_seconds": 3600})).body[
        "token"] for member in ("m1", "m2")}
    tenant = Tenant(label, org.body["id"], keys, key_ids, program.body["id"], program2.body["id"], gift.body["id"],
                    cashback.body["id"], redemption.body["id"], sessions, mug_redemption_id=mug_redemption.body["id"])
    for name, (label_, body) in MAKERS.items():
        op = next((op for op in OPERATIONS if op.label == label_), None)
        if op is not None:
            made = _ok(g.call(op.method, url(op, tenant.ids()), admin, body(tenant),
                              headers={"Idempotency-Key": f"maker-{label}"} if op.idempotent else None))
            tenant.extra[name] = made.body["id"]
    if any(op.label == IMPORT for op in OPERATIONS):  # an import is made by uploading a file, not by one call
        upload = upload_import(g, admin, path, "members.csv", f"external_id,name\nm3,Member three {label}\n".encode())
        tenant.extra["import_id"] = finished_import(g, admin, path, upload["key"])["id"]
    return tenant


@dataclass
class World:
    g: Guard
    root: str
    a: Tenant
    b: Tenant
    drain: Callable[[], bool]  # the stack's queues and stream consumed (what the stream keeps is up to date)
    b_before: dict = field(default_factory=dict)


def _settled(g: Guard, tenant: Tenant, redemption_id: str, status: str, timeout: float = 30) -> dict:
    """The redemption once fulfilment has moved it to `status`."""
    deadline = time.monotonic() + timeout
    while True:
        redemption = g.call("GET", f"{tenant.path}/redemptions/{redemption_id}", tenant.admin,
                            codes_allowed=True).body
        if redemption["status"] == status or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert redemption["status"] == status, redemption
    return redemption


@pytest.fixture(scope="module")
def world(stack) -> Iterator[World]:
    g = Guard(Http(stack.base_url))  # its own client: it closes its connections (see Guard.call)
    a, b = _make_tenant(g, stack.root_key, "A"), _make_tenant(g, stack.root_key, "B")
    assert stack.drain()
    for tenant in (a, b):
        redemption = _settled(g, tenant, tenant.redemption_id, "fulfilled")
        tenant.code = redemption["fulfillment"]["code"]
        assert tenant.code in g.codes
        _settled(g, tenant, tenant.mug_redemption_id, "processing")  # waiting to ship
    g.secrets.update({stack.root_key, *a.keys.values(), *b.keys.values(), *a.sessions.values(), *b.sessions.values()})
    made = World(g, stack.root_key, a, b, stack.drain)
    made.b_before = snapshot(made, b)
    yield made
    print(f"\ntest_security: {g.calls} calls, {g.throttled} throttled")


# --- requests for an operation -------------------------------------------------------------

def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _example(schema: dict):
    """A small valid value for a JSON Schema (for operations without a sample below)."""
    schema = _resolve(schema)
    if "examples" in schema:
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return _example(next(s for s in schema["anyOf"] if s.get("type") != "null"))
    kind = schema.get("type")
    if kind == "object":
        return {name: _example(schema["properties"][name]) for name in schema.get("required", [])}
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return [_example(schema["items"]) for _ in range(schema.get("minItems", 0))]
    return "x" * max(schema.get("minLength", 1), 1)


CAMPAIGN = {"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-02-01T00:00:00Z",
            "earn_rules": [{"event_type": "probe", "points": 1}]}
W = "/v1/webhook-endpoints"
E = W + "/{endpoint_id}"
# Disabled: its deliveries fail at once, without a request leaving the machine.
WEBHOOK = {"url": "https://example.com/laurel-webhooks", "kinds": ["reward.low_stock"], "enabled": False}
BROADCAST = {"content": {"en": {"title": "Probe", "body": "A probe"}}, "channels": ["email"]}
PAYOUT = {"amount": 100, "currency": "EUR", "method": {"type": "paypal", "email": "m1@example.com"}}
TEMPLATE = {"email": {"subject": "Hi {name}", "html": "<p>Hi {name}</p>", "text": "Hi {name}"}}
MAKERS = {  # a path parameter beyond the contract's -> the operation that makes one, and its body
    "campaign_id": (f"POST {P}/campaigns", lambda t: {"name": "Campaign", **CAMPAIGN}),
    "endpoint_id": (f"POST {W}", lambda t: WEBHOOK),
    "delivery_id": (f"POST {E}/pings", lambda t: None),  # after endpoint_id: it pings that endpoint
    "broadcast_id": (f"POST {P}/broadcasts", lambda t: BROADCAST),
    "payout_id": (f"POST {M}/payouts", lambda t: PAYOUT),  # from the cash _make_tenant puts in m1's wallet
}
IMPORT = f"GET {P}/imports/{{import_id}}"  # its import_id is made in _make_tenant
# Path parameters that name no object of an organisation (the same in every one), and the public
# unsubscribe page's token, which no secured operation takes.
NAMES = {"kind": "welcome", "locale": "en", "token": "not-a-token"}
SAMPLES = {  # valid, harmless bodies (A's program and rewards already hold these values)
    "POST /v1/orgs": lambda t: {"name": "Security probe"},
    "POST /v1/api-keys": lambda t: {"name": "probe", "role": "store"},
    "PUT /v1/audit/settings": lambda t: {"retention_days": 400},
    "POST /v1/programs": lambda t: {"name": "Probe"},
    f"PATCH {P}": lambda t: {"currency_name": "points"},
    f"PUT {M}": lambda t: {"locale": "en"},
    f"POST {M}/adjustments": lambda t: {"points": 1, "reason": "probe"},
    f"POST {M}/sessions": lambda t: {"ttl_seconds": 600},
    f"POST {P}/events": lambda t: {"id": f"probe-{uuid.uuid4().hex[:8]}", "type": "probe", "member": "m1"},
    f"POST {P}/rewards": lambda t: {"type": "cashback", "name": "Probe", "cost": 1},
    f"PATCH {P}/rewards/{{reward_id}}": lambda t: {"description": "same"},
    f"POST {P}/rewards/{{reward_id}}/codes": lambda t: {"codes": [f"PROBE-{uuid.uuid4().hex[:8]}"]},
    f"POST {M}/redemptions": lambda t: {"reward_id": t.cashback_id},
    f"POST {P}/webhooks/orders": lambda t: {"id": f"probe-{uuid.uuid4().hex[:8]}", "status": "paid",
                                            "customer": {"id": "m1"}, "total": {"amount": 0, "currency": "EUR"}},
    f"POST {M}/recognitions": lambda t: {"to": "m2", "points": 1, "message": "probe"},
    f"POST {P}/campaigns": lambda t: {"name": "Probe", **CAMPAIGN},
    f"PATCH {P}/campaigns/{{campaign_id}}": lambda t: {"active": False},
    f"POST {W}": lambda t: WEBHOOK,
    f"PATCH {E}": lambda t: {"description": "probe"},
    f"PUT {P}/templates/{{kind}}/{{locale}}": lambda t: TEMPLATE,
    f"POST {P}/templates/{{kind}}/{{locale}}/preview": lambda t: TEMPLATE,
    f"PUT {M}/preferences": lambda t: {"email": {"transactional": True}},
    f"POST {P}/broadcasts": lambda t: BROADCAST,
    f"POST {R}/reject": lambda t: {"reason": "probe"},
    f"POST {R}/shipment": lambda t: {"status": "delivered"},  # A's mug is processing, its gift card no merchandise: 409
    f"POST {M}/payouts": lambda t: {**PAYOUT, "amount": 1},
    f"POST {PO}/reject": lambda t: {"reason": "probe"},
}


def sample_body(op: Op, tenant: Tenant):
    if not op.body:
        return None
    return SAMPLES[op.label](tenant) if op.label in SAMPLES else _example(op.body)


def url(op: Op, values: dict[str, str], *, encode: bool = True) -> str:
    path = op.path
    for name in op.params:
        value = values[name]
        path = path.replace("{" + name + "}", urllib.parse.quote(value, safe="") if encode else value)
    return path


def send(world: World, op: Op, key: str | None, *, values: dict | None = None, body=None, headers=None,
         raw=None, encode: bool = True, codes_allowed: bool = False, routed: bool = True, query: str = "") -> Reply:
    values = values or world.a.ids()
    sent = {**({"Idempotency-Key": f"sec-{uuid.uuid4().hex}"} if op.idempotent else {}), **(headers or {})}
    if body is None and raw is None:
        body = sample_body(op, world.a)
    return world.g.call(op.method, url(op, values, encode=encode) + query, key, body, headers=sent, raw=raw,
                        codes_allowed=codes_allowed, routed=routed)


def snapshot(world: World, tenant: Tenant) -> dict:
    """What another caller must never change, read by the tenant's own analyst (and admin, for keys), once what
    the stream keeps (analytics, leaderboards, liability) has caught up with the tenant's own earlier calls."""
    assert world.drain()
    lists = [op for op in SECURED if op.method == "GET" and op.params == ("program_id",)]  # rewards, ...
    reads = [(tenant.path, "analyst"), (f"{tenant.path}/members/m1", "analyst"),
             (f"{tenant.path}/redemptions/{tenant.redemption_id}", "analyst"),
             (f"{tenant.path}/redemptions/{tenant.mug_redemption_id}", "analyst"),
             *[(url(op, tenant.ids()), "analyst" if "analyst" in op.roles else "admin") for op in lists]]
    state = {path: world.g.call("GET", path, tenant.keys[role]).body for path, role in reads}
    state["keys"] = world.g.call("GET", "/v1/api-keys?limit=100", tenant.admin).body
    state["webhook endpoints"] = world.g.call("GET", f"{W}?limit=100", tenant.admin).body
    # The tenant's audit trail grows with its own calls (these reads among them), and never with another's.
    own = {*tenant.key_ids.values(), *tenant.sessions, "root"}
    trail = world.g.call("GET", "/v1/audit?limit=100", tenant.keys["auditor"]).body["items"]
    state["audit records of other callers"] = [record for record in trail if record["actor"]["id"] not in own]
    return state


def changes_nothing(op: Op) -> bool:
    return op.method in ("GET", "HEAD")


def assert_error(reply: Reply, status: int, code: str, context: str = "") -> None:
    assert (reply.status, reply.code) == (status, code), f"{context}: expected {status} {code}, got {reply}"


# --- the document --------------------------------------------------------------------------

def test_the_served_document_is_the_one_tested(world):
    served = world.g.call("GET", "/v1/openapi.json").body
    assert {(op.label, op.roles) for op in _operations(served)} == {(op.label, op.roles) for op in OPERATIONS}


def test_every_path_parameter_names_a_real_object(world):
    """A new kind of id needs an entry in MAKERS, or the checks above probe it with an id that names nothing."""
    unknown = {name for name, value in world.a.ids().items() if value.startswith("unknown-")}
    assert not unknown, f"add a maker for {unknown} to MAKERS"


def test_the_roles_are_the_contracts():
    granted = {role: {op.label for op in SECURED if role in op.roles} for role in ROLES}
    assert all(set(op.roles) <= set(ROLES) for op in SECURED), [op.roles for op in SECURED]
    assert all("admin" in op.roles or op.roles == ("root",) for op in SECURED), "admin may do everything in its org"
    assert all(op.label.startswith("GET ") for op in SECURED if "analyst" in op.roles), "analyst is read-only"
    for role, must in MUST.items():
        assert must <= granted[role], f"{role} lost {must - granted[role]}"
    for role, may in MAY.items():
        assert granted[role] <= may, f"{role} may also {granted[role] - may}, beyond API.md's roles table"
    roles = {op.label: set(op.roles) for op in SECURED}
    assert {label: roles.get(label) for label in ADMIN_ONLY} == {label: {"admin"} for label in ADMIN_ONLY}
    assert {label: roles.get(label) for label in ADMIN_AND_ANALYST} == {
        label: {"admin", "analyst"} for label in ADMIN_AND_ANALYST}
    assert {label: roles.get(label) for label in SHIPPING} == {label: {"admin", "fulfilment"} for label in SHIPPING}
    assert roles[MEMBER_REDEMPTIONS] == roles[REDEMPTION] - {"fulfilment"}
    assert granted["fulfilment"] == FULFILMENT, "a fulfilment key does exactly what a 3PL needs"
    assert {label: roles.get(label) for label in AUDIT_TRAIL} == {label: {"admin", "auditor"} for label in AUDIT_TRAIL}
    assert granted["auditor"] == AUDITOR and all(label.startswith("GET ") for label in AUDITOR), "auditor reads only"


# --- API2 broken authentication ------------------------------------------------------------

@pytest.mark.parametrize("op", SECURED, ids=ids(SECURED))
def test_no_credential_is_401(world, op):
    assert_error(send(world, op, None), 401, "unauthorized", "no Authorization")
    assert_error(send(world, op, None, headers={"Authorization": ""}), 401, "unauthorized", "empty Authorization")


def _forged_sessions(tenant: Tenant, other: Tenant) -> list[str]:
    _, body, signature = tenant.sessions["m1"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))

    def encode(changed: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(changed, separators=(",", ":")).encode()).rstrip(b"=").decode()

    return [f"mst.{encode({**claims, 'm': 'm2'})}.{signature}",  # another member, the old signature
            f"mst.{encode({**claims, 'o': other.org_id})}.{signature}",  # another organisation
            f"mst.{encode({**claims, 'e': claims['e'] + 10**6})}.{signature}",  # a longer life
            f"mst.{body}.", f"mst.{body}", f"mst.{body}.{signature[:-2]}AA", f"mst..{signature}"]


def malformed(world: World) -> list[str]:
    a, b = world.a, world.b
    org, key_id, token = a.admin.split(".")
    b_token = b.admin.split(".")[2]
    forged = _forged_sessions(a, b)
    return [f"Basic {a.admin}", "Bearer ", f"Bearer {a.admin[:-1]}{'A' if a.admin[-1] != 'A' else 'B'}",  # tampered
            f"Bearer {b.org_id}.{key_id}.{token}",  # A's key under B's organisation
            f"Bearer {org}.{key_id}.{b_token}",  # A's key id, B's token
            f"Bearer {forged[0]}", f"Bearer {forged[1]}", f"Bearer {'x' * 2000}",
            f"Token {a.admin}", f"bearer-{a.admin}", "Bearer", "Bearer  ",
            f"Bearer {org}.{key_id}", f"Bearer {org}.{key_id}.{token}.extra", "Bearer ...", "Bearer a.b.c",
            "Bearer org_x.key_y.zzz", f"Bearer {a.admin}{'x' * 1100}",
            f"Bearer {hash(a.admin)}", "Bearer null", "Bearer undefined", "Bearer %00",
            *[f"Bearer {session}" for session in forged[2:]]]


EVERYWHERE = 5  # the first malformed values go to every operation; all of them to a few (one code path)
ALL_MALFORMED = [op for op in SECURED if op.label in ("POST /v1/orgs", ORG, REDEEM, READ_MEMBER)]


@pytest.mark.parametrize("op", SECURED, ids=ids(SECURED))
def test_malformed_credentials_are_401(world, op):
    values = malformed(world)
    for value in values if op in ALL_MALFORMED else values[:EVERYWHERE]:
        reply = send(world, op, None, headers={"Authorization": value})
        assert_error(reply, 401, "unauthorized", f"Authorization: {value[:60]}")
        secret = value.split(" ", 1)[-1]
        assert len(secret) < 8 or secret not in json.dumps(reply.body), "the credential is echoed back"


@pytest.mark.parametrize("op", SECURED, ids=ids(SECURED))
def test_a_revoked_key_is_401(world, op):
    assert_error(send(world, op, world.a.keys["revoked"]), 401, "unauthorized", "revoked admin key")


# --- API5 broken function-level authorisation ------------------------------------------------

@pytest.mark.parametrize("op", SECURED, ids=ids(SECURED))
def test_a_role_not_listed_is_403(world, op):
    for role in sorted(set(ROLES) - set(op.roles)):
        assert_error(send(world, op, world.a.credential(role, world.root)), 403, "forbidden", f"as {role}")


@pytest.mark.parametrize("op", SECURED, ids=ids(SECURED))
def test_a_role_listed_gets_past_authorisation(world, op):
    for role in op.roles:
        values, query = world.a.probe(role, op)
        if "key_id" in op.params:  # revoke a throwaway key, not one another test names
            made = world.g.call("POST", "/v1/api-keys", world.a.admin, {"name": "throwaway", "role": "store"})
            values["key_id"] = made.body["id"]
        if op.label == f"DELETE {E}":  # likewise, delete a throwaway webhook endpoint
            values["endpoint_id"] = world.g.call("POST", W, world.a.admin, WEBHOOK).body["id"]
        credential = world.a.credential(role, world.root)
        if op.label in THROWAWAY_MEMBER:  # a throwaway member's, not m1's that the other tests use
            values["external_id"], session = _throwaway_member(world)
            credential = session if role == "member" else credential
        reply = send(world, op, credential, values=values, codes_allowed=True, query=query)
        assert reply.status not in (401, 403), f"as {role}: {reply}"
        assert reply.status != 400, f"as {role}: the sample body is refused: add a valid one to SAMPLES: {reply}"


# What ends a member's use of the API: revoking its sessions, closing, blocking, erasing it (and their undoing).
THROWAWAY_MEMBER = {f"DELETE {M}/sessions", *(f"POST {M}/{action}" for action in
                                              ("close", "reopen", "block", "unblock", "erasure"))}


def _throwaway_member(world) -> tuple[str, str]:
    """A member of A's program no other test names, and a session of its own."""
    external_id = f"spare-{uuid.uuid4().hex[:8]}"
    path = f"{world.a.path}/members/{external_id}"
    _ok(world.g.call("PUT", path, world.a.admin, {"name": "Spare"}))
    session = _ok(world.g.call("POST", f"{path}/sessions", world.a.admin, {"ttl_seconds": 600})).body["token"]
    world.g.secrets.add(session)
    world.a.sessions[external_id] = session  # one of A's own callers (its audit trail may name it)
    return external_id, session


# --- API1 broken object-level authorisation --------------------------------------------------

def _no_identifiers_of(tenant: Tenant, reply: Reply, context: str) -> None:
    text = json.dumps(reply.body)
    shown = [value for value in tenant.identifiers() if value in text]
    assert not shown, f"{context}: another organisation's data in the answer: {shown}"


CROSS = [op for op in SECURED if op.params or changes_nothing(op)]  # a write without ids only acts on B's own


@pytest.mark.parametrize("op", CROSS, ids=ids(CROSS))
def test_another_organisation_gets_404_and_changes_nothing(world, op):
    """B's credentials of every role the operation allows, on A's objects (or, without ids, B's own only)."""
    before = None if changes_nothing(op) else snapshot(world, world.a)
    for role in op.roles:
        values, query = world.a.probe(role, op)
        reply = send(world, op, world.b.credential(role, world.root), values=values, body=sample_body(op, world.a),
                     query=query)
        context = f"B's {role} on A's {op.label}"
        if op.params:
            assert_error(reply, 404, "not_found", context)
        else:
            assert reply.status not in (401, 403), f"{context}: {reply}"
        _no_identifiers_of(world.a, reply, context)
    if before is not None:
        assert snapshot(world, world.a) == before, f"{op.label} by organisation B changed A's data"


SWAPPABLE = [(op, name) for op in WITH_PARAMS for name in op.params if name != "external_id" and name not in NAMES]


@pytest.mark.parametrize("op, param", SWAPPABLE, ids=[f"{op.label} [{param} of B]" for op, param in SWAPPABLE])
def test_an_id_of_another_organisation_in_the_path_is_404(world, op, param):
    """A's admin (or root) with one of B's ids among A's."""
    role = "admin" if "admin" in op.roles else op.roles[0]
    reply = send(world, op, world.a.credential(role, world.root), values=world.a.ids(**{param: world.b.ids()[param]}))
    assert_error(reply, 404, "not_found", f"{param} of B")
    _no_identifiers_of(world.b, reply, f"{param} of B")


def test_organisation_b_is_as_it_was_made(world):
    """Nothing A's credentials sent with B's ids (above) changed B (B itself wrote nothing either)."""
    assert snapshot(world, world.b) == world.b_before


@pytest.mark.parametrize("op", MEMBER_OWNED, ids=ids(MEMBER_OWNED))
def test_a_member_session_reaches_only_its_own_member(world, op):
    """m2's session on m1's member or redemption (same program, same organisation)."""
    before = None if changes_nothing(op) else snapshot(world, world.a)
    reply = send(world, op, world.a.sessions["m2"])
    assert_error(reply, 404, "not_found", "m2's session on m1")
    if before is not None:
        assert snapshot(world, world.a) == before


@pytest.mark.parametrize("op", MEMBER_PROGRAM, ids=ids(MEMBER_PROGRAM))
def test_a_member_session_reaches_only_its_own_program(world, op):
    """m1's session on another program of its own organisation, and on B's program."""
    for program in (world.a.program2_id, world.b.program_id):
        assert_error(send(world, op, world.a.sessions["m1"], values=world.a.ids(program_id=program)), 404,
                     "not_found", f"m1's session on program {program}")


# --- API3 / API6 mass assignment, amounts --------------------------------------------------

SERVER_FIELDS = ("balance", "available", "pending", "lifetime_earned", "tier", "org_id", "id", "points",
                 "program_id", "created_at", "updated_at", "secret", "secret_hash", "revoked_at", "status")
MASS_ASSIGNMENT = {  # operation -> (a valid body, the fields it legitimately takes)
    f"PUT {M}": (lambda t: {"name": "Member one A"}, ()),
    f"PATCH {P}": (lambda t: {"currency_name": "points"}, ()),
    f"POST {P}/rewards": (lambda t: {"type": "cashback", "name": "R", "cost": 1}, ()),
    f"PATCH {P}/rewards/{{reward_id}}": (lambda t: {"description": "same"}, ()),
    f"POST {P}/events": (lambda t: {"id": f"mass-{uuid.uuid4().hex[:8]}", "type": "purchase", "member": "m1",
                                    "properties": {"amount": 100}}, ("id",)),
    f"POST {M}/redemptions": (lambda t: {"reward_id": t.cashback_id}, ()),
    f"POST {M}/adjustments": (lambda t: {"points": 1, "reason": "r"}, ("points",)),
    "POST /v1/api-keys": (lambda t: {"name": "k", "role": "store"}, ()),
}
MASS_OPS = [op for op in SECURED if op.label in MASS_ASSIGNMENT]


def test_mass_assignment_covers_the_named_operations():
    assert len(MASS_OPS) == len(MASS_ASSIGNMENT), set(MASS_ASSIGNMENT) - {op.label for op in MASS_OPS}


@pytest.mark.parametrize("op", MASS_OPS, ids=ids(MASS_OPS))
def test_server_owned_fields_cannot_be_assigned(world, op):
    valid, own = MASS_ASSIGNMENT[op.label]
    before = snapshot(world, world.a)
    for name in SERVER_FIELDS:
        if name in own:
            continue
        value = world.b.org_id if name in ("org_id", "program_id") else 10**6 if name != "status" else "fulfilled"
        reply = send(world, op, world.a.admin, body={**valid(world.a), name: value})
        assert_error(reply, 400, "validation_error", f"{name} in the body")
        assert reply.body["error"]["details"].get("field") == name, reply
    assert snapshot(world, world.a) == before


AMOUNTS = {  # (operation, field, a valid body) -> values that must be refused
    (f"POST {M}/adjustments", "points", lambda t: {"points": 1, "reason": "r"}):
        [0, 10**12, -(10**12), 1.5, 1.0, "10", True, None, [], {}],
    (f"POST {P}/rewards", "cost", lambda t: {"type": "cashback", "name": "R", "cost": 1}):
        [-1, 0, 10**12, 1.5, 1.0, "10", True, None],
    (f"POST {P}/rewards", "stock", lambda t: {"type": "cashback", "name": "R", "cost": 1}):
        [-1, 10**12, 1.5, "10", True],
    (f"PATCH {P}/rewards/{{reward_id}}", "cost", lambda t: {}): [-1, 0, 10**12, 1.5, "10", True, None],
    (f"PATCH {P}/rewards/{{reward_id}}", "stock", lambda t: {}): [-1, 10**12, 1.5, "10", True],
    (f"POST {M}/redemptions", "quantity", lambda t: {"reward_id": t.cashback_id}):
        [-1, 0, 10**12, 1.5, 1.0, "1", True, None],
    ("POST /v1/programs", "earn_rules.0.points", lambda t: {"name": "P"}): [-1, 0, 10**12, 1.5, "10", True],
}


@pytest.mark.parametrize("label, name, valid", list(AMOUNTS), ids=[f"{label} {name}" for label, name, _ in AMOUNTS])
def test_amounts_out_of_range_or_of_the_wrong_type_are_400(world, label, name, valid):
    op = next(op for op in SECURED if op.label == label)
    values = world.a.ids(reward_id=world.a.cashback_id)  # a cashback reward: its stock may be changed
    before = snapshot(world, world.a)
    for value in AMOUNTS[(label, name, valid)]:
        body = valid(world.a)
        if name == "earn_rules.0.points":
            body["earn_rules"] = [{"event_type": "x", "points": value}]
        else:
            body[name] = value
        reply = send(world, op, world.a.admin, values=values, body=body)
        assert_error(reply, 400, "validation_error", f"{name}={value!r}")
        assert reply.body["error"]["details"].get("field") == name, f"{name}={value!r}: {reply}"
    assert snapshot(world, world.a) == before


NULLABLE_REQUIRED = [(f"PATCH {P}", name) for name in ("name", "currency_name", "locale", "earn_rules", "tiers")] + \
    [(f"PATCH {P}/rewards/{{reward_id}}", name) for name in ("name", "cost", "active")]


@pytest.mark.parametrize("label, name", NULLABLE_REQUIRED, ids=[f"{label} {name}=null" for label, name in NULLABLE_REQUIRED])
def test_null_for_a_field_a_program_or_reward_needs_is_400_or_ignored(world, label, name):
    op = next(op for op in SECURED if op.label == label)
    before = world.g.call("GET", url(op, world.a.ids()), world.a.admin).body
    reply = send(world, op, world.a.admin, body={name: None})
    if reply.status == 200:  # null read as "unchanged" (or, for a list, as "none")
        assert reply.body[name] in (before[name], *([[]] if isinstance(before[name], list) else [])), reply
    else:
        assert_error(reply, 400, "validation_error", f"{name}=null")


# --- API4 / API8 oversized bodies, injection-ish ids, odd queries ------------------------------

@pytest.mark.parametrize("op", WITH_BODY, ids=ids(WITH_BODY))
def test_an_oversized_body_is_413(world, op):
    role = "admin" if "admin" in op.roles else op.roles[0]
    assert_error(send(world, op, world.a.credential(role, world.root), raw=OVERSIZED), 413, "payload_too_large")


INJECTIONS = ["' OR 1=1 --", "x" * 5000, "é😀", "../", "%00", "#", "?limit=1", "\n", '" OR ""="',
              "'; DROP TABLE x; --", "\x00", "\\", " ", "*", "%", "{}", "$where", "%2e%2e%2f", "../../v1/org",
              "m1/../m2", "m1%2f..%2fm2", "é" * 1500, "prg_" + "0" * 26, "rwd_" + "0" * 26, "rdm_" + "0" * 26,
              "key_" + "0" * 26]
EVERY_OPERATION = 3  # the first injections go to every (operation, parameter); all to one operation per parameter
RAW_TRAVERSALS = ["..", ".", "../..", "m1/../m2", "..;"]
INJECTABLE = [(op, name) for op in WITH_PARAMS for name in op.params]
FULL = {name: min((op for op in WITH_PARAMS if name in op.params), key=lambda op: op.method == "GET")
        for _, name in INJECTABLE}  # a write where there is one


@pytest.mark.parametrize("op, param", INJECTABLE, ids=[f"{op.label} [{param}]" for op, param in INJECTABLE])
def test_injection_ish_ids_are_400_or_404(world, op, param):
    role = "admin" if "admin" in op.roles else op.roles[0]
    key = world.a.credential(role, world.root)
    for payload in INJECTIONS if FULL[param] == op else INJECTIONS[:EVERY_OPERATION]:
        reply = send(world, op, key, values=world.a.ids(**{param: payload}))
        if param == "external_id" and EXTERNAL_ID.fullmatch(payload):  # a valid member id: PUT makes it
            assert reply.status < 500, reply
        else:
            assert reply.status in (400, 404), f"{param}={payload[:40]!r}: {reply}"
        _no_identifiers_of(world.b, reply, f"{param}={payload[:40]!r}")
    for payload in RAW_TRAVERSALS if FULL[param] == op else RAW_TRAVERSALS[:1]:
        # unencoded: the path itself changes, so any route may answer; never a 5xx, never B's data
        reply = send(world, op, key, values=world.a.ids(**{param: payload}), encode=False, routed=False)
        _no_identifiers_of(world.b, reply, f"raw {param}={payload!r}")


QUERIES = [("limit", value) for value in ("0", "101", "-1", "1.5", "1e2", "abc", "", "%00", "١", "²", "9" * 40)] + \
    [("cursor", value) for value in ("x", "x.y", ".", "." * 500, "é", "a.é", "%00", "a" * 5000, "eyJ9.00")]


@pytest.mark.parametrize("name, value", QUERIES, ids=[f"{name}={value[:12]!r}" for name, value in QUERIES])
def test_odd_list_queries_are_400_on_every_list(world, name, value):
    for op in PAGED:
        role = "admin" if "admin" in op.roles else op.roles[0]
        path = url(op, world.a.ids()) + "?" + urllib.parse.urlencode({name: value})
        reply = world.g.call("GET", path, world.a.credential(role, world.root))
        if (name, value) == ("limit", "١"):  # Arabic-Indic one: int() reads it as 1
            assert reply.status in (200, 400), reply
        else:
            assert_error(reply, 400, "validation_error", f"{op.label}?{name}={value[:20]!r}")
            assert reply.body["error"]["details"].get("field") == name, reply


# --- API8 security misconfiguration: headers, errors that leak ----------------------------------

def test_public_and_framework_answers_carry_the_security_headers(world):
    g, admin = world.g, world.a.admin
    assert g.call("GET", "/v1/health").status == 200
    assert g.call("GET", "/v1/openapi.json").status == 200
    assert g.call("GET", "/v1/nothing-here", admin, routed=False).status in (403, 404)
    assert g.call("DELETE", "/v1/programs", admin).status == 405
    assert g.call("POST", "/v1/programs", admin, raw=b"name=x", headers={"Content-Type": "text/plain"}).status in (
        400, 415)
    assert g.call("POST", "/v1/programs", admin, raw=b'{"name": ', headers={}).status == 400
    assert g.call("POST", "/v1/programs", admin, raw=b"\xff\xfe{", headers={}).status == 400


def test_an_unknown_route_does_not_echo_the_credential(world):
    reply = world.g.call("GET", "/v1/nothing-here", world.a.admin, routed=False)
    assert world.a.admin not in json.dumps(reply.body)
    assert "no-store" in {k.lower(): v for k, v in reply.headers.items()}.get("cache-control", "")


# --- secrets -------------------------------------------------------------------------------

def test_api_key_secrets_are_shown_once_and_never_listed(world):
    for tenant in (world.a, world.b):
        listed = world.g.call("GET", "/v1/api-keys?limit=100", tenant.admin)  # the guard checks every secret
        assert listed.status == 200 and all("secret" not in item and "secret_hash" not in item
                                            for item in listed.body["items"])
        assert {item["id"] for item in listed.body["items"]} >= set(tenant.key_ids.values())
        for role in ("admin", "partner", "store", "analyst", "fulfilment", "auditor"):
            assert world.g.call("GET", "/v1/org", tenant.keys[role]).status == 200


def _gift_card(reply: Reply, tenant: Tenant) -> dict:
    """m1's gift-card redemption in an answer: the redemption itself, or its item in m1's list."""
    if "items" not in reply.body:
        return reply.body
    return next(item for item in reply.body["items"] if item["id"] == tenant.redemption_id)


def test_gift_card_codes_only_to_admins_and_the_members_own_session(world):
    a, g = world.a, world.g
    path = f"{a.path}/redemptions/{a.redemption_id}"
    listed = f"{a.path}/members/m1/redemptions"
    for where in (path, listed):
        for who, key in (("admin", a.admin), ("m1's session", a.sessions["m1"])):
            reply = g.call("GET", where, key, codes_allowed=True)
            assert reply.status == 200 and _gift_card(reply, a)["fulfillment"].get("code") == a.code, f"{who}: {reply}"
        for role in ("store", "analyst"):
            reply = g.call("GET", where, a.keys[role])  # the guard fails on any code in the answer
            shown = _gift_card(reply, a)
            assert reply.status == 200 and shown["status"] == "fulfilled" and "code" not in shown["fulfillment"]
    assert_error(g.call("GET", path, a.sessions["m2"]), 404, "not_found")
    assert_error(g.call("GET", path, world.b.admin), 404, "not_found")
    assert_error(g.call("GET", path, a.keys["fulfilment"]), 404, "not_found")  # it reaches merchandise alone
    # nor anywhere else a store, an analyst, a member or a fulfilment partner reads
    for role, key in (("store", a.keys["store"]), ("analyst", a.keys["analyst"]), ("member", a.sessions["m1"]),
                      ("fulfilment", a.keys["fulfilment"]), ("admin", a.admin)):
        for op in SECURED:
            if op.method == "GET" and role in op.roles and op.label not in (REDEMPTION, MEMBER_REDEMPTIONS):
                # an admin's export of the member (an access request) holds everything, its codes included
                assert send(world, op, key, codes_allowed=op.label == f"GET {M}/export").status < 500
    # a store replaying the admin's redemption (same key, same body) sees the first answer, without the code
    replay = g.call("POST", f"{a.path}/members/m1/redemptions", a.keys["store"], {"reward_id": a.reward_id},
                    headers={"Idempotency-Key": "gift-A"})
    assert replay.status == 200 and replay.body["id"] == a.redemption_id, replay


def test_gift_card_codes_are_stored_sealed_and_never_logged(stack, world):
    # Given both organisations' codes uploaded and one of each redeemed and fulfilled (the world)
    assert world.a.code and world.b.code
    # When every table on the emulator is read as stored, and everything the stack has logged
    dynamodb = stack.client("dynamodb")
    stored = json.dumps([item for table in dynamodb.list_tables()["TableNames"]
                         for page in dynamodb.get_paginator("scan").paginate(TableName=table)
                         for item in page["Items"]], default=str)  # binary attributes (sketches) as text
    # Then no code is there in clear, assigned or not
    assert not [code for code in world.g.codes if code in stored]
    assert not [code for code in world.g.codes if code in stack.output]


REDEMPTION_READERS = next(op.roles for op in SECURED if op.label == REDEMPTION)


def test_a_shipping_address_only_to_admins_the_members_own_session_and_fulfilment(world):
    # Given m1's mug, waiting to ship to its address (the world)
    a, g = world.a, world.g
    path = f"{a.path}/redemptions/{a.mug_redemption_id}"
    # When every role that reads redemptions reads it
    seen = {role: g.call("GET", path, a.credential(role, world.root)) for role in REDEMPTION_READERS}
    # Then admins, m1's session and the fulfilment key see where it goes; a store and an analyst do not
    assert {role: reply.status for role, reply in seen.items()} == dict.fromkeys(REDEMPTION_READERS, 200)
    assert {role for role, reply in seen.items() if "delivery" in reply.body} == {"admin", "member", "fulfilment"}
    assert seen["fulfilment"].body["delivery"]["address"]["name"] == "Member one A"
    # And m1's list of redemptions shows it as each of those roles reads it, but to a fulfilment key (403)
    listed = {role: g.call("GET", f"{a.path}/members/m1/redemptions", a.credential(role, world.root),
                           codes_allowed=True) for role in REDEMPTION_READERS}
    assert {role: reply.status for role, reply in listed.items()} == {
        **dict.fromkeys(REDEMPTION_READERS, 200), "fulfilment": 403}
    assert {role for role, reply in listed.items() if reply.status == 200 and "delivery" in next(
        item for item in reply.body["items"] if item["id"] == a.mug_redemption_id)} == {"admin", "member"}
    # And m2's session and B's fulfilment key get 404
    assert_error(g.call("GET", path, a.sessions["m2"]), 404, "not_found")
    assert_error(g.call("GET", path, world.b.keys["fulfilment"]), 404, "not_found")
