"""Bad input on every endpoint answers 4xx in the contract's error shape, and changes nothing."""
import pytest

from laurel_http import new_tenant

OVERSIZED = b'{"name": "' + b"x" * (300 * 1024) + b'"}'


@pytest.fixture(scope="module")
def tenant(http, stack):
    made = new_tenant(http, stack.root_key)
    reward = http.call("POST", f"{made['path']}/rewards", made["admin"], {"type": "cashback", "name": "5", "cost": 10})
    http.call("PUT", f"{made['path']}/members/m1", made["admin"], {"name": "M"})
    return {**made, "reward_id": reward.body["id"]}


def assert_error(reply, status, code, field=None):
    assert reply.status == status, reply
    assert set(reply.body) == {"error"} and set(reply.body["error"]) == {"code", "message", "details"}, reply
    assert reply.body["error"]["code"] == code and reply.body["error"]["message"]
    if field:
        assert reply.body["error"]["details"]["field"] == field, reply
    assert "Traceback" not in str(reply.body)


def endpoints(tenant):
    """(method, path, a valid body, headers) for every endpoint that takes a body."""
    p, m = tenant["path"], f"{tenant['path']}/members/m1"
    idem = {"Idempotency-Key": "bad-input"}
    return [
        ("POST", "/v1/orgs", {"name": "X"}, {}, "root"),
        ("POST", "/v1/api-keys", {"name": "k", "role": "store"}, {}, "admin"),
        ("POST", "/v1/programs", {"name": "P"}, {}, "admin"),
        ("PATCH", p, {"name": "P"}, {}, "admin"),
        ("PUT", m, {"name": "M"}, {}, "admin"),
        ("POST", f"{m}/adjustments", {"points": 5, "reason": "r"}, idem, "admin"),
        ("POST", f"{m}/sessions", {"ttl_seconds": 600}, {}, "admin"),
        ("POST", f"{p}/events", {"id": "e", "type": "signup", "member": "m1"}, {}, "admin"),
        ("POST", f"{p}/rewards", {"type": "cashback", "name": "R", "cost": 1}, {}, "admin"),
        ("PATCH", f"{p}/rewards/{tenant['reward_id']}", {"name": "R"}, {}, "admin"),
        ("POST", f"{p}/rewards/{tenant['reward_id']}/codes", {"codes": ["C"]}, {}, "admin"),
        ("POST", f"{m}/redemptions", {"reward_id": tenant["reward_id"]}, idem, "admin"),
    ]


def credential(stack, tenant, who):
    return stack.root_key if who == "root" else tenant["admin"]


@pytest.mark.parametrize("case", ["bad json", "not an object", "unknown field", "oversized"])
def test_every_body_endpoint_refuses_malformed_bodies(http, stack, tenant, case):
    for method, path, body, headers, who in endpoints(tenant):
        raw = {"bad json": b'{"name": ', "not an object": b"[1, 2]", "oversized": OVERSIZED,
               "unknown field": None}[case]
        sent = {**body, "balance": 10**6} if case == "unknown field" else None
        reply = http.call(method, path, credential(stack, tenant, who), sent, headers=headers, raw=raw)
        if case == "oversized":
            assert_error(reply, 413, "payload_too_large")
        else:
            assert_error(reply, 400, "validation_error", "balance" if case == "unknown field" else None)


@pytest.mark.parametrize("path_suffix, body, field", [
    ("", {}, "name"),
    ("", {"name": 5}, "name"),
    ("", {"name": "P", "points_expiry_days": 0}, "points_expiry_days"),
    ("", {"name": "P", "earn_rules": [{"event_type": "x", "points": -1}]}, "earn_rules.0.points"),
    ("", {"name": "P", "earn_rules": [{"event_type": "x"}]}, "earn_rules.0"),
    ("", {"name": "P", "tiers": [{"name": "A", "min_points": 1, "multiplier": 0.5}]}, "tiers.0.multiplier"),
    ("", {"name": "P", "tiers": [{"name": "A", "min_points": 1}, {"name": "A", "min_points": 2}]}, "tiers"),
])
def test_program_bodies_are_checked_field_by_field(http, tenant, path_suffix, body, field):
    assert_error(http.call("POST", "/v1/programs", tenant["admin"], body), 400, "validation_error", field)


