"""Merchandise, experiences, donations and money budgets end to end: the local stack over HTTP, its
fulfilment queue, its SES outbox and its webhook deliveries.

Each reward type's whole life (taken, fulfilled, and every way back) and the races for the last of a
stock, a slot's seats, a budget or a balance. After each step the member's ledger must add up:
transactions sum to the balance, nothing negative, and a refusal takes nothing.
"""
import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
import requests

from given_http import (
    add_reward,
    assert_ledger_adds_up,
    at_once,
    balance,
    enrol,
    ledger,
    outcome,
    redemption,
    refunds_of,
    transactions,
)
from laurel_http import Http, Reply, new_tenant

ADDRESS = {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH",
           "country": "GB"}


@pytest.fixture(scope="module")
def tenant(http, stack):
    made = new_tenant(http, stack.root_key)
    store = http.call("POST", "/v1/api-keys", made["admin"], {"name": "front-desk", "role": "store"}).body
    return {**made, "store": store["secret"]}




def hours_from_now(hours: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).isoformat()






def redeem(http: Http, tenant: dict, member: str, key: str, body: dict, auth: str | None = None) -> Reply:
    return http.call("POST", f"{tenant['path']}/members/{member}/redemptions", auth or tenant["store"], body,
                     headers={"Idempotency-Key": key})




def reward(http: Http, tenant: dict, reward_id: str) -> dict:
    reply = http.call("GET", f"{tenant['path']}/rewards/{reward_id}", tenant["admin"])
    assert reply.status == 200, reply
    return reply.body




def sent_emails(stack, address: str) -> list[dict]:
    reply = requests.get(f"{stack.control_url}/sent", timeout=10)
    reply.raise_for_status()
    return [email for email in reply.json()["emails"] if address in email["to"]]


# --- merchandise ---------------------------------------------------------------------------------------

