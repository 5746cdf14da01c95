"""Many clients at once against the running local stack, over HTTP and the partner queue.

Each client is a thread with its own requests.Session; they wait at a barrier and fire together,
so the stack sees truly concurrent calls (chalice's threaded server, moto's server, the queue
pollers, all in the stack's process). What must hold: an event is credited once however often and
however it arrives; a balance is never overspent; a code is never sold twice; every adjustment key
counts once and its replays answer 200 with the first answer.
"""
import hashlib
import hmac
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest
import requests

from given_http import TIMEOUT, assert_ledger_adds_up, at_once, balance, outcome, transactions
from laurel_http import Http, Reply, new_tenant


@pytest.fixture(scope="module")
def tenant(http, stack):
    made = new_tenant(http, stack.root_key)
    admin = made["admin"]
    partner = http.call("POST", "/v1/api-keys", admin, {"name": "till-sync", "role": "partner"}).body
    store = http.call("POST", "/v1/api-keys", admin, {"name": "front-desk", "role": "store"}).body
    org = http.call("GET", "/v1/org", admin).body
    return {**made, "partner_id": partner["id"], "partner": partner["secret"], "store": store["secret"],
            "queue_url": org["partner_events_queue_url"], "dlq_url": org["partner_events_dlq_url"]}



def signed_message(tenant: dict, event: dict) -> dict:
    """A partner queue message: the exact body bytes, HMAC-SHA256 with the partner key's secret."""
    body = json.dumps({"org_id": tenant["org_id"], "program_id": tenant["program_id"], "event": event})
    signature = hmac.new(tenant["partner"].encode(), body.encode(), hashlib.sha256).hexdigest()
    return {"QueueUrl": tenant["queue_url"], "MessageBody": body, "MessageAttributes": {
        "key_id": {"DataType": "String", "StringValue": tenant["partner_id"]},
        "signature": {"DataType": "String", "StringValue": signature}}}





def test_one_event_posted_by_16_clients_at_once_is_credited_once(http, stack, tenant):
    # Given a signup event for a member nobody has seen yet (the event enrols him)
    event = {"id": "race-signup-1", "type": "signup", "member": "rafe"}

    def post(client: Http) -> Reply:
        return client.call("POST", f"{tenant['path']}/events", tenant["partner"], event)

    # When 16 clients POST it at the same moment
    replies = at_once(http.base_url, [post] * 16)

    # Then one is the first (201) and 15 are replays (200), each answering exactly the first answer
    assert Counter(map(outcome, replies)) == {"201": 1, "200": 15}
    first = next(reply.body for reply in replies if reply.status == 201)
    assert first["points"] == 100 and all(reply.body == first for reply in replies)
    # And the member was credited once: one transaction, a balance of 100
    items = transactions(http, tenant, "rafe")
    assert [(t["id"], t["kind"], t["event_id"], t["points"]) for t in items] == \
        [(first["transactions"][0]["id"], "earn", "race-signup-1", 100)]
    assert balance(http, tenant, "rafe")["available"] == 100
    assert_ledger_adds_up(http, tenant, "rafe")


def test_one_event_sent_as_8_signed_queue_copies_and_8_http_posts_at_once_is_credited_once(http, stack, tenant):
    # Given a purchase worth 37 points for a member nobody has seen yet (the event enrols her),
    # and 8 copies of it signed with the partner key, one SQS client per sender
    event = {"id": "race-order-1", "type": "purchase", "member": "rhea", "properties": {"amount": 3790}}
    senders = [stack.sqs() for _ in range(8)]
    message = signed_message(tenant, event)

    def over_http(client: Http) -> Reply:
        return client.call("POST", f"{tenant['path']}/events", tenant["partner"], event)

    def over_queue(sqs) -> Callable[[Http], str]:
        return lambda _client: sqs.send_message(**message)["MessageId"]

    # When 8 partners enqueue it and 8 clients POST it, all at the same moment, and the queue drains
    results = at_once(http.base_url, [over_queue(sqs) for sqs in senders] + [over_http] * 8)
    message_ids, replies = results[:8], results[8:]
    assert len(set(message_ids)) == 8
    assert stack.drain(timeout=45)

    # Then every HTTP client got the one answer: at most one 201 (the queue may have been first),
    # the others 200, all with the same transaction and balance
    statuses = Counter(reply.status for reply in replies)
    assert set(statuses) <= {200, 201} and statuses[201] <= 1, statuses
    first = replies[0].body
    assert first["points"] == 37 and len(first["transactions"]) == 1
    assert all(reply.body == first for reply in replies), "a replay answered something else than the first answer"
    # And the member was credited exactly once: one transaction, a balance of 37
    items = transactions(http, tenant, "rhea")
    assert [(t["id"], t["kind"], t["event_id"], t["points"]) for t in items] == \
        [(first["transactions"][0]["id"], "earn", "race-order-1", 37)]
    assert balance(http, tenant, "rhea")["available"] == 37
    assert_ledger_adds_up(http, tenant, "rhea")
    # And no copy was dead-lettered: a replay from the queue is a success, not a poison message
    dead = stack.sqs().receive_message(QueueUrl=tenant["dlq_url"], MaxNumberOfMessages=10,
                                       VisibilityTimeout=0).get("Messages", [])
    assert not [m for m in dead if "race-order-1" in m["Body"]]


