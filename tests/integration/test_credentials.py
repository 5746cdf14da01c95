"""Credentials (issue 15): keys scoped to one program, expiring, limited to source addresses; a member's sessions
revoked at once; unsubscribe links that expire; and the probe's finding 8 (tokens with one spelling only, no NaN
taken in, unknown key ids costing what wrong secrets cost, no retired reward shown to a member)."""
import time
from datetime import datetime, timedelta, timezone

import pytest
from chalice.local import LambdaEventConverter
from given import enrol
from test_member_directory import dynamodb_requests

from chalicelib.core import auth
from chalicelib.messaging import preferences


def key(api, program, **fields) -> dict:
    status, made = api.call("POST", "/v1/api-keys", program["admin"], {"name": "k", "role": "admin", **fields})
    assert status == 201, made
    return made


def session(api, program, member="ada") -> str:
    status, opened = api.call("POST", f"{program['path']}/members/{member}/sessions", program["admin"],
                              {"ttl_seconds": 600})
    assert status == 201
    return opened["token"]


def other_program(api, program) -> dict:
    status, made = api.call("POST", "/v1/programs", program["admin"], {"name": "Tea Club"})
    assert status == 201
    return {**program, "id": made["id"], "path": f"/v1/programs/{made['id']}"}




def respelled(signature: str) -> str:
    """The same bytes in another base64 spelling: the last character's unused low bits set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    return signature[:-1] + alphabet[last | 0b11 if len(signature) % 4 == 3 else last | 0b1111]


def opened(api, method: str, path: str) -> int:
    """The status of an unsubscribe page (HTML, not JSON)."""
    return api.client.http.request(method, path, headers={}, body=b"").status_code


# --- keys ---------------------------------------------------------------------------------------

def test_a_key_scoped_to_one_program_reaches_that_program_only(api, program):
    enrol(api, program)
    tea = other_program(api, program)
    scoped = key(api, program, program_id=program["id"], role="admin")
    assert scoped["program_id"] == program["id"]
    # its own program's routes answer
    assert api.call("GET", f"{program['path']}/members/ada/balance", scoped["secret"])[0] == 200
    assert api.call("GET", "/v1/org", scoped["secret"])[0] == 200  # the organisation's page (the partner queue)
    # another program's, and the organisation's own lists and keys, answer 404
    assert api.call("GET", tea["path"], scoped["secret"])[0] == 404
    assert api.call("GET", "/v1/programs", scoped["secret"])[0] == 404
    assert api.call("POST", "/v1/api-keys", scoped["secret"], {"name": "wider", "role": "admin"})[0] == 404
    assert api.call("GET", "/v1/webhook-endpoints", scoped["secret"])[0] == 404
    # an unscoped key still reaches everything, and a key for a program that is not there is refused
    assert api.call("GET", tea["path"], program["admin"])[0] == 200
    status, refused = api.call("POST", "/v1/api-keys", program["admin"],
                               {"name": "k", "role": "admin", "program_id": "prg_missing"})
    assert (status, refused["error"]["details"]["field"]) == (400, "program_id")


def test_a_partner_key_scoped_to_one_program_cannot_send_events_to_another(stack, api, program):
    import json

    import boto3

    from chalicelib.earning.partner_messages import sign
    tea = other_program(api, program)
    partner = key(api, program, role="partner", program_id=program["id"])
    body = json.dumps({"org_id": program["org_id"], "program_id": tea["id"],
                       "event": {"id": "e-scope", "type": "signup", "member": "bob"}})
    boto3.client("sqs").send_message(
        QueueUrl=stack.env["PARTNER_EVENTS_QUEUE_URL"], MessageBody=body,
        MessageAttributes={"key_id": {"DataType": "String", "StringValue": partner["id"]},
                           "signature": {"DataType": "String", "StringValue": sign(partner["secret"], body.encode())}})
    stack.pump("PartnerEventsFunction")
    kept = [m for m in stack.queue_messages(stack.env["PARTNER_EVENTS_DLQ_URL"]) if tea["id"] in m["Body"]]
    assert len(kept) == 1 and "scoped to another program" in kept[0]["MessageAttributes"]["error"]["StringValue"]
    boto3.client("sqs").delete_message(QueueUrl=stack.env["PARTNER_EVENTS_DLQ_URL"],
                                       ReceiptHandle=kept[0]["ReceiptHandle"])
    assert api.call("GET", f"{tea['path']}/members/bob/balance", program["admin"])[0] == 404


def test_a_key_stops_working_when_it_expires(api, program, monkeypatch):
    soon = datetime.now(timezone.utc) + timedelta(seconds=60)
    made = key(api, program, expires_at=soon.isoformat())
    assert made["expires_at"].startswith(soon.strftime("%Y-%m-%dT%H:%M"))
    assert api.call("GET", "/v1/org", made["secret"])[0] == 200
    later = soon + timedelta(seconds=1)
    monkeypatch.setattr(auth.clock, "now", lambda: later)
    status, answer = api.call("GET", "/v1/org", made["secret"])
    assert (status, answer["error"]["message"]) == (401, "The credential has expired.")
    monkeypatch.undo()
    past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    assert api.call("POST", "/v1/api-keys", program["admin"], {"name": "k", "role": "admin", "expires_at": past})[0] \
        == 400


def test_a_key_limited_to_some_addresses_answers_403_from_any_other(api, program, monkeypatch):
    made = key(api, program, allowed_sources=["203.0.113.0/24", "2001:db8::/32"])
    assert made["allowed_sources"] == ["203.0.113.0/24", "2001:db8::/32"]
    for source, status in (("203.0.113.7", 200), ("2001:db8::1", 200), ("198.51.100.7", 403), ("127.0.0.1", 403)):
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", source)
        assert api.call("GET", "/v1/org", made["secret"])[0] == status, source
    assert api.call("GET", "/v1/org", program["admin"])[0] == 200  # a key without a list: any address
    assert api.call("POST", "/v1/api-keys", program["admin"],
                    {"name": "k", "role": "admin", "allowed_sources": ["not-an-address"]})[0] == 400


def test_an_unknown_key_id_costs_what_a_wrong_secret_costs(api, program):
    """Probe 8: the time an answer takes must not tell which key ids exist."""
    org_id, key_id, _ = program["admin"].split(".")
    wrong_secret = f"{org_id}.{key_id}.{'A' * 43}"
    unknown_id = f"{org_id}.key_{time.time_ns()}.{'A' * 43}"
    for secret in (wrong_secret, unknown_id):  # the first of each may read the key
        assert api.call("GET", "/v1/org", secret)[0] == 401
    for secret in (wrong_secret, unknown_id):
        with dynamodb_requests() as made:
            assert api.call("GET", "/v1/org", secret)[0] == 401
        assert made == [], secret


# --- member sessions ----------------------------------------------------------------------------

def test_revoking_a_members_sessions_ends_all_of_them_and_no_later_one(api, program):
    enrol(api, program)
    enrol(api, program, "bob", key="bob")
    first, second, bobs = session(api, program), session(api, program), session(api, program, "bob")
    balance = f"{program['path']}/members/ada/balance"
    assert api.call("GET", balance, first)[0] == 200
    # When an admin revokes ada's sessions
    assert api.call("DELETE", f"{program['path']}/members/ada/sessions", program["admin"])[0] == 204
    # Then both of her sessions answer 401, bob's still works, and a session made afterwards works
    for token in (first, second):
        status, answer = api.call("GET", balance, token)
        assert (status, answer["error"]["message"]) == (401, "The session has been revoked.")
    assert api.call("GET", f"{program['path']}/members/bob/balance", bobs)[0] == 200
    time.sleep(0.002)
    assert api.call("GET", balance, session(api, program))[0] == 200
    # a member may end its own sessions, not another's; an unknown member is 404
    assert api.call("DELETE", f"{program['path']}/members/ada/sessions", bobs)[0] == 404
    assert api.call("DELETE", f"{program['path']}/members/bob/sessions", bobs)[0] == 204
    assert api.call("GET", f"{program['path']}/members/bob/balance", bobs)[0] == 401
    assert api.call("DELETE", f"{program['path']}/members/nobody/sessions", program["admin"])[0] == 404


def test_a_session_read_costs_at_most_one_revocation_read_per_member_per_cache_period(api, program):
    enrol(api, program)
    token = session(api, program)
    balance = f"{program['path']}/members/ada/balance"
    api.call("GET", balance, token)
    with dynamodb_requests() as made:
        assert api.call("GET", balance, token)[0] == 200
    with dynamodb_requests() as admin_made:
        assert api.call("GET", balance, program["admin"])[0] == 200
    assert len(made) == len(admin_made)  # the session's check is cached: it costs what a key's call costs


# --- probe 8 ------------------------------------------------------------------------------------

def test_a_session_token_has_one_spelling_only(api, program):
    enrol(api, program)
    prefix, body, signature = session(api, program).split(".")
    balance = f"{program['path']}/members/ada/balance"
    assert api.call("GET", balance, f"{prefix}.{body}.{signature}")[0] == 200
    other = respelled(signature)
    assert other != signature and auth._unb64(other) == auth._unb64(signature)
    assert api.call("GET", balance, f"{prefix}.{body}.{other}")[0] == 401


def test_an_unsubscribe_link_has_one_spelling_only_and_expires(api, program, monkeypatch):
    enrol(api, program, email="ada@example.com")
    token = preferences.unsubscribe_token(program["org_id"], program["id"], "ada")
    body, signature = token.split(".")
    assert opened(api, "GET", f"/v1/unsubscribe/{token}") == 200
    assert opened(api, "GET", f"/v1/unsubscribe/{body}.{respelled(signature)}") == 404
    real_time = time.time
    monkeypatch.setattr(auth.time, "time", lambda: real_time() + auth.LINK_TTL_SECONDS + 1)
    assert opened(api, "GET", f"/v1/unsubscribe/{token}") == 404
    assert opened(api, "POST", f"/v1/unsubscribe/{token}") == 404


def test_a_link_made_before_links_expired_still_works(api, program):
    """Emails already sent carry links with no date: they keep working."""
    enrol(api, program, email="ada@example.com")
    body = auth._b64(f"{program['org_id']}\n{program['id']}\nada".encode())
    legacy = f"{body}.{auth._b64(auth._mac(preferences.UNSUBSCRIBE, body))}"
    assert opened(api, "GET", f"/v1/unsubscribe/{legacy}") == 200


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_attributes_take_no_nan_nor_infinity(api, program, number):
    status, answer = api.call("PUT", f"{program['path']}/members/ada", program["admin"],
                              '{"name": "Ada", "attributes": {"score": %s}}' % number)
    assert status == 400 and answer["error"]["details"]["field"] == "attributes"
    status, answer = api.call("POST", f"{program['path']}/events", program["admin"],
                              '{"id": "e1", "type": "purchase", "member": "ada", "properties": {"amount": [%s]}}'
                              % number, {"Idempotency-Key": "e1"})
    assert status == 400


def test_a_member_session_cannot_read_a_retired_reward(api, program):
    enrol(api, program)
    status, reward = api.call("POST", f"{program['path']}/rewards", program["admin"],
                              {"type": "experience", "cost": 100, "name": "Lounge"})
    assert status == 201
    path, token = f"{program['path']}/rewards/{reward['id']}", session(api, program)
    assert api.call("GET", path, token)[0] == 200
    assert api.call("PATCH", path, program["admin"], {"active": False})[0] == 200
    assert api.call("GET", path, token)[0] == 404
    assert api.call("GET", path, program["admin"])[0] == 200  # staff still read it


# --- probe 5 ------------------------------------------------------------------------------------

def test_a_members_idempotency_key_never_collides_with_a_stores(api, program, monkeypatch):
    import app

    monkeypatch.setattr(app, "MEMBER_KEYS_NAMESPACED_AT", "2000-01-01T00:00:00.000Z")  # entries made after it
    enrol(api, program, points=1000)
    status, reward = api.call("POST", f"{program['path']}/rewards", program["admin"],
                              {"type": "experience", "cost": 100, "name": "Lounge"})
    assert status == 201
    redeem = f"{program['path']}/members/ada/redemptions"
    token = session(api, program)
    # Given a member's redemption under the key a store will use next
    status, by_member = api.call("POST", redeem, token, {"reward_id": reward["id"]}, {"Idempotency-Key": "till-7"})
    assert status == 202
    # When the store sends its own request with that key
    status, by_store = api.call("POST", redeem, program["admin"], {"reward_id": reward["id"], "quantity": 2},
                                {"Idempotency-Key": "till-7"})
    # Then it is a new redemption, not a 409 nor the member's answer; the member's replay answers its first
    assert status == 202 and by_store["id"] != by_member["id"]
    status, again = api.call("POST", redeem, token, {"reward_id": reward["id"]}, {"Idempotency-Key": "till-7"})
    assert status == 200 and again["id"] == by_member["id"]


def test_a_key_a_member_used_before_namespacing_still_answers_its_first_result(api, program, monkeypatch):
    import app

    enrol(api, program, points=1000)
    status, reward = api.call("POST", f"{program['path']}/rewards", program["admin"],
                              {"type": "experience", "cost": 100, "name": "Lounge"})
    redeem, token = f"{program['path']}/members/ada/redemptions", session(api, program)
    monkeypatch.setattr(app, "MEMBER_KEYS_NAMESPACED_AT", "2999-01-01T00:00:00.000Z")  # before namespacing
    with monkeypatch.context() as before:  # as the service was: the bare key
        before.setattr(app, "idempotency_key_of", lambda call, scope: call.idempotency_key)
        status, first = api.call("POST", redeem, token, {"reward_id": reward["id"]}, {"Idempotency-Key": "old-1"})
        assert status == 202
    status, again = api.call("POST", redeem, token, {"reward_id": reward["id"]}, {"Idempotency-Key": "old-1"})
    assert (status, again["id"]) == (200, first["id"])
    assert api.call("GET", f"{program['path']}/members/ada/balance", token)[1]["available"] == 900