def test_merchandise_is_shipped_delivered_or_returned_once_and_refused_when_out_of_stock(http, stack, tenant):
    # Given a member with 2000 points and a 300-point mug, 3 in stock
    path, admin = tenant["path"], tenant["admin"]
    enrol(http, tenant, "mia", 2000)
    mug = add_reward(http, tenant, **{"type": "merchandise", "name": "Mug", "cost": 300, "stock": 3})

    def order(key: str, address: dict | None = ADDRESS) -> Reply:
        delivery = {} if address is None else {"address": address}
        return redeem(http, tenant, "mia", key, {"reward_id": mug["id"], "delivery": delivery})

    def ship(redemption_id: str, body: dict) -> Reply:
        return http.call("POST", f"{path}/redemptions/{redemption_id}/shipment", admin, body)

    def state() -> tuple[int, int]:
        return assert_ledger_adds_up(http, tenant, "mia")["available"], reward(http, tenant, mug["id"])["stock"]

    # When she orders it without an address, without a city, or with a country that is not ISO alpha-2
    refused = [order("bad-1", None), order("bad-2", {k: v for k, v in ADDRESS.items() if k != "city"}),
               order("bad-3", {**ADDRESS, "country": "England"})]
    # Then each is a 400 naming the field, and nothing is taken
    assert [(r.status, r.code, r.body["error"]["details"]["field"]) for r in refused] == [
        (400, "validation_error", "delivery.address"), (400, "validation_error", "delivery.address.city"),
        (400, "validation_error", "delivery.address.country")]
    assert state() == (2000, 3)
    assert [t["kind"] for t in transactions(http, tenant, "mia")] == ["adjust"]

    # When she orders it with her address and fulfilment runs
    first = order("mug-1")
    assert (first.status, first.body["status"]) == (202, "pending")
    assert state() == (1700, 2)
    assert stack.drain()
    # Then it waits for the fulfilment partner in processing
    processing = redemption(http, tenant, first.body["id"])
    assert (processing["status"], processing["fulfillment"]) == ("processing", {"type": "merchandise"})

    # When the partner reports it delivered before shipping, shipped without tracking, shipped, twice, delivered
    early = ship(first.body["id"], {"status": "delivered"})
    untracked = ship(first.body["id"], {"status": "shipped", "carrier": "DHL"})
    shipped = ship(first.body["id"], {"status": "shipped", "carrier": "DHL", "tracking": "JD014600"})
    twice = ship(first.body["id"], {"status": "shipped", "carrier": "DHL", "tracking": "JD014600"})
    delivered = ship(first.body["id"], {"status": "delivered"})
    # Then the early report is 409 naming where it stands, the untracked one 400, each move happens once
    assert (early.status, early.code, early.body["error"]["details"]) == (409, "conflict", {"status": "processing"})
    assert (untracked.status, untracked.body["error"]["details"]) == (400, {"field": "tracking"})
    assert (shipped.status, shipped.body["status"]) == (200, "shipped")
    assert (twice.status, twice.body["error"]["details"]) == (409, {"status": "shipped"})
    assert (delivered.status, delivered.body["status"]) == (200, "delivered")
    done = redemption(http, tenant, first.body["id"])
    assert done["status"] == "delivered"
    assert {k: done["fulfillment"][k] for k in ("type", "carrier", "tracking")} == {
        "type": "merchandise", "carrier": "DHL", "tracking": "JD014600"}
    assert {"shipped_at", "delivered_at"} <= set(done["fulfillment"])
    assert state() == (1700, 2)

    # When a second mug is shipped, and its return is reported twice
    second = order("mug-2")
    assert second.status == 202 and state() == (1400, 1)
    assert stack.drain()
    assert ship(second.body["id"], {"status": "shipped", "carrier": "UPS", "tracking": "1Z999"}).status == 200
    returned, again = (ship(second.body["id"], {"status": "returned"}) for _ in range(2))
    # Then the first return gives the points and the mug back, the second is 409 and gives nothing
    assert (returned.status, returned.body["status"]) == (200, "returned")
    assert (again.status, again.body["error"]["details"]) == (409, {"status": "returned"})
    assert state() == (1700, 2)
    assert [t["points"] for t in refunds_of(ledger(http, tenant, "mia"), second.body["id"])] == [300]
    # And a delivered mug cannot be reported shipped again
    assert ship(first.body["id"], {"status": "shipped", "carrier": "DHL", "tracking": "X"}).status == 409

    # When the last two mugs are ordered, and then one more
    assert [order(f"mug-{n}").status for n in (3, 4)] == [202, 202]
    sold_out = order("mug-5")
    # Then the last is 409 out_of_stock and takes nothing: the ledger holds four redemptions and one refund
    assert (sold_out.status, sold_out.code) == (409, "out_of_stock")
    assert state() == (1100, 0)
    assert Counter(t["kind"] for t in transactions(http, tenant, "mia")) == {"adjust": 1, "redeem": 4, "refund": 1}
    assert stack.drain()


