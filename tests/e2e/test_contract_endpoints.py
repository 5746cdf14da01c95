"""Every endpoint of the contract (../shared/API.md), over HTTP against the running local stack."""
import pytest
from openapi_spec_validator import validate

from laurel_http import new_tenant


@pytest.fixture(scope="module")
def tenant(http, stack):
    return new_tenant(http, stack.root_key)


def key(http, tenant, role):
    created = http.call("POST", "/v1/api-keys", tenant["admin"], {"name": f"{role} key", "role": role})
    assert created.status == 201, created
    return created.body["secret"]


def test_health_and_openapi_need_no_credential(http):
    assert (http.call("GET", "/v1/health").status, http.call("GET", "/v1/health").body) == (200, {"status": "ok"})
    document = http.call("GET", "/v1/openapi.json")
    assert document.status == 200
    validate(document.body)
    assert "/v1/programs/{program_id}/members/{external_id}/redemptions" in document.body["paths"]


def test_organisations_only_with_the_root_key(http, stack, tenant):
    assert http.call("POST", "/v1/orgs", tenant["admin"], {"name": "X"}).code == "forbidden"
    assert http.call("POST", "/v1/orgs", None, {"name": "X"}).code == "unauthorized"
    org = http.call("GET", "/v1/org", tenant["admin"])
    assert org.status == 200 and org.body["id"] == tenant["org_id"]
    assert org.body["partner_events_queue_url"].startswith("http") and org.body["partner_events_dlq_url"]


def test_api_keys_are_shown_once_listed_without_secrets_and_revoked_within_seconds(http, tenant):
    created = http.call("POST", "/v1/api-keys", tenant["admin"], {"name": "till 1", "role": "store"})
    assert created.status == 201 and set(created.body) >= {"id", "name", "role", "secret", "created_at"}
    listed = http.call("GET", "/v1/api-keys?limit=100", tenant["admin"])
    assert created.body["id"] in [item["id"] for item in listed.body["items"]]
    assert all("secret" not in item for item in listed.body["items"])
    store = created.body["secret"]
    assert http.call("GET", "/v1/org", store).status == 200
    assert http.call("DELETE", f"/v1/api-keys/{created.body['id']}", tenant["admin"]).status == 204
    assert http.call("GET", "/v1/org", store).code == "unauthorized"  # same process: revoked at once


def test_programs_create_list_get_patch(http, tenant):
    program = http.call("GET", tenant["path"], tenant["admin"])
    assert program.status == 200 and program.body["currency_name"] == "beans"
    assert tenant["program_id"] in [p["id"] for p in http.call("GET", "/v1/programs", tenant["admin"]).body["items"]]
    patched = http.call("PATCH", tenant["path"], tenant["admin"], {"name": "Coffee Club+"})
    assert patched.status == 200 and patched.body["name"] == "Coffee Club+"
    assert patched.body["earn_rules"] == program.body["earn_rules"]
    assert http.call("GET", tenant["path"], key(http, tenant, "analyst")).status == 200
    assert http.call("PATCH", tenant["path"], key(http, tenant, "analyst"), {"name": "x"}).code == "forbidden"


def test_members_balance_transactions_adjustments(http, tenant):
    member = f"{tenant['path']}/members/ada"
    created = http.call("PUT", member, tenant["admin"], {"email": "ada@example.com", "name": "Ada"})
    assert created.status == 201 and created.body["balance"]["available"] == 0 and created.body["tier"] is None
    assert http.call("PUT", member, tenant["admin"], {"locale": "it"}).status == 200
    credit = http.call("POST", f"{member}/adjustments", tenant["admin"], {"points": 1200, "reason": "welcome"},
                       headers={"Idempotency-Key": "adj-1"})
    assert credit.status == 201 and credit.body["balance"]["available"] == 1200
    assert http.call("POST", f"{member}/adjustments", tenant["admin"], {"points": 1200, "reason": "welcome"},
                     headers={"Idempotency-Key": "adj-1"}).body == credit.body
    assert http.call("POST", f"{member}/adjustments", tenant["admin"], {"points": 5, "reason": "welcome"},
                     headers={"Idempotency-Key": "adj-1"}).code == "idempotency_conflict"
    debit = http.call("POST", f"{member}/adjustments", tenant["admin"], {"points": -1201, "reason": "oops"},
                      headers={"Idempotency-Key": "adj-2"})
    assert (debit.status, debit.code) == (409, "insufficient_points")
    balance = http.call("GET", f"{member}/balance", tenant["admin"])
    assert balance.body["available"] == 1200 and balance.body["expiring"][0]["points"] == 1200
    got = http.call("GET", member, tenant["admin"])
    assert got.body["locale"] == "it" and got.body["email"] == "ada@example.com"
    page = http.call("GET", f"{member}/transactions", tenant["admin"])
    assert [(t["kind"], t["points"], t["balance_after"]) for t in page.body["items"]] == [("adjust", 1200, 1200)]
    assert http.call("GET", f"{member}/balance", key(http, tenant, "partner")).status == 200


