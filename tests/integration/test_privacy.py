"""The data subject's rights: an export holds everything the member's API reads show; an erasure leaves no trace of
the member's email, phone, name or address in any table item, message record or log line, keeps the ledger adding
up, is refused while something is in flight, and is idempotent; consents are recorded with when and how."""
import json
import logging
import random
import uuid

import boto3
import pytest
from given import enrol

from chalicelib.core import db


@pytest.fixture
def ada(stack, api, program):
    """Ada with contact details and attributes, an adjustment naming her, preferences set, an earn, a delivered mug,
    a fulfilled gift card, and the messages all of that sent. Her details are unique to the test, so that a scan of
    the shared table finds her traces and no other test's."""
    global EMAIL, PHONE, NAME, STREET, ADDRESS, TRACES
    surname = f"Lovelace{uuid.uuid4().hex[:8]}"
    EMAIL, PHONE, NAME = f"ada.{surname.lower()}@example.com", f"+4477009{random.randint(10000, 99999)}", f"Ada {surname}"
    STREET = f"{random.randint(100, 999)} St {surname}'s Square"
    ADDRESS = {"name": NAME, "line1": STREET, "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}
    TRACES = (EMAIL, PHONE, surname, STREET)
    path, admin = program["path"], program["admin"]
    enrol(api, program, "ada", points=2000, email=EMAIL, phone=PHONE, attributes={"team": "Analytical Engines"})
    api.call("PUT", f"{path}/members/ada", admin, {"name": NAME})
    api.call("POST", f"{path}/members/ada/adjustments", admin, {"points": 5, "reason": f"sorry, {NAME}"},
             {"Idempotency-Key": "sorry"})
    assert api.call("PUT", f"{path}/members/ada/preferences", admin, {"sms": {"marketing": True}})[0] == 200
    assert api.call("POST", f"{path}/events", admin, {"id": "e-1", "type": "signup", "member": "ada"})[0] == 201
    mug = api.call("POST", f"{path}/rewards", admin, {"type": "merchandise", "name": "Mug", "cost": 300})[1]["id"]
    card = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Books", "cost": 100})[1]["id"]
    api.call("POST", f"{path}/rewards/{card}/codes", admin, {"codes": ["B-1"]})
    made = api.call("POST", f"{path}/members/ada/redemptions", admin, {"reward_id": mug, "delivery": {"address": ADDRESS}},
                    {"Idempotency-Key": "mug"})[1]
    gift = api.call("POST", f"{path}/members/ada/redemptions", admin, {"reward_id": card}, {"Idempotency-Key": "gc"})[1]
    return {**program, "member": f"{path}/members/ada", "mug": made["id"], "gift": gift["id"]}


def settle(stack, api, ada):
    """Fulfil both redemptions, ship and deliver the mug, deliver every message."""
    stack.pump("FulfilmentFunction")
    for status in ({"status": "shipped", "carrier": "DHL", "tracking": "JD1"}, {"status": "delivered"}):
        assert api.call("POST", f"{ada['path']}/redemptions/{ada['mug']}/shipment", ada["admin"], status)[0] == 200
    for function in ("FulfilmentFunction", "EmailDeliveryFunction", "SmsDeliveryFunction"):
        stack.pump(function)


def every(api, path, key, items="items"):
    found, cursor = [], None
    while True:
        page = api.call("GET", f"{path}?limit=2" + (f"&cursor={cursor}" if cursor else ""), key)[1]
        found += page[items]
        cursor = page["next_cursor"]
        if not cursor:
            return found


class Lines(logging.Handler):
    """Every line Laurel's logger writes, as it writes it (its own JSON formatter)."""

    def __init__(self, formatter):
        super().__init__()
        self.setFormatter(formatter)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines():
    from chalicelib.core.observability import logger

    handler = Lines(logger.registered_formatter)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def table_items():
    client, items, start = boto3.client("dynamodb"), [], None
    while True:
        page = client.scan(TableName=db.Item.Meta.table_name, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def test_an_export_holds_everything_the_members_api_reads_show(stack, api, ada):
    settle(stack, api, ada)
    admin, member = ada["admin"], ada["member"]
    status, export = api.call("GET", f"{member}/export", admin)
    assert status == 200 and export["format"] == "laurel.member-export.v1"
    assert export["member"] == api.call("GET", member, admin)[1]
    assert export["member"]["email"] == EMAIL and export["member"]["attributes"] == {"team": "Analytical Engines"}
    assert export["transactions"] == every(api, f"{member}/transactions", admin)
    assert export["tier_history"] == every(api, f"{member}/tier-history", admin)
    assert export["redemptions"] == every(api, f"{member}/redemptions", admin)
    assert {r["id"] for r in export["redemptions"]} == {ada["mug"], ada["gift"]}
    assert any(r.get("delivery") == {"address": ADDRESS} for r in export["redemptions"])
    assert export["messages"] == every(api, f"{member}/messages", admin) and export["messages"]
    assert export["preferences"] == api.call("GET", f"{member}/preferences", admin)[1]
    assert export["predictions"] == api.call("GET", f"{member}/predictions", admin)[1]
    wallet = api.call("GET", f"{member}/wallet", admin)[1]
    assert export["cash_wallet"] == {"balances": wallet["balances"], "transactions": wallet["transactions"]}
    assert export["status"] == {"member": "ada", "status": "active", "reason": None, "changed_at": None}
    # Consent: the SMS marketing opt-in, with when and how
    consent = export["consents"]["sms"]
    assert consent["granted"] is True and consent["via"] == "admin" and consent["at"]
    assert export["consents"]["email"] is None
    # Only admins export
    status, key = api.call("POST", "/v1/api-keys", admin, {"name": "a", "role": "analyst"})
    assert api.call("GET", f"{member}/export", key["secret"])[0] == 403


def test_an_erasure_is_refused_while_a_redemption_is_in_flight(stack, api, ada):
    status, refused = api.call("POST", f"{ada['member']}/erasure", ada["admin"], None, {"Idempotency-Key": "x"})
    assert status == 409 and refused["error"]["code"] == "erasure_blocked"
    assert {thing["redemption_id"] for thing in refused["error"]["details"]["in_flight"]} == {ada["mug"], ada["gift"]}
    assert api.call("GET", ada["member"], ada["admin"])[1]["email"] == EMAIL  # nothing erased


def test_an_erasure_leaves_no_trace_and_the_ledger_still_adds_up(stack, api, ada, log_lines):
    settle(stack, api, ada)
    before = api.call("GET", f"{ada['member']}/balance", ada["admin"])[1]
    assert any(any(trace in json.dumps(item, default=str) for trace in TRACES) for item in table_items())  # the scan finds them
    # When Ada is erased, twice
    status, erased = api.call("POST", f"{ada['member']}/erasure", ada["admin"], None, {"Idempotency-Key": "x"})
    assert status == 200 and erased["status"] == "closed" and erased["erased_at"]
    again = api.call("POST", f"{ada['member']}/erasure", ada["admin"], None, {"Idempotency-Key": "y"})
    assert again == (200, erased)
    # Then no table item holds her email, phone, name or address
    leaks = [item["pk"]["S"] + " " + item["sk"]["S"] for item in table_items()
             if any(trace in json.dumps(item, default=str) for trace in TRACES)]
    assert leaks == []
    # Nor any log line of the erasure, nor a message record
    logged = "\n".join(log_lines)  # of the fulfilment, the deliveries and the erasure
    assert '"route":"/v1/programs/{program_id}/members/{external_id}/erasure"' in logged  # the lines are captured
    assert not [trace for trace in TRACES if trace in logged]
    messages = every(api, f"{ada['member']}/messages", ada["admin"])
    assert messages and all(m["reason"] is None and m["provider_message_id"] is None for m in messages)
    # And she is an anonymous id whose ledger still adds up to her balance
    member = api.call("GET", ada["member"], ada["admin"])[1]
    assert (member["email"], member["phone"], member["name"], member["attributes"]) == (None, None, None, None)
    assert member["balance"]["available"] == before["available"]
    entries = every(api, f"{ada['member']}/transactions", ada["admin"])
    assert sum(e["points"] for e in entries) == member["balance"]["available"] + member["balance"]["pending"]
    assert [e["reason"] for e in entries if e["kind"] == "adjust"] == ["redacted", "redacted"]
    # And no lookup finds her, no unsubscribe or reopen brings her back, she earns nothing
    found = api.call("GET", f"{ada['path']}/members?email={EMAIL}", ada["admin"])[1]
    assert found["items"] == []
    assert api.call("POST", f"{ada['member']}/reopen", ada["admin"], None, {"Idempotency-Key": "r"})[0] == 409
    assert api.call("POST", f"{ada['path']}/events", ada["admin"],
                    {"id": "e-2", "type": "signup", "member": "ada"})[1]["error"]["code"] == "member_closed"
