"""Donations through the API: the member names one of the reward's charities; fulfilment records the
donation and raises that charity's total exactly once; the program lists its charities with their totals."""
import uuid

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses import ses_backends

from chalicelib.rewards import fulfilment


@pytest.fixture
def giving(api, program):
    """A member with 1000 points (and an address of its own) and a 100-point donation to one of two charities."""
    path, admin = program["path"], program["admin"]
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    assert api.call("PUT", f"{path}/members/ada", admin, {"email": email, "name": "Ada"})[0] == 201
    api.call("POST", f"{path}/members/ada/adjustments", admin, {"points": 1000, "reason": "x"},
             {"Idempotency-Key": "seed"})
    status, reward = api.call("POST", f"{path}/rewards", admin, {
        "type": "donation", "name": "Give 100 points", "cost": 100,
        "charities": [{"id": "sea", "name": "Clean Seas"}, {"id": "trees", "name": "Forests Now"}]})
    assert status == 201, reward
    return {**program, "reward": reward["id"], "email": email}


def donate(api, giving, key, charity="sea"):
    body = {"reward_id": giving["reward"], **({"charity_id": charity} if charity else {})}
    return api.call("POST", f"{giving['path']}/members/ada/redemptions", giving["admin"], body,
                    {"Idempotency-Key": key})


def charities(api, giving, key=None):
    status, page = api.call("GET", f"{giving['path']}/charities", key or giving["admin"])
    assert status == 200, page
    return {c["id"]: (c["name"], c["points"], c["donations"]) for c in page["items"]}


def test_a_donation_names_one_of_its_charities(api, program, giving):
    # When a gift card names charities, or a redemption names none or another
    card = api.call("POST", f"{program['path']}/rewards", program["admin"], {
        "type": "gift_card", "name": "C", "cost": 1, "charities": [{"id": "sea", "name": "Clean Seas"}]})
    none, other = donate(api, giving, "n", None), donate(api, giving, "o", "cats")
    # Then each is a 400 naming the field
    assert [(s, b["error"]["details"]["field"]) for s, b in (card, none, other)] == [
        (400, "charities"), (400, "charity_id"), (400, "charity_id")]
    # And a donation as the contract has it (no charities) is taken
    assert api.call("POST", f"{program['path']}/rewards", program["admin"], {"type": "donation", "name": "D",
                                                                             "cost": 1})[0] == 201


def test_a_donation_is_recorded_once_in_its_charitys_total(stack, api, giving):
    # Given two donations to Clean Seas and one to Forests Now; the totals start at nothing
    assert charities(api, giving) == {"sea": ("Clean Seas", 0, 0), "trees": ("Forests Now", 0, 0)}
    made = [donate(api, giving, key, charity)[1] for key, charity in (("a", "sea"), ("b", "sea"), ("c", "trees"))]
    # When fulfilment runs, and runs again for one of them (a redelivered message)
    stack.pump("FulfilmentFunction")
    assert fulfilment.fulfil(made[0]["id"]) == "fulfilled"
    # Then each is fulfilled naming its charity, and every total counts each donation once
    done = api.call("GET", f"{giving['path']}/redemptions/{made[2]['id']}", giving["admin"])[1]
    assert (done["status"], done["fulfillment"]) == ("fulfilled", {"type": "donation", "charity_id": "trees",
                                                                   "charity_name": "Forests Now"})
    session = api.call("POST", f"{giving['path']}/members/ada/sessions", giving["admin"], {})[1]["token"]
    assert charities(api, giving, session) == {"sea": ("Clean Seas", 200, 2), "trees": ("Forests Now", 100, 1)}
    assert api.call("GET", f"{giving['path']}/members/ada/balance", giving["admin"])[1]["available"] == 700
    # And the member received one receipt per donation, naming the charity and the points
    stack.pump("EmailDeliveryFunction")
    receipts = [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
                if giving["email"] in m.destinations["ToAddresses"]]
    assert sorted(m.subject for m in receipts) == ["Thank you for your donation to Clean Seas"] * 2 + [
        "Thank you for your donation to Forests Now"]
    assert all("100 " in m.body and "receipt" in m.body for m in receipts)


def test_a_cancelled_donation_adds_nothing(stack, api, giving):
    # Given a donation cancelled before fulfilment
    made = donate(api, giving, "x")[1]
    assert api.call("POST", f"{giving['path']}/redemptions/{made['id']}/cancel", giving["admin"], {})[0] == 200
    # When its fulfilment message arrives, Then the charity's total is unchanged and the points came back
    stack.pump("FulfilmentFunction")
    assert charities(api, giving)["sea"] == ("Clean Seas", 0, 0)
    assert api.call("GET", f"{giving['path']}/members/ada/balance", giving["admin"])[1]["available"] == 1000