def test_a_fulfilment_partner_lists_what_waits_to_ship_reads_the_address_and_reports_it(http, stack):
    # Given a shop of its own (its to-ship queue empty), a member with 1000 points and her session, a 200-point
    # hoodie, 5 in stock, and a fulfilment key for the shop's 3PL warehouse
    shop = new_tenant(http, stack.root_key)
    path, admin = shop["path"], shop["admin"]
    enrol(http, shop, "noa", 1000)
    session = http.call("POST", f"{path}/members/noa/sessions", admin, {"ttl_seconds": 600}).body["token"]
    hoodie = add_reward(http, shop, **{"type": "merchandise", "name": "Hoodie", "cost": 200, "stock": 5})
    made = http.call("POST", "/v1/api-keys", admin, {"name": "Warehouse", "role": "fulfilment"})
    assert (made.status, made.body["role"]) == (201, "fulfilment"), made
    partner = made.body["secret"]

    def queue(limit: int) -> list[dict]:
        """The to-ship queue as the 3PL pages through it."""
        items, cursor = [], ""
        while True:
            page = http.call("GET", f"{path}/redemptions?status=processing&limit={limit}{cursor}", partner)
            assert page.status == 200 and len(page.body["items"]) <= limit, page
            items += page.body["items"]
            if page.body["next_cursor"] is None:
                return items
            cursor = f"&cursor={page.body['next_cursor']}"

    def ship(redemption_id: str, body: dict) -> Reply:
        return http.call("POST", f"{path}/redemptions/{redemption_id}/shipment", partner, body)

    # When she orders three hoodies in her app, and fulfilment runs
    orders = [redeem(http, shop, "noa", f"hoodie-{n}", {"reward_id": hoodie["id"], "delivery": {"address": ADDRESS}},
                     auth=session) for n in range(3)]
    assert [order.status for order in orders] == [202] * 3
    assert stack.drain()
    # Then the 3PL finds all three waiting to ship, oldest first, two a page, each with where it goes
    waiting = queue(limit=2)
    assert [item["id"] for item in waiting] == [order.body["id"] for order in orders]
    assert {(item["status"], item["delivery"]["address"]["postal_code"]) for item in waiting} == {
        ("processing", "SW1Y 4JH")}
    # And it may not read the admin's approval queue, nor act as an admin
    assert http.call("GET", f"{path}/redemptions", partner).code == "forbidden"
    assert http.call("POST", f"{path}/redemptions/{waiting[0]['id']}/cancel", partner, {}).code == "forbidden"

    # When it reads the first, ships it with tracking, and reports it delivered
    first = redemption(http, shop, waiting[0]["id"], partner)
    shipped = ship(first["id"], {"status": "shipped", "carrier": "DHL", "tracking": "JD014600"})
    left = queue(limit=2)
    delivered = ship(first["id"], {"status": "delivered"})
    # Then it read her address, the shipped hoodie left the queue, and each move happened once
    assert first["delivery"] == {"address": ADDRESS}
    assert (shipped.status, shipped.body["status"]) == (200, "shipped")
    assert [item["id"] for item in left] == [item["id"] for item in waiting[1:]]
    assert (delivered.status, delivered.body["status"]) == (200, "delivered")
    # And she sees it delivered, with its carrier and tracking, at her own address
    mine = redemption(http, shop, first["id"], session)
    assert (mine["status"], mine["fulfillment"]["tracking"], mine["delivery"]) == (
        "delivered", "JD014600", {"address": ADDRESS})
    # And the ledger adds up: three redemptions, nothing given back, two hoodies left
    assert assert_ledger_adds_up(http, shop, "noa")["available"] == 400
    assert Counter(entry["kind"] for entry in ledger(http, shop, "noa")) == {"adjust": 1, "redeem": 3}
    assert reward(http, shop, hoodie["id"])["stock"] == 2


# --- experiences ---------------------------------------------------------------------------------------

def test_a_booking_is_cancelled_once_before_its_cutoff_and_not_after(http, stack, tenant):
    # Given a member with 500 points and a 200-point tour, cancellable until 24 hours before a slot starts,
    # with a slot in 3 days, one in 1 hour (whose cutoff has passed) and one that started an hour ago
    path, admin = tenant["path"], tenant["admin"]
    enrol(http, tenant, "eli", 500)
    tour = add_reward(http, tenant, **{
        "type": "experience", "name": "Vineyard tour", "cost": 200, "cancel_cutoff_hours": 24,
        "slots": [{"id": "later", "starts_at": hours_from_now(72), "capacity": 3},
                  {"id": "soon", "starts_at": hours_from_now(1), "capacity": 3},
                  {"id": "begun", "starts_at": hours_from_now(-1), "capacity": 3}]})

    def book(slot: str | None, key: str) -> Reply:
        return redeem(http, tenant, "eli", key, {"reward_id": tour["id"], **({"slot_id": slot} if slot else {})})

    def seats() -> dict:
        return {slot["id"]: slot["booked"] for slot in reward(http, tenant, tour["id"])["slots"]}

    # When he books without a slot, names one the tour does not have, or the one that has begun
    unnamed, unknown, begun = book(None, "none"), book("midnight", "unknown"), book("begun", "begun")
    # Then the first two are 400 naming slot_id, the last 409 slot_started, and nothing is taken
    assert [(r.status, r.body["error"]["details"]["field"]) for r in (unnamed, unknown)] == [
        (400, "slot_id"), (400, "slot_id")]
    assert (begun.status, begun.code, begun.body["error"]["details"]["slot_id"]) == (409, "slot_started", "begun")
    assert (assert_ledger_adds_up(http, tenant, "eli")["available"], seats()) == (
        500, {"later": 0, "soon": 0, "begun": 0})

    # When he books the slot in 3 days and fulfilment runs
    later = book("later", "later")
    assert later.status == 202 and seats() == {"later": 1, "soon": 0, "begun": 0}
    assert stack.drain()
    done = redemption(http, tenant, later.body["id"])
    assert (done["status"], done["fulfillment"]["type"], done["fulfillment"]["slot_id"]) == (
        "fulfilled", "experience", "later")
    # And he cancels it from his session, and an admin cancels it again
    session = http.call("POST", f"{path}/members/eli/sessions", admin, {}).body["token"]
    cancel = f"{path}/redemptions/{later.body['id']}/cancel-booking"
    first, again = http.call("POST", cancel, session, {}), http.call("POST", cancel, admin, {})
    # Then the first cancels it, with his points and the seat back; the second is 409 and gives nothing
    assert (first.status, first.body["status"]) == (200, "cancelled")
    assert (again.status, again.code, again.body["error"]["details"]) == (409, "conflict", {"status": "cancelled"})
    assert (assert_ledger_adds_up(http, tenant, "eli")["available"], seats()) == (
        500, {"later": 0, "soon": 0, "begun": 0})
    assert [t["points"] for t in refunds_of(ledger(http, tenant, "eli"), later.body["id"])] == [200]

    # When he books the slot starting in an hour, and then tries to cancel it
    soon = book("soon", "soon")
    assert soon.status == 202
    assert stack.drain()
    late = http.call("POST", f"{path}/redemptions/{soon.body['id']}/cancel-booking", session, {})
    # Then it is too late: 409 with the cutoff, and the booking, its seat and its points stay where they are
    assert (late.status, late.code) == (409, "cancel_cutoff_passed")
    assert "cutoff" in late.body["error"]["details"]
    assert redemption(http, tenant, soon.body["id"])["status"] == "fulfilled"
    assert (assert_ledger_adds_up(http, tenant, "eli")["available"], seats()) == (
        300, {"later": 0, "soon": 1, "begun": 0})
    assert refunds_of(ledger(http, tenant, "eli"), soon.body["id"]) == []


