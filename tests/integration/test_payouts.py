"""Cashback into a member's cash wallet, and payouts from it: credited once however often fulfilment runs,
reserved at once without overdrawing, approved and paid once, returned once, and the payout method
kept from those who must not see it."""
import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from given import outcomes

from chalicelib.rewards import fulfilment, lifecycle, payouts

IBAN = "DE89370400440532013000"
BANK = {"type": "bank_transfer", "iban": IBAN, "account_name": "Ada Lovelace"}
PAYPAL = {"type": "paypal", "email": "ada.private@example.org"}


@pytest.fixture
def cash(api, program):
    """Ada with 1000 points and a 400-point cashback reward worth 5.00 EUR."""
    path, admin = program["path"], program["admin"]
    assert api.call("PUT", f"{path}/members/ada", admin, {"name": "Ada"})[0] == 201
    assert api.call("PUT", f"{path}/members/bob", admin, {"name": "Bob"})[0] == 201
    assert api.call("POST", f"{path}/members/ada/adjustments", admin, {"points": 1000, "reason": "welcome"},
                    {"Idempotency-Key": "welcome"})[0] == 201
    status, reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "5 EUR", "cost": 400,
                                                                 "value": {"amount": 500, "currency": "EUR"}})
    assert status == 201, reward
    return {**program, "reward_id": reward["id"]}


def wallet(api, cash, member="ada", key=None, query=""):
    status, answer = api.call("GET", f"{cash['path']}/members/{member}/wallet{query}", key or cash["admin"])
    assert status == 200, answer
    return answer


def earn_cashback(stack, api, cash, key="cb-1", quantity=1):
    status, redemption = api.call("POST", f"{cash['path']}/members/ada/redemptions", cash["admin"],
                                  {"reward_id": cash["reward_id"], "quantity": quantity}, {"Idempotency-Key": key})
    assert status == 202, redemption
    stack.pump("FulfilmentFunction")
    return redemption


def request_payout(api, cash, amount, key, method=BANK, member="ada", token=None):
    return api.call("POST", f"{cash['path']}/members/{member}/payouts", token or cash["admin"],
                    {"amount": amount, "currency": "EUR", "method": method}, {"Idempotency-Key": key})


def act(api, cash, payout_id, action, body=None):
    return api.call("POST", f"{cash['path']}/payouts/{payout_id}/{action}", cash["admin"], body or {})


def session(api, cash, member="ada"):
    return api.call("POST", f"{cash['path']}/members/{member}/sessions", cash["admin"], {})[1]["token"]


def analyst_key(api, cash):
    status, key = api.call("POST", "/v1/api-keys", cash["admin"], {"name": "Numbers", "role": "analyst"})
    assert status == 201, key
    return key["secret"]


def test_a_cashback_redemption_credits_the_wallet_once_however_often_fulfilment_runs(stack, api, cash):
    # Given a cashback redemption of two, whose fulfilment message is delivered twice
    status, redemption = api.call("POST", f"{cash['path']}/members/ada/redemptions", cash["admin"],
                                  {"reward_id": cash["reward_id"], "quantity": 2}, {"Idempotency-Key": "cb-2"})
    assert status == 202
    lifecycle.enqueue_fulfilment(cash["org_id"], cash["id"], redemption["id"])
    # When fulfilment consumes both messages, and runs once more
    stack.pump("FulfilmentFunction")
    assert fulfilment.fulfil(redemption["id"]) == "fulfilled"
    # Then the wallet holds 2 x 5.00 EUR, credited by one entry naming the redemption
    answer = wallet(api, cash)
    assert answer["balances"] == [{"currency": "EUR", "balance": 1000}]
    assert [(t["kind"], t["amount"], t["balance_after"], t["redemption_id"]) for t in answer["transactions"]] == [
        ("credit", 1000, 1000, redemption["id"])]
    shown = api.call("GET", f"{cash['path']}/redemptions/{redemption['id']}", cash["admin"])[1]
    assert (shown["status"], shown["fulfillment"]) == ("fulfilled", {"type": "cashback", "amount": 1000,
                                                                     "currency": "EUR"})


def test_two_fulfilments_racing_for_one_cashback_credit_it_once(stack, api, cash):
    # Given a pending cashback redemption (its message not consumed)
    status, redemption = api.call("POST", f"{cash['path']}/members/ada/redemptions", cash["admin"],
                                  {"reward_id": cash["reward_id"]}, {"Idempotency-Key": "cb-race"})
    assert status == 202
    # When four fulfilments run at once, then the queue's own
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: fulfilment.fulfil(redemption["id"]), range(4)))
    stack.pump("FulfilmentFunction")
    # Then it is fulfilled and credited once
    assert statuses == ["fulfilled"] * 4
    answer = wallet(api, cash)
    assert answer["balances"] == [{"currency": "EUR", "balance": 500}]
    assert [t["kind"] for t in answer["transactions"]] == ["credit"]