@pytest.mark.parametrize("body, field", [
    ({"points": 0, "reason": "r"}, "points"),
    ({"points": 1.5, "reason": "r"}, "points"),
    ({"points": "10", "reason": "r"}, "points"),
    ({"points": 10**12, "reason": "r"}, "points"),
    ({"points": 10, "reason": ""}, "reason"),
    ({"points": 10}, "reason"),
])
def test_adjustment_amounts(http, tenant, body, field):
    reply = http.call("POST", f"{tenant['path']}/members/m1/adjustments", tenant["admin"], body,
                      headers={"Idempotency-Key": f"bad-{field}-{body.get('points')}"})
    assert_error(reply, 400, "validation_error", field)


def test_balance_changing_calls_need_an_idempotency_key(http, tenant):
    for path, body in [(f"{tenant['path']}/members/m1/adjustments", {"points": 5, "reason": "r"}),
                       (f"{tenant['path']}/members/m1/redemptions", {"reward_id": tenant["reward_id"]})]:
        assert_error(http.call("POST", path, tenant["admin"], body), 400, "validation_error", "Idempotency-Key")
        assert_error(http.call("POST", path, tenant["admin"], body, headers={"Idempotency-Key": "k" * 256}),
                     400, "validation_error", "Idempotency-Key")


@pytest.mark.parametrize("body, field", [
    ({"id": "e", "type": "signup"}, "member"),
    ({"id": "e", "type": "signup", "member": "has space"}, "member"),
    ({"id": "e", "type": "signup", "member": "x" * 129}, "member"),
    ({"id": "", "type": "signup", "member": "m"}, "id"),
    ({"id": "e", "type": "signup", "member": "m", "occurred_at": "yesterday"}, "occurred_at"),
    ({"id": "e", "type": "signup", "member": "m", "properties": []}, "properties"),
])
def test_event_bodies(http, tenant, body, field):
    assert_error(http.call("POST", f"{tenant['path']}/events", tenant["admin"], body), 400, "validation_error", field)


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-email"}, "email"),
    ({"phone": "3331234567"}, "phone"),
    ({"attributes": "x"}, "attributes"),
])
def test_member_fields(http, tenant, body, field):
    assert_error(http.call("PUT", f"{tenant['path']}/members/m2", tenant["admin"], body), 400, "validation_error",
                 field)


def test_bad_ids_in_paths_and_queries(http, tenant):
    assert_error(http.call("GET", f"{tenant['path']}/members/bad%20id", tenant["admin"]), 400, "validation_error",
                 "external_id")
    assert_error(http.call("GET", "/v1/programs/prg_nope", tenant["admin"]), 404, "not_found")
    assert_error(http.call("GET", f"{tenant['path']}/members/nobody", tenant["admin"]), 404, "not_found")
    assert_error(http.call("GET", f"{tenant['path']}/rewards/rwd_nope", tenant["admin"]), 404, "not_found")
    assert_error(http.call("GET", f"{tenant['path']}/redemptions/rdm_nope", tenant["admin"]), 404, "not_found")
    assert_error(http.call("DELETE", "/v1/api-keys/key_nope", tenant["admin"]), 404, "not_found")
    assert_error(http.call("GET", "/v1/programs?limit=0", tenant["admin"]), 400, "validation_error", "limit")
    assert_error(http.call("GET", "/v1/programs?cursor=forged", tenant["admin"]), 400, "validation_error", "cursor")


def test_bad_credentials(http, tenant):
    assert_error(http.call("GET", "/v1/org"), 401, "unauthorized")
    assert_error(http.call("GET", "/v1/org", "org_x.key_y.zzz"), 401, "unauthorized")
    assert_error(http.call("GET", "/v1/org", headers={"Authorization": "Basic abc"}), 401, "unauthorized")


def test_redemptions_that_cannot_be_paid_take_nothing(http, tenant):
    reply = http.call("POST", f"{tenant['path']}/members/m1/redemptions", tenant["admin"],
                      {"reward_id": tenant["reward_id"], "quantity": 2}, headers={"Idempotency-Key": "poor"})
    assert_error(reply, 409, "insufficient_points")
    assert http.call("GET", f"{tenant['path']}/members/m1/balance", tenant["admin"]).body["available"] == 0
    for body, field in [({"reward_id": tenant["reward_id"], "quantity": 0}, "quantity"),
                        ({"reward_id": tenant["reward_id"], "delivery": {"email": "nope"}}, "delivery.email")]:
        reply = http.call("POST", f"{tenant['path']}/members/m1/redemptions", tenant["admin"], body,
                          headers={"Idempotency-Key": f"bad-{field}"})
        assert_error(reply, 400, "validation_error", field)


def test_wrong_method_is_in_the_contract_shape(http, tenant):
    reply = http.call("DELETE", tenant["path"], tenant["admin"])
    assert reply.status == 405 and reply.body["error"]["code"] == "method_not_allowed"