def test_12_members_racing_for_the_last_3_seats_of_a_slot_book_exactly_3(http, stack, tenant):
    # Given a 100-point cooking class whose evening slot of 5 has 2 seats taken, and 12 more members
    # who can each afford it twice
    path = tenant["path"]
    cooking = add_reward(http, tenant, **{"type": "experience", "name": "Cooking class", "cost": 100,
                                        "slots": [{"id": "evening", "starts_at": hours_from_now(48), "capacity": 5}]})
    early, racers = ["cook-early-0", "cook-early-1"], [f"cook-{n}" for n in range(12)]
    for member in early + racers:
        enrol(http, tenant, member, 200)
    for member in early:
        assert redeem(http, tenant, member, f"{member}-evening", {"reward_id": cooking["id"],
                                                                 "slot_id": "evening"}).status == 202

    def book(member: str) -> Callable[[Http], Reply]:
        return lambda client: client.call("POST", f"{path}/members/{member}/redemptions", tenant["store"],
                                          {"reward_id": cooking["id"], "slot_id": "evening"},
                                          headers={"Idempotency-Key": f"{member}-evening"})

    # When the 12 book the slot at the same moment
    replies = at_once(http.base_url, [book(member) for member in racers])

    # Then exactly 3 are booked and 9 refused as fully booked; the slot holds 5, never more
    assert Counter(map(outcome, replies)) == {"202": 3, "409 fully_booked": 9}
    refusal = next(reply for reply in replies if reply.status == 409)
    assert refusal.body["error"]["details"] == {"slot_id": "evening", "left": 0}
    assert [slot["booked"] for slot in reward(http, tenant, cooking["id"])["slots"]] == [5]
    # And only the winners paid: a refused member's points are untouched, every ledger adds up
    winners = {member: reply.body for member, reply in zip(racers, replies) if reply.status == 202}
    for member in racers:
        now = assert_ledger_adds_up(http, tenant, member)
        assert now["available"] == (100 if member in winners else 200), member
    # And one more booking, even by a winner who can still afford it, is refused and takes nothing
    winner = next(iter(winners))
    assert outcome(redeem(http, tenant, winner, f"{winner}-again", {"reward_id": cooking["id"],
                                                                     "slot_id": "evening"})) == "409 fully_booked"
    assert balance(http, tenant, winner)["available"] == 100
    # And once fulfilment has run, the 3 winners hold their seats
    assert stack.drain()
    assert [redemption(http, tenant, r["id"])["status"] for r in winners.values()] == ["fulfilled"] * 3