def test_a_payout_reserves_at_once_and_is_approved_and_paid_once(stack, api, cash):
    # Given 5.00 EUR in the wallet
    earn_cashback(stack, api, cash)
    # When Ada asks for 3.00 EUR by bank transfer from her own session (twice, as a retry)
    token = session(api, cash)
    status, payout = request_payout(api, cash, 300, "po-1", token=token)
    again = request_payout(api, cash, 300, "po-1", token=token)
    # Then it is requested, reserved once, and in the program's approval queue
    assert (status, payout["status"], payout["method"]) == (201, "requested", BANK)
    assert (again[0], again[1]["id"]) == (200, payout["id"])
    assert wallet(api, cash)["balances"] == [{"currency": "EUR", "balance": 200}]
    queue = api.call("GET", f"{cash['path']}/payouts", cash["admin"])[1]
    assert [p["id"] for p in queue["items"]] == [payout["id"]]
    # When an admin approves it twice and marks it paid twice
    approved, approved_again = act(api, cash, payout["id"], "approve"), act(api, cash, payout["id"], "approve")
    paid = act(api, cash, payout["id"], "mark-paid", {"external_reference": "SEPA-123"})
    paid_again = act(api, cash, payout["id"], "mark-paid", {"external_reference": "SEPA-456"})
    late_reject = act(api, cash, payout["id"], "reject", {"reason": "too late"})
    # Then each acts once: never paid twice, never returned after being paid
    assert (approved[0], approved[1]["status"]) == (200, "approved")
    assert (approved_again[0], approved_again[1]["error"]["details"]) == (409, {"status": "approved"})
    assert (paid[0], paid[1]["status"], paid[1]["external_reference"]) == (200, "paid", "SEPA-123")
    assert (paid_again[0], paid_again[1]["error"]["details"]) == (409, {"status": "paid"})
    assert late_reject[0] == 409
    answer = wallet(api, cash)
    assert answer["balances"] == [{"currency": "EUR", "balance": 200}]
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in answer["transactions"]] == [
        ("payout_paid", 0, 200), ("payout_reserved", -300, 200), ("credit", 500, 500)]
    assert api.call("GET", f"{cash['path']}/payouts", cash["admin"])[1]["items"] == []


def test_a_rejection_or_a_cancellation_returns_the_money_once(stack, api, cash):
    # Given two payouts of 2.00 EUR from 5.00
    earn_cashback(stack, api, cash)
    first = request_payout(api, cash, 200, "po-a")[1]
    second = request_payout(api, cash, 200, "po-b", method=PAYPAL)[1]
    assert wallet(api, cash)["balances"][0]["balance"] == 100
    # When the first is rejected twice and the member cancels the second twice
    token = session(api, cash)
    rejected = act(api, cash, first["id"], "reject", {"reason": "Name does not match"})
    rejected_again = act(api, cash, first["id"], "reject", {"reason": "again"})
    cancel = [api.call("POST", f"{cash['path']}/payouts/{second['id']}/cancel", token, {}) for _ in range(2)]
    # Then each amount came back once
    assert (rejected[0], rejected[1]["status"], rejected[1]["reason"]) == (200, "rejected", "Name does not match")
    assert rejected_again[0] == 409
    assert [c[0] for c in cancel] == [200, 409]
    answer = wallet(api, cash)
    assert answer["balances"] == [{"currency": "EUR", "balance": 500}]
    assert sorted(t["kind"] for t in answer["transactions"]) == [
        "credit", "payout_reserved", "payout_reserved", "payout_returned", "payout_returned"]
    # And a rejection needs a reason
    third = request_payout(api, cash, 100, "po-c")[1]
    assert act(api, cash, third["id"], "reject", {})[0] == 400


def test_parallel_payouts_never_overdraw(stack, api, cash):
    # Given 5.00 EUR in the wallet
    earn_cashback(stack, api, cash)

    # When twelve payouts of 1.00 EUR are requested at once
    results = outcomes([lambda n=n: payouts.request(cash["org_id"], cash["id"], "ada",
                                                    {"amount": 100, "currency": "EUR", "method": BANK},
                                                    f"race-{n}", show_method=False) for n in range(12)])
    # Then exactly five succeed, the rest are refused, and the wallet is empty, never below
    assert results == ["insufficient_funds"] * 7 + ["ok"] * 5
    answer = wallet(api, cash, query="?limit=100")
    assert answer["balances"] == [{"currency": "EUR", "balance": 0}]
    assert sum(t["amount"] for t in answer["transactions"]) == 0
    assert min(t["balance_after"] for t in answer["transactions"]) == 0