def test_events_earn_with_rules_and_tiers_and_replay(http, tenant):
    events = f"{tenant['path']}/events"
    first = http.call("POST", events, tenant["admin"],
                      {"id": "o-1", "type": "purchase", "member": "bob", "properties": {"amount": 150000}})
    assert first.status == 201 and first.body["points"] == 1500 and first.body["balance"]["tier"] == "Silver"
    again = http.call("POST", events, key(http, tenant, "partner"),
                      {"id": "o-1", "type": "purchase", "member": "bob", "properties": {"amount": 150000}})
    assert again.status == 200 and again.body == first.body
    silver = http.call("POST", events, tenant["admin"], {"id": "o-2", "type": "purchase", "member": "bob",
                                                         "properties": {"amount": 1000}})
    assert silver.body["points"] == 12  # floor(10 * 1.25)
    nothing = http.call("POST", events, tenant["admin"], {"id": "o-3", "type": "page_view", "member": "bob"})
    assert nothing.status == 201 and nothing.body["points"] == 0 and nothing.body["transactions"] == []
    page = http.call("GET", f"{tenant['path']}/members/bob/transactions?limit=1", tenant["admin"])
    assert len(page.body["items"]) == 1 and page.body["next_cursor"]
    rest = http.call("GET", f"{tenant['path']}/members/bob/transactions?cursor={page.body['next_cursor']}",
                     tenant["admin"])
    assert [t["event_id"] for t in page.body["items"] + rest.body["items"]] == ["o-2", "o-1"]


def test_rewards_codes_and_catalog(http, tenant):
    rewards = f"{tenant['path']}/rewards"
    card = http.call("POST", rewards, tenant["admin"], {"type": "gift_card", "name": "Books 10", "cost": 100,
                                                        "value": {"amount": 1000, "currency": "EUR"}})
    assert card.status == 201 and card.body["stock"] == 0
    codes = http.call("POST", f"{rewards}/{card.body['id']}/codes", tenant["admin"], {"codes": ["A1", "A2", "A1"]})
    assert codes.status == 201 and codes.body == {"added": 2, "duplicates": 1}
    assert http.call("GET", f"{rewards}/{card.body['id']}", tenant["admin"]).body["stock"] == 2
    hidden = http.call("POST", rewards, tenant["admin"], {"type": "merchandise", "name": "Mug", "cost": 50,
                                                          "stock": 3, "active": False})
    listed = [r["id"] for r in http.call("GET", rewards, key(http, tenant, "store")).body["items"]]
    assert card.body["id"] in listed and hidden.body["id"] not in listed
    patched = http.call("PATCH", f"{rewards}/{hidden.body['id']}", tenant["admin"], {"active": True, "stock": 5})
    assert patched.body["active"] is True and patched.body["stock"] == 5


def test_member_sessions_reach_only_their_member(http, tenant):
    member = f"{tenant['path']}/members/carol"
    http.call("PUT", member, tenant["admin"], {"name": "Carol"})
    http.call("PUT", f"{tenant['path']}/members/dave", tenant["admin"], {"name": "Dave"})
    session = http.call("POST", f"{member}/sessions", tenant["admin"], {})
    assert session.status == 201 and session.body["expires_at"].endswith("Z")
    token = session.body["token"]
    assert http.call("GET", member, token).status == 200
    assert http.call("GET", f"{member}/transactions", token).status == 200
    assert http.call("GET", f"{tenant['path']}/rewards", token).status == 200
    assert http.call("GET", f"{tenant['path']}/members/dave", token).code == "not_found"
    assert http.call("POST", f"{member}/adjustments", token, {"points": 10, "reason": "x"},
                     headers={"Idempotency-Key": "k"}).code == "forbidden"
    assert http.call("GET", "/v1/programs", token).code == "forbidden"


def test_another_organisation_sees_nothing(http, stack, tenant):
    other = new_tenant(http, stack.root_key)
    http.call("PUT", f"{tenant['path']}/members/erin", tenant["admin"], {"name": "Erin"})
    for method, path in [("GET", tenant["path"]), ("GET", f"{tenant['path']}/members/erin"),
                         ("GET", f"{tenant['path']}/members/erin/balance"), ("GET", f"{tenant['path']}/rewards"),
                         ("PATCH", tenant["path"])]:
        reply = http.call(method, path, other["admin"], {} if method == "PATCH" else None)
        assert reply.code == "not_found", (method, path, reply)
    assert http.call("POST", f"{tenant['path']}/events", other["admin"],
                     {"id": "x", "type": "signup", "member": "erin"}).code == "not_found"