# --- donations -----------------------------------------------------------------------------------------

def test_donations_go_to_the_chosen_charity_add_up_in_its_total_and_send_a_receipt(http, stack, tenant):
    # Given a member with 1000 points and an email address, and two donation rewards naming three charities
    # (Forests Now in both)
    path, admin = tenant["path"], tenant["admin"]
    email = f"dora-{tenant['program_id'][-8:]}@example.com"
    enrol(http, tenant, "dora", 1000, email=email)
    small = add_reward(http, tenant, **{"type": "donation", "name": "Give 100", "cost": 100, "charities": [
        {"id": "sea", "name": "Clean Seas"}, {"id": "trees", "name": "Forests Now"}]})
    large = add_reward(http, tenant, **{"type": "donation", "name": "Give 250", "cost": 250, "charities": [
        {"id": "trees", "name": "Forests Now"}, {"id": "books", "name": "Books for All"}]})
    session = http.call("POST", f"{path}/members/dora/sessions", admin, {}).body["token"]

    def charities() -> dict:
        page = http.call("GET", f"{path}/charities", session)
        assert page.status == 200, page
        return {c["id"]: (c["name"], c["points"], c["donations"]) for c in page.body["items"]
                if c["id"] in ("sea", "trees", "books")}  # (other tests of the module add their own)

    def donate(gift: dict, charity: str | None, key: str) -> Reply:
        return redeem(http, tenant, "dora", key, {"reward_id": gift["id"],
                                                  **({"charity_id": charity} if charity else {})}, auth=session)

    # The program lists its charities, with nothing given yet
    assert charities() == {"sea": ("Clean Seas", 0, 0), "trees": ("Forests Now", 0, 0),
                           "books": ("Books for All", 0, 0)}
    # When she names no charity, one no reward has, or one of the other reward's
    refused = [donate(small, None, "none"), donate(small, "cats", "cats"), donate(small, "books", "books")]
    # Then each is a 400 naming charity_id, and nothing is taken
    assert [(r.status, r.code, r.body["error"]["details"]["field"]) for r in refused] == [
        (400, "validation_error", "charity_id")] * 3
    assert assert_ledger_adds_up(http, tenant, "dora")["available"] == 1000

    # When she gives twice to Clean Seas and to Forests Now through each reward, and fulfilment runs
    made = [donate(small, "sea", "d1"), donate(small, "sea", "d2"), donate(small, "trees", "d3"),
            donate(large, "trees", "d4")]
    assert [r.status for r in made] == [202] * 4
    assert stack.drain()

    # Then each is fulfilled naming its charity
    done = {r.body["id"]: redemption(http, tenant, r.body["id"]) for r in made}
    assert [(d["status"], d["fulfillment"]) for d in done.values()] == [
        ("fulfilled", {"type": "donation", "charity_id": "sea", "charity_name": "Clean Seas"})] * 2 + [
        ("fulfilled", {"type": "donation", "charity_id": "trees", "charity_name": "Forests Now"})] * 2
    # And every charity's total counts each donation once, and the totals add up to the points she gave
    totals = charities()
    assert totals == {"sea": ("Clean Seas", 200, 2), "trees": ("Forests Now", 350, 2),
                      "books": ("Books for All", 0, 0)}
    now = assert_ledger_adds_up(http, tenant, "dora")
    assert now["available"] == 1000 - sum(points for _, points, _ in totals.values()) == 450
    # And she received one receipt per donation, naming the charity and the points
    receipts = sent_emails(stack, email)
    assert sorted(e["subject"] for e in receipts) == [
        "Thank you for your donation to Clean Seas"] * 2 + ["Thank you for your donation to Forests Now"] * 2
    assert sorted(int(e["body"].split("donation of ")[1].split(" ")[0]) for e in receipts) == [100, 100, 100, 250]
    assert all("receipt" in e["body"] for e in receipts)


# --- money budgets -------------------------------------------------------------------------------------

