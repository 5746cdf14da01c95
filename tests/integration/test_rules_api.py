"""The rule language through the public API and the partner queue (the pure rules are unit-tested)."""
import json
import os
import uuid

import boto3

from chalicelib.earning.partner_messages import sign

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]
RULES = [
    {"id": "welcome", "event_type": "purchase", "points": 100, "first_time_only": True},
    {"id": "coffee", "event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1},
     "conditions": {"all": [{"field": "property.category", "in": ["coffee", "tea"]},
                            {"field": "member.attributes.department", "not_equals": "staff"}]},
     "multiplier": 2.0, "caps": [{"period": "day", "max_points": 50}]},
]


def program_with_rules(api):
    org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Rules {uuid.uuid4().hex[:6]}"})[1]
    admin = org["admin_key"]["secret"]
    status, program = api.call("POST", "/v1/programs", admin, {"name": "Cafe", "earn_rules": RULES})
    assert status == 201 and program["earn_rules"][1]["conditions"]["all"][0]["in"] == ["coffee", "tea"]
    partner = api.call("POST", "/v1/api-keys", admin, {"name": "pos", "role": "partner"})[1]
    return {"org_id": org["id"], "id": program["id"], "admin": admin, "partner": partner,
            "path": f"/v1/programs/{program['id']}"}


def purchase(api, program, event_id, member="mia", **properties):
    status, body = api.call("POST", f"{program['path']}/events", program["admin"],
                            {"id": event_id, "type": "purchase", "member": member, "properties": properties})
    assert status == 201, body
    return body["points"]


def test_first_time_bonus_conditions_multiplier_and_daily_cap_over_http(stack, api):
    program = program_with_rules(api)
    assert purchase(api, program, "o-1", category="coffee", amount=1000) == 100 + 20  # welcome + 10 × 2
    assert purchase(api, program, "o-2", category="coffee", amount=1000) == 20  # no second welcome
    assert purchase(api, program, "o-3", category="coffee", amount=2000) == 10  # the day's cap of 50 is reached
    assert purchase(api, program, "o-4", category="coffee", amount=2000) == 0
    assert purchase(api, program, "o-5", category="books", amount=2000) == 0  # condition not met
    api.call("PUT", f"{program['path']}/members/sam", program["admin"], {"attributes": {"department": "staff"}})
    assert purchase(api, program, "s-1", member="sam", category="tea", amount=1000) == 100  # staff: no coffee points


def test_the_same_rules_apply_to_the_partner_queue(stack, api):
    program = program_with_rules(api)
    body = json.dumps({"org_id": program["org_id"], "program_id": program["id"], "event": {
        "id": "q-1", "type": "purchase", "member": "noa", "properties": {"category": "tea", "amount": 1500}}})
    boto3.client("sqs").send_message(
        QueueUrl=stack.env["PARTNER_EVENTS_QUEUE_URL"], MessageBody=body, MessageAttributes={
            "key_id": {"DataType": "String", "StringValue": program["partner"]["id"]},
            "signature": {"DataType": "String", "StringValue": sign(program["partner"]["secret"], body.encode())}})
    stack.pump("PartnerEventsFunction")
    balance = api.call("GET", f"{program['path']}/members/noa/balance", program["admin"])[1]
    assert balance["available"] == 100 + 30


def test_bad_rules_are_refused_naming_the_field(stack, api):
    program = program_with_rules(api)
    bad = {"event_type": "x", "points": 1, "conditions": {"field": "property.a", "roughly": 3}}
    status, body = api.call("PATCH", program["path"], program["admin"], {"earn_rules": [bad]})
    assert status == 400 and body["error"]["details"]["field"].startswith("earn_rules.0")