def test_20_parallel_redemptions_of_one_balance_spend_it_exactly(http, stack, tenant):
    # Given a member with 1000 points and a 100-point cashback reward with unlimited stock
    path, admin, store = tenant["path"], tenant["admin"], tenant["store"]
    assert http.call("PUT", f"{path}/members/tess", admin, {"name": "Tess"}).status == 201
    credit = http.call("POST", f"{path}/members/tess/adjustments", admin, {"points": 1000, "reason": "welcome"},
                       headers={"Idempotency-Key": "tess-welcome"})
    assert credit.status == 201, credit
    reward = http.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "1 off", "cost": 100}).body

    def redeem(n: int) -> Callable[[Http], Reply]:
        return lambda client: client.call("POST", f"{path}/members/tess/redemptions", store,
                                          {"reward_id": reward["id"]}, headers={"Idempotency-Key": f"tess-{n}"})

    # When 20 point-of-sale clients redeem it at once, each with its own Idempotency-Key
    replies = at_once(http.base_url, [redeem(n) for n in range(20)])

    # Then exactly 10 are accepted and 10 refused for insufficient points (no 503, no 5xx)
    assert Counter(map(outcome, replies)) == {"202": 10, "409 insufficient_points": 10}
    accepted = [reply.body for reply in replies if reply.status == 202]
    assert len({r["id"] for r in accepted}) == 10 and all(r["points"] == 100 for r in accepted)
    # And the balance is 0, and the ledger (one credit, ten redemptions) adds up to it
    now = assert_ledger_adds_up(http, tenant, "tess")
    assert (now["available"], now["pending"], now["lifetime_spent"]) == (0, 0, 1000)
    items = transactions(http, tenant, "tess")
    assert Counter(t["kind"] for t in items) == {"redeem": 10, "adjust": 1}
    assert {t["redemption_id"] for t in items if t["kind"] == "redeem"} == {r["id"] for r in accepted}
    # And a refused key retried later is refused again and takes nothing; an accepted one replays its answer
    refused = next(n for n, reply in enumerate(replies) if reply.status == 409)
    assert outcome(redeem(refused)(http)) == "409 insufficient_points"
    winner = next(n for n, reply in enumerate(replies) if reply.status == 202)
    replay = redeem(winner)(http)
    assert replay.status == 200 and replay.body == replies[winner].body
    assert balance(http, tenant, "tess")["available"] == 0
    # And each accepted redemption is fulfilled once the queues drain
    assert stack.drain(timeout=45)
    for r in accepted:
        assert http.call("GET", f"{path}/redemptions/{r['id']}", admin).body["status"] == "fulfilled"


def test_12_members_racing_for_the_last_4_gift_card_codes_get_4_distinct_codes(http, stack, tenant):
    # Given a gift card with 4 codes left, and 12 members who can each afford exactly one
    path, admin, store = tenant["path"], tenant["admin"], tenant["store"]
    card = http.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Last four", "cost": 100}).body
    codes = {f"LAST-{n}-{card['id'][-6:]}" for n in range(4)}
    assert http.call("POST", f"{path}/rewards/{card['id']}/codes", admin, {"codes": sorted(codes)}).body == \
        {"added": 4, "duplicates": 0}
    buyers = [f"buyer-{n}" for n in range(12)]  # each enrolled by its signup event, worth 100 points

    def sign_up(buyer: str) -> Callable[[Http], Reply]:
        return lambda client: client.call("POST", f"{path}/events", admin,
                                          {"id": f"signup-{buyer}", "type": "signup", "member": buyer})

    assert [reply.status for reply in at_once(http.base_url, [sign_up(buyer) for buyer in buyers])] == [201] * 12

    def redeem(buyer: str) -> Callable[[Http], Reply]:
        return lambda client: client.call("POST", f"{path}/members/{buyer}/redemptions", store,
                                          {"reward_id": card["id"]}, headers={"Idempotency-Key": f"{buyer}-card"})

    # When all 12 redeem at the same moment
    replies = at_once(http.base_url, [redeem(buyer) for buyer in buyers])

    # Then exactly 4 are accepted and 8 refused as out of stock, and the stock is 0
    assert Counter(map(outcome, replies)) == {"202": 4, "409 out_of_stock": 8}
    assert http.call("GET", f"{path}/rewards/{card['id']}", admin).body["stock"] == 0
    winners = {buyer: reply.body for buyer, reply in zip(buyers, replies) if reply.status == 202}
    # And only the winners paid: a refusal takes nothing
    for buyer in buyers:
        assert balance(http, tenant, buyer)["available"] == (0 if buyer in winners else 100)
        assert_ledger_adds_up(http, tenant, buyer)
    # And after the fulfilment queue drains, 4 fulfilled redemptions hold the 4 codes, each once
    assert stack.drain(timeout=45)
    done = [http.call("GET", f"{path}/redemptions/{r['id']}", admin).body for r in winners.values()]
    assert [d["status"] for d in done] == ["fulfilled"] * 4, done
    assert {d["fulfillment"]["code"] for d in done} == codes
    assert http.call("GET", f"{path}/rewards/{card['id']}", admin).body["stock"] == 0


