"""Many writers at once: no points spent twice, no code sold twice, no event credited twice."""
import json

import boto3
from given import outcomes

from chalicelib.earning import earn
from chalicelib.rewards import redemptions


def test_parallel_redemptions_of_one_balance_never_overspend(stack, api, program):
    # Given a member with 1000 points and a 100-point reward with unlimited stock
    path, admin = program["path"], program["admin"]
    api.call("PUT", f"{path}/members/race", admin, {"name": "R"})
    api.call("POST", f"{path}/members/race/adjustments", admin, {"points": 1000, "reason": "x"},
             {"Idempotency-Key": "race"})
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "1", "cost": 100})[1]
    # When 15 redemptions are made at once
    calls = [lambda n=n: redemptions.create(program["org_id"], program["id"], "race", {"reward_id": reward["id"]},
                                            f"race-{n}") for n in range(15)]
    results = outcomes(calls)
    # Then exactly 10 succeed, the rest are refused, and the ledger adds up to the balance
    assert results == ["insufficient_points"] * 5 + ["ok"] * 10
    balance = api.call("GET", f"{path}/members/race/balance", admin)[1]
    entries = api.call("GET", f"{path}/members/race/transactions?limit=100", admin)[1]["items"]
    assert balance["available"] == 0 == sum(t["points"] for t in entries)
    stack.pump("FulfilmentFunction")


def test_parallel_redemptions_of_the_last_codes_never_oversell(stack, api, program):
    # Given 4 codes left and 10 members who can each afford one
    path, admin = program["path"], program["admin"]
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Last", "cost": 10})[1]
    api.call("POST", f"{path}/rewards/{reward['id']}/codes", admin, {"codes": [f"LAST-{n}" for n in range(4)]})
    for n in range(10):
        api.call("POST", f"{path}/events", admin, {"id": f"buy-{n}", "type": "signup", "member": f"buyer-{n}"})
    # When all ten redeem at once
    made = []
    calls = [lambda n=n: made.append(redemptions.create(program["org_id"], program["id"], f"buyer-{n}",
                                                        {"reward_id": reward["id"]}, f"last-{n}")[0]["id"])
             for n in range(10)]
    results = outcomes(calls)
    # Then exactly four succeed, each fulfilled with a different code
    assert results == ["ok"] * 4 + ["out_of_stock"] * 6
    stack.pump("FulfilmentFunction")
    assert api.call("GET", f"{path}/rewards/{reward['id']}", admin)[1]["stock"] == 0
    buyers = [n for n in range(10) if api.call("GET", f"{path}/members/buyer-{n}/balance", admin)[1]["available"] == 90]
    assert len(buyers) == 4
    shown = [api.call("GET", f"{path}/redemptions/{redemption_id}", admin)[1] for redemption_id in made]
    assert {r["status"] for r in shown} == {"fulfilled"}
    assert sorted(code for r in shown for code in r["fulfillment"]["codes"]) == [f"LAST-{n}" for n in range(4)]
    # And the codes, sold once each, are stored sealed only
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=stack.env["LAUREL_TABLE"])
    stored = json.dumps([item for page in pages for item in page["Items"]], default=str)  # binary (sketches) as text
    assert "LAST-" not in stored


def test_the_same_event_sent_at_once_by_many_is_credited_once(stack, api, program):
    event = {"id": "dup-1", "type": "signup", "member": "dupe"}
    results = outcomes([lambda: earn.record_event(program["org_id"], program["id"], dict(event))] * 10)
    assert results == ["ok"] * 10
    balance = api.call("GET", f"{program['path']}/members/dupe/balance", program["admin"])[1]
    assert balance["available"] == 100
