"""The counts behind the recommended catalog order: each member's new reward counted once, pairs both ways."""
from chalicelib.rewards import affinity


def test_a_redemption_new_to_its_member_counts_once_and_pairs_with_what_it_redeemed_before(program):
    pid = program["id"]
    assert affinity.count(pid, "ada", "tea") and affinity.count(pid, "ada", "scarf")
    assert not affinity.count(pid, "ada", "tea")  # again, or the stream's redelivery: nothing more
    assert affinity.count(pid, "bob", "tea") and affinity.count(pid, "bob", "mug")
    counts = affinity.read(pid)
    assert counts.redeemers == {"tea": 2, "scarf": 1, "mug": 1}
    assert counts.together == {"tea": {"scarf": 1, "mug": 1}, "scarf": {"tea": 1}, "mug": {"tea": 1}}
    assert affinity.history(pid, "ada") == {"tea", "scarf"} and affinity.history(pid, "carol") == set()


def test_a_members_catalog_in_recommended_order_puts_what_similar_members_redeemed_first(api, program):
    from given import enrol

    path, admin = program["path"], program["admin"]
    ids = {}
    for name, cost in (("Coffee", 100), ("Mug", 300), ("Tea", 100), ("Scarf", 400), ("Flight", 90_000)):
        status, reward = api.call("POST", f"{path}/rewards", admin, {"type": "experience", "cost": cost, "name": name})
        assert status == 201, reward
        ids[name] = reward["id"]
    for member, rewards in (("m1", ["Tea", "Scarf"]), ("m2", ["Tea", "Scarf"]), ("m3", ["Coffee", "Mug"]),
                            ("m4", ["Coffee", "Mug"]), ("m5", ["Coffee"]), ("ada", ["Tea"])):
        for reward in rewards:
            affinity.count(program["id"], member, ids[reward])
    enrol(api, program, "ada", points=500)

    status, page = api.call("GET", f"{path}/members/ada/catalog?order=recommended&limit=2", admin)
    assert status == 200, page
    assert [item["name"] for item in page["items"]] == ["Scarf", "Coffee"]  # what tea drinkers took, then the most taken
    status, rest = api.call("GET", f"{path}/members/ada/catalog?order=recommended&limit=2&cursor={page['next_cursor']}",
                            admin)
    assert status == 200 and [item["name"] for item in rest["items"]] == ["Tea", "Mug"]
    status, last = api.call("GET", f"{path}/members/ada/catalog?order=recommended&limit=2&cursor={rest['next_cursor']}",
                            admin)
    assert [item["name"] for item in last["items"]] == ["Flight"] and last["next_cursor"] is None  # far beyond reach

    status, error = api.call("GET", f"{path}/members/ada/catalog?order=cheapest", admin)
    assert status == 400 and error["error"]["details"]["field"] == "order"
    status, error = api.call("GET", f"{path}/members/ada/catalog?order=recommended&cursor={page['next_cursor']}x", admin)
    assert status == 400