def test_a_payout_beyond_the_balance_or_with_a_bad_method_is_refused(stack, api, cash):
    # Given 5.00 EUR in the wallet
    earn_cashback(stack, api, cash)
    # When payouts are asked for too much, to a bad IBAN, to a bad email, and in another currency
    too_much = request_payout(api, cash, 501, "po-big")
    bad_iban = request_payout(api, cash, 100, "po-iban", {**BANK, "iban": "DE89370400440532013001"})
    bad_email = request_payout(api, cash, 100, "po-mail", {"type": "paypal", "email": "ada.private@"})
    other = api.call("POST", f"{cash['path']}/members/ada/payouts", cash["admin"],
                     {"amount": 100, "currency": "USD", "method": BANK}, {"Idempotency-Key": "po-usd"})
    # Then each is refused naming why, without echoing the method, and nothing is reserved
    assert (too_much[0], too_much[1]["error"]["code"]) == (409, "insufficient_funds")
    assert (bad_iban[0], bad_iban[1]["error"]["details"]["field"]) == (400, "method.bank_transfer.iban")
    assert (bad_email[0], bad_email[1]["error"]["details"]["field"]) == (400, "method.paypal.email")
    assert (other[0], other[1]["error"]["code"]) == (409, "insufficient_funds")
    assert "DE8937" not in json.dumps(bad_iban[1]) and "ada.private" not in json.dumps(bad_email[1])
    assert wallet(api, cash)["balances"] == [{"currency": "EUR", "balance": 500}]


def test_the_method_is_masked_to_analysts_hidden_from_other_members_and_never_stored_or_sent_in_clear(
        stack, api, cash, local_webhooks, capsys):
    # Given an endpoint that wants payout news, and two payouts
    status, _ = api.call("POST", "/v1/webhook-endpoints", cash["admin"], {
        "url": "http://127.0.0.1:9/hooks", "kinds": ["payout.status_changed"]})
    assert status == 201
    earn_cashback(stack, api, cash)
    bank = request_payout(api, cash, 100, "po-m1")[1]
    paypal = request_payout(api, cash, 100, "po-m2", method=PAYPAL)[1]
    act(api, cash, bank["id"], "approve")
    # When an analyst, Ada and Bob look at them
    analyst = analyst_key(api, cash)
    seen = api.call("GET", f"{cash['path']}/payouts/{bank['id']}", analyst)[1]
    seen_paypal = api.call("GET", f"{cash['path']}/payouts/{paypal['id']}", analyst)[1]
    own = api.call("GET", f"{cash['path']}/payouts/{bank['id']}", session(api, cash))[1]
    bob = session(api, cash, "bob")
    other = api.call("GET", f"{cash['path']}/payouts/{bank['id']}", bob)
    other_wallet = api.call("GET", f"{cash['path']}/members/ada/wallet", bob)
    other_cancel = api.call("POST", f"{cash['path']}/payouts/{paypal['id']}/cancel", bob, {})
    # Then the analyst sees it masked, Ada in full, Bob nothing at all
    assert seen["method"] == {"type": "bank_transfer", "iban": "****3000", "account_name": "A***"}
    assert seen_paypal["method"] == {"type": "paypal", "email": "a***@example.org"}
    assert own["method"] == BANK
    assert [other[0], other_wallet[0], other_cancel[0]] == [404, 404, 404]
    assert api.call("POST", f"{cash['path']}/payouts/{paypal['id']}/approve", analyst)[0] == 403
    # And the table, the webhook bodies and the logs never hold the method in clear
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=stack.env["LAUREL_TABLE"])
    items = [item for page in pages for item in page["Items"]]
    # (this program's items: other tests' members, in the shared table, may well be called Lovelace)
    stored = json.dumps([item for item in items if item.get("program_id", {}).get("S") == cash["id"]], default=str)
    assert bank["id"] in stored and paypal["id"] in stored
    assert IBAN not in stored and "ada.private" not in stored and "Lovelace" not in stored
    bodies = [json.loads(item["body"]["S"]) for item in items
              if item.get("_t", {}).get("S") == "webhook_delivery" and item["kind"]["S"] == "payout.status_changed"]
    assert sorted((b["data"]["payout_id"], b["data"]["status"]) for b in bodies
                  if b["program_id"] == cash["id"]) == sorted(
        [(bank["id"], "requested"), (bank["id"], "approved"), (paypal["id"], "requested")])
    assert bodies[0]["data"].keys() == {"payout_id", "member", "amount", "currency", "status", "created_at",
                                        "updated_at"}
    logged = capsys.readouterr()
    assert IBAN not in logged.out + logged.err and "ada.private" not in logged.out + logged.err


def test_the_wallet_pages_its_transactions_newest_first(stack, api, cash):
    # Given a credit and three payouts
    earn_cashback(stack, api, cash)
    for n in range(3):
        request_payout(api, cash, 100, f"po-p{n}")
    # When the wallet is read two transactions at a time
    first = wallet(api, cash, query="?limit=2")
    rest = wallet(api, cash, query=f"?limit=2&cursor={first['next_cursor']}")
    # Then all four are there, newest first
    kinds = [t["kind"] for t in first["transactions"] + rest["transactions"]]
    assert kinds == ["payout_reserved"] * 3 + ["credit"]
    assert [t["balance_after"] for t in first["transactions"] + rest["transactions"]] == [200, 300, 400, 500]