def test_a_money_budget_is_never_overspent_announces_each_level_once_and_gets_returns_back(http, stack, receiver):
    # Given a program (its own: the budget is the program's) with a 50 EUR budget, announced at 50/80/100 %
    # to a receiver, a 10 EUR tote bag and a plain sticker, and members who can afford one bag each
    tenant = new_tenant(http, stack.root_key)
    path, admin = tenant["path"], tenant["admin"]
    tenant["store"] = http.call("POST", "/v1/api-keys", admin, {"name": "till", "role": "store"}).body["secret"]
    assert http.call("PATCH", path, admin, {"budget": {"amount": 5000, "currency": "EUR"}}).status == 200
    endpoint = http.call("POST", "/v1/webhook-endpoints", admin, {"url": receiver.url,
                                                                  "kinds": ["budget.threshold"]})
    assert endpoint.status == 201, endpoint
    receiver.secrets.append(endpoint.body["secret"])
    bag = add_reward(http, tenant, **{"type": "merchandise", "name": "Tote bag", "cost": 100,
                                    "value": {"amount": 1000, "currency": "EUR"}})
    sticker = add_reward(http, tenant, **{"type": "merchandise", "name": "Sticker", "cost": 10})
    members = [f"bud-{n}" for n in range(10)]
    for member in [*members, "bud-sticker"]:
        enrol(http, tenant, member, 100)

    def buy(member: str, item: dict = bag, key: str = "bag") -> Callable[[Http], Reply]:
        return lambda client: client.call("POST", f"{path}/members/{member}/redemptions", tenant["store"],
                                          {"reward_id": item["id"], "delivery": {"address": ADDRESS}},
                                          headers={"Idempotency-Key": f"{member}-{key}"})

    def budget() -> dict:
        reply = http.call("GET", f"{path}/budget", admin)
        assert reply.status == 200, reply
        return reply.body

    # When two members buy a bag (40 %), and a sticker (no value) is bought
    assert [buy(member)(http).status for member in members[:2]] == [202, 202]
    assert buy("bud-sticker", sticker, "sticker")(http).status == 202
    assert budget() == {"amount": 5000, "currency": "EUR", "used": 2000, "left": 3000,
                        "alert_at_percent": [50, 80, 100]}
    # And eight more race for the three bags the budget has left
    racers = members[2:]
    replies = at_once(http.base_url, [buy(member) for member in racers])

    # Then exactly three fit and five are refused as over budget; the budget is exactly used up
    assert Counter(map(outcome, replies)) == {"202": 3, "409 budget_exceeded": 5}
    refusal = next(reply for reply in replies if reply.status == 409)
    assert {k: refusal.body["error"]["details"][k] for k in ("amount", "cost", "currency")} == {
        "amount": 5000, "cost": 1000, "currency": "EUR"}
    assert (budget()["used"], budget()["left"]) == (5000, 0)
    # And a refusal took nothing: the losers keep their points, every ledger adds up
    winners = {member: reply.body for member, reply in zip(racers, replies) if reply.status == 202}
    losers = [member for member in racers if member not in winners]
    for member in members:
        paid = 100 if member in members[:2] or member in winners else 0
        assert assert_ledger_adds_up(http, tenant, member)["available"] == 100 - paid, member
    # And a refused buyer trying again is still refused
    assert outcome(buy(losers[0], key="retry")(http)) == "409 budget_exceeded"

    # When one of the bags is shipped and returned
    assert stack.drain()
    owner, returned = next(iter(winners.items()))
    ship = f"{path}/redemptions/{returned['id']}/shipment"
    assert http.call("POST", ship, admin, {"status": "shipped", "carrier": "DHL", "tracking": "JD777"}).status == 200
    assert http.call("POST", ship, admin, {"status": "returned"}).status == 200
    # Then its 10 EUR and its points come back once, and the next buyer fits again, using it up once more
    assert (budget()["used"], budget()["left"]) == (4000, 1000)
    assert assert_ledger_adds_up(http, tenant, owner)["available"] == 100
    assert buy(losers[0], key="after-return")(http).status == 202
    assert (budget()["used"], budget()["left"]) == (5000, 0)

    # And each level was announced exactly once, signed, though 100 % was reached twice
    assert stack.drain()
    assert receiver.requests and all(r["verified_with"] == [endpoint.body["secret"]] for r in receiver.requests)
    announced = [json.loads(request["body"]) for request in receiver.requests]
    assert {event["type"] for event in announced} == {"budget.threshold"}
    levels = sorted((event["data"]["budget"]["percent"], event["data"]["budget"]["used"]) for event in announced)
    assert [percent for percent, _ in levels] == [50, 80, 100]
    assert all(used * 100 >= percent * 5000 for percent, used in levels)


