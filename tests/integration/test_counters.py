"""Counters many members race on (stock, a money budget, a campaign's budget, a slot's seats, a code pool),
split into shards: never past their limit, "sold out" exactly when it is, and counters written as one item
before shards keep working."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from given import outcomes
from test_campaigns import program_with_campaign, purchase

from chalicelib.core import clock, db
from chalicelib.earning import earn
from chalicelib.rewards import lifecycle, redemptions
from chalicelib.rewards.kinds import registry


def members(api, program, count, points=100):
    for n in range(count):
        api.call("PUT", f"{program['path']}/members/m{n}", program["admin"], {"name": f"M{n}"})
        api.call("POST", f"{program['path']}/members/m{n}/adjustments", program["admin"],
                 {"points": points, "reason": "seed"}, {"Idempotency-Key": f"seed-{n}"})


def redeem_all(program, reward_id, count, prefix="r", extra=None):
    return outcomes([lambda n=n: redemptions.create(program["org_id"], program["id"], f"m{n}",
                                                    {"reward_id": reward_id, **(extra or {})}, f"{prefix}-{n}")
                     for n in range(count)])


def reward_item(program, reward_id):
    return db.get(db.RewardItem, db.RewardItem.key(program["id"], reward_id))


def test_a_split_stock_never_oversells_and_is_sold_out_exactly(stack, api, program):
    # Given a reward with 24 in stock (split into shards on its first redemption) and 30 members
    path, admin = program["path"], program["admin"]
    members(api, program, 30)
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "Mug", "cost": 1, "stock": 24})[1]
    # When all 30 redeem at once
    results = redeem_all(program, reward["id"], 30)
    # Then exactly 24 succeed, the rest are told it is out of stock, and the stock shown is 0
    assert results == ["ok"] * 24 + ["out_of_stock"] * 6
    assert reward_item(program, reward["id"]).stock_shards > 1
    assert api.call("GET", f"{path}/rewards/{reward['id']}", admin)[1]["stock"] == 0
    # And a restock is exact: 3 more, then sold out again
    assert api.call("PATCH", f"{path}/rewards/{reward['id']}", admin, {"stock": 3})[1]["stock"] == 3
    assert redeem_all(program, reward["id"], 5, prefix="again") == ["ok"] * 3 + ["out_of_stock"] * 2
    listed = api.call("GET", f"{path}/rewards", admin)[1]["items"]
    assert [r["stock"] for r in listed if r["id"] == reward["id"]] == [0]


def test_a_stock_written_as_one_item_splits_on_first_take_and_takes_back_its_old_redemptions(stack, api, program):
    # Given a small stock (one item) and a redemption taken from it, still pending
    path, admin = program["path"], program["admin"]
    members(api, program, 3)
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "Pen", "cost": 1, "stock": 10})[1]
    old, _ = redemptions.create(program["org_id"], program["id"], "m0", {"reward_id": reward["id"]}, "old")
    assert reward_item(program, reward["id"]).stock == 9 and reward_item(program, reward["id"]).stock_shards is None
    # And the item then holds a large stock, as the code before shards wrote it
    item = reward_item(program, reward["id"])
    item.update(actions=[db.RewardItem.stock.set(200)])
    # When a member redeems: the stock is split, and taken from a shard
    redemptions.create(program["org_id"], program["id"], "m1", {"reward_id": reward["id"]}, "new")
    assert reward_item(program, reward["id"]).stock_shards > 1
    assert api.call("GET", f"{path}/rewards/{reward['id']}", admin)[1]["stock"] == 199
    # And the old redemption, refunded, gives its stock back to the shards
    assert lifecycle.refund(old["id"], "x", restock=True, release=registry.release)
    assert api.call("GET", f"{path}/rewards/{reward['id']}", admin)[1]["stock"] == 200


def test_a_split_money_budget_is_never_overspent_and_follows_its_amount(stack, api, program, receiver):
    # Given a 300 EUR budget (split: many 10 EUR redemptions' worth) and 36 members
    path, admin = program["path"], program["admin"]
    assert api.call("PATCH", path, admin, {"budget": {"amount": 30000, "currency": "EUR"}})[0] == 200
    members(api, program, 36)
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "10 back", "cost": 1,
                                                         "value": {"amount": 1000, "currency": "EUR"}})[1]
    # When all 36 redeem at once
    results = redeem_all(program, reward["id"], 36)
    # Then exactly 30 fit, and the budget is exactly used up
    assert results == ["budget_exceeded"] * 6 + ["ok"] * 30
    assert db.get(db.ProgramBudgetItem, db.ProgramBudgetItem.key(program["id"])).shards > 1
    budget = api.call("GET", f"{path}/budget", admin)[1]
    assert (budget["used"], budget["left"]) == (30000, 0)
    # And a raised amount is exact: two more fit, then it is exceeded again
    assert api.call("PATCH", path, admin, {"budget": {"amount": 32000, "currency": "EUR"}})[0] == 200
    assert redeem_all(program, reward["id"], 3, prefix="more") == ["budget_exceeded"] + ["ok"] * 2
    # And a lowered one refuses until refunds bring what is used under it
    assert api.call("PATCH", path, admin, {"budget": {"amount": 31000, "currency": "EUR"}})[0] == 200
    assert redeem_all(program, reward["id"], 1, prefix="low") == ["budget_exceeded"]
    budget = api.call("GET", f"{path}/budget", admin)[1]
    assert (budget["used"], budget["left"]) == (32000, 0)


def test_a_split_campaign_budget_gives_exactly_its_budget(stack, api):
    # Given a campaign of 25-point awards with a 400-point budget (split into shards)
    program = program_with_campaign(api, budget=400)
    head = db.get(db.CampaignBudgetItem, db.CampaignBudgetItem.key(program["campaign"]["id"]))
    assert head.shards > 1 and "budget_shards" not in program["campaign"]
    calls = [lambda n=n: earn.record_event(program["org_id"], program["id"],
                                        {"id": f"flash-{n}", "type": "purchase", "member": f"f{n}",
                                         "properties": {"category": "shoes"}}) for n in range(20)]
    # When 20 members buy at once
    with ThreadPoolExecutor(8) as pool:
        awards = [result[0]["points"] - 10 for result in pool.map(lambda call: call(), calls)]
    # Then the campaign gave exactly its budget (16 full awards), and says so
    assert sum(awards) == 400 and sorted(awards) == [0] * 4 + [25] * 16
    assert api.call("GET", f"{program['path']}/campaigns", program["admin"])[1]["items"][0]["spent_points"] == 400
    assert purchase(api, program, "late")["points"] == 10


def test_a_split_slot_is_never_overbooked(stack, api, program):
    # Given a slot of 20 seats (split on its first booking) and 26 members
    path, admin = program["path"], program["admin"]
    members(api, program, 26)
    starts = clock.iso(clock.now() + timedelta(hours=72))
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "experience", "name": "Tour", "cost": 1,
                                                         "slots": [{"id": "s", "starts_at": starts, "capacity": 20}]})[1]
    # When all 26 book at once
    made = []
    results = outcomes([lambda n=n: made.append(redemptions.create(
        program["org_id"], program["id"], f"m{n}", {"reward_id": reward["id"], "slot_id": "s"}, f"b-{n}")[0]["id"])
        for n in range(26)])
    # Then exactly 20 are booked, and the slot says so
    assert results == ["fully_booked"] * 6 + ["ok"] * 20
    slot_key = db.SlotItem.key(program["id"], reward["id"], "s")
    assert db.get(db.SlotItem, slot_key).shards > 1
    assert api.call("GET", f"{path}/rewards/{reward['id']}", admin)[1]["slots"][0]["booked"] == 20
    # And a booking given back frees its seat, once
    assert lifecycle.refund(made[0], "x", restock=True, release=registry.release)
    assert not lifecycle.refund(made[0], "x", restock=True, release=registry.release)
    assert api.call("GET", f"{path}/rewards/{reward['id']}", admin)[1]["slots"][0]["booked"] == 19


def test_a_large_code_pool_is_split_and_each_code_sold_once(stack, api, program):
    # Given 30 gift-card codes and 34 members
    path, admin = program["path"], program["admin"]
    members(api, program, 34)
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Card", "cost": 1})[1]
    api.call("POST", f"{path}/rewards/{reward['id']}/codes", admin, {"codes": [f"POOL-{n:02d}" for n in range(30)]})
    # When all 34 redeem at once
    made = []
    results = outcomes([lambda n=n: made.append(redemptions.create(
        program["org_id"], program["id"], f"m{n}", {"reward_id": reward["id"]}, f"g-{n}")[0]["id"]) for n in range(34)])
    # Then exactly 30 succeed, each fulfilled with its own code
    assert results == ["ok"] * 30 + ["out_of_stock"] * 4
    assert reward_item(program, reward["id"]).stock_shards > 1
    stack.pump("FulfilmentFunction")
    shown = [api.call("GET", f"{path}/redemptions/{redemption_id}", admin)[1] for redemption_id in made]
    assert {r["status"] for r in shown} == {"fulfilled"}
    assert sorted(r["fulfillment"]["code"] for r in shown) == [f"POOL-{n:02d}" for n in range(30)]
    # And codes added later land in the shards
    api.call("POST", f"{path}/rewards/{reward['id']}/codes", admin, {"codes": ["POOL-30", "POOL-31"]})
    assert api.call("GET", f"{path}/rewards/{reward['id']}", admin)[1]["stock"] == 2