def test_parallel_adjustments_apply_each_key_once_and_replays_answer_the_first_answer(http, stack, tenant):
    # Given a member with 1000 points
    path, admin = tenant["path"], tenant["admin"]
    assert http.call("PUT", f"{path}/members/abe", admin, {"name": "Abe"}).status == 201
    assert http.call("POST", f"{path}/members/abe/adjustments", admin, {"points": 1000, "reason": "opening"},
                     headers={"Idempotency-Key": "abe-opening"}).status == 201

    def adjust(key: str, points: int) -> Callable[[Http], Reply]:
        return lambda client: client.call("POST", f"{path}/members/abe/adjustments", admin,
                                          {"points": points, "reason": f"r-{key}"}, headers={"Idempotency-Key": key})

    distinct = {f"abe-credit-{n}": 50 for n in range(6)} | {f"abe-debit-{n}": -30 for n in range(6)}
    repeated = {"abe-goodwill": 70, "abe-fee": -20}  # each sent by 5 clients at the same moment
    calls = list(distinct.items()) + [(key, points) for key, points in repeated.items() for _ in range(5)]

    # When 12 distinct credits and debits and 2 x 5 copies of two more keys, 22 calls, all arrive at once
    replies = at_once(http.base_url, [adjust(key, points) for key, points in calls])

    # Then every distinct key is applied once (201), and each repeated key once: one 201, four 200
    answers: dict[str, list[Reply]] = {}
    for (key, _), reply in zip(calls, replies):
        answers.setdefault(key, []).append(reply)
    for key in distinct:
        assert [outcome(reply) for reply in answers[key]] == ["201"], (key, answers[key])
    for key in repeated:
        assert Counter(outcome(reply) for reply in answers[key]) == {"201": 1, "200": 4}, (key, answers[key])
        # And each replay answered exactly the first answer (the same transaction, the balance as it was then)
        first = next(reply.body for reply in answers[key] if reply.status == 201)
        assert all(reply.body == first for reply in answers[key]), key
    # And the final balance is the opening plus the sum of the distinct keys applied, each once
    expected = 1000 + sum(distinct.values()) + sum(repeated.values())
    now = assert_ledger_adds_up(http, tenant, "abe")
    assert now["available"] == expected == 1000 + 300 - 180 + 70 - 20
    items = transactions(http, tenant, "abe")
    assert sorted(t["reason"] for t in items) == sorted(["opening", *(f"r-{key}" for key in [*distinct, *repeated])])


def test_32_clients_connecting_at_the_same_moment_are_all_answered(http, stack, tenant):
    # Given 32 clients that have not connected yet (each its own session, no warm-up)
    clients = [requests.Session() for _ in range(32)]
    start = threading.Barrier(len(clients))

    def post(number: int) -> int:
        start.wait(TIMEOUT)
        event = {"id": f"burst-{number}", "type": "signup", "member": f"burst-{number}"}
        return clients[number].post(f"{http.base_url}{tenant['path']}/events", json=event, timeout=TIMEOUT,
                                    headers={"Authorization": f"Bearer {tenant['partner']}"}).status_code

    # When they all connect and POST an event at the same moment (the API is busy with the first ones
    # while the others are still connecting)
    with ThreadPoolExecutor(len(clients)) as pool:
        futures = [pool.submit(post, number) for number in range(len(clients))]
        statuses = [future.result(TIMEOUT) for future in futures]

    # Then every one of them is answered 201: none is refused or reset at the door
    assert statuses == [201] * len(clients)