# --- a balance that covers only some of a mixed basket --------------------------------------------------

def test_a_balance_for_5_of_12_parallel_redemptions_of_stock_seats_and_donations_buys_exactly_5(http, stack, tenant):
    # Given a member with 500 points, and three 100-point rewards: a cap (2 in stock), a class (one slot
    # of 2 seats) and a donation (no limit)
    path = tenant["path"]
    enrol(http, tenant, "kim", 500)
    cap = add_reward(http, tenant, **{"type": "merchandise", "name": "Cap", "cost": 100, "stock": 2})
    yoga = add_reward(http, tenant, **{"type": "experience", "name": "Yoga", "cost": 100,
                                     "slots": [{"id": "dawn", "starts_at": hours_from_now(30), "capacity": 2}]})
    gift = add_reward(http, tenant, **{"type": "donation", "name": "Give", "cost": 100,
                                     "charities": [{"id": "kim-cause", "name": "Kim's cause"}]})
    bodies = {"cap": {"reward_id": cap["id"], "delivery": {"address": ADDRESS}},
              "yoga": {"reward_id": yoga["id"], "slot_id": "dawn"},
              "gift": {"reward_id": gift["id"], "charity_id": "kim-cause"}}
    calls = [(kind, n) for kind in bodies for n in range(4)]

    def redeem_one(kind: str, n: int) -> Callable[[Http], Reply]:
        return lambda client: client.call("POST", f"{path}/members/kim/redemptions", tenant["store"], bodies[kind],
                                          headers={"Idempotency-Key": f"kim-{kind}-{n}"})

    # When she redeems each of them four times, all 12 at once
    replies = at_once(http.base_url, [redeem_one(kind, n) for kind, n in calls])

    # Then exactly 5 are accepted (her points for 5); the others are refused for her points, or for the stock
    # or seats that accepted ones took first (at most 2 each), never with another error
    results = Counter(map(outcome, replies))
    assert results["202"] == 5, results
    assert set(results) <= {"202", "409 insufficient_points", "409 out_of_stock", "409 fully_booked"}, results
    assert results["409 out_of_stock"] <= 2 and results["409 fully_booked"] <= 2
    assert results["409 insufficient_points"] >= 3
    won = Counter(kind for (kind, _), reply in zip(calls, replies) if reply.status == 202)
    # And nothing was oversold: the stock and seats left match what was won
    assert won["cap"] <= 2 and won["yoga"] <= 2
    assert reward(http, tenant, cap["id"])["stock"] == 2 - won["cap"]
    assert reward(http, tenant, yoga["id"])["slots"][0]["booked"] == won["yoga"]
    # And her points were spent exactly: balance 0, one redeem per accepted redemption, the ledger adds up
    now = assert_ledger_adds_up(http, tenant, "kim")
    assert (now["available"], now["lifetime_spent"]) == (0, 500)
    accepted = {reply.body["id"] for reply in replies if reply.status == 202}
    assert {t["redemption_id"] for t in transactions(http, tenant, "kim") if t["kind"] == "redeem"} == accepted

    # When fulfilment runs
    assert stack.drain()
    # Then the cap waits for shipping, the class and the donation are fulfilled, and the charity got what was given
    statuses = Counter((kind, redemption(http, tenant, reply.body["id"])["status"])
                       for (kind, _), reply in zip(calls, replies) if reply.status == 202)
    assert statuses == Counter({("cap", "processing"): won["cap"], ("yoga", "fulfilled"): won["yoga"],
                                ("gift", "fulfilled"): won["gift"]})
    cause = next(c for c in http.call("GET", f"{path}/charities", tenant["admin"]).body["items"]
                 if c["id"] == "kim-cause")
    assert (cause["points"], cause["donations"]) == (100 * won["gift"], won["gift"])
