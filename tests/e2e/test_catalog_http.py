"""A member's own catalog end to end: the local stack over HTTP, its partner-facing event route, its
fulfilment queue and its SES outbox. Rewards kept for a tier or a segment, names in the member's
language, and what it may redeem and can afford, as the member's session sees it while its standing
changes."""
import pytest
import requests

from given_http import add_reward, assert_ledger_adds_up, enrol, redemption
from laurel_http import new_tenant

GOLD_ONLY = {"tiers": ["Gold"]}
TEAM_ENG = {"segment": {"attributes": {"team": "eng"}}}


@pytest.fixture(scope="module")
def shelf(http, stack):
    """A program with Silver (1000) and Gold (5000) tiers, Lia (Italian, team ops, 900 beans) and four rewards:
    a coffee with an Italian name, a Gold lounge, an engineers' hoodie and a bike beyond her points."""
    tenant = new_tenant(http, stack.root_key)
    email = f"lia-{tenant['program_id'][-8:]}@example.com"
    enrol(http, tenant, "lia", 900, email=email, locale="it-IT", attributes={"team": "ops"})
    rewards = {
        "coffee": add_reward(http, tenant, type="experience", name="Free coffee", cost=100,
                             translations={"it": {"name": "Caffè offerto", "description": "Un caffè a scelta"}}),
        "lounge": add_reward(http, tenant, type="experience", name="Lounge", cost=300, **GOLD_ONLY),
        "hoodie": add_reward(http, tenant, type="experience", name="Hoodie", cost=200, **TEAM_ENG),
        "bike": add_reward(http, tenant, type="experience", name="Bike", cost=20_000)}
    session = http.call("POST", f"{tenant['path']}/members/lia/sessions", tenant["admin"], {"ttl_seconds": 3600})
    assert session.status == 201, session
    return {**tenant, "email": email, "rewards": rewards, "session": session.body["token"]}


def her_catalog(http, shelf, query: str = "") -> dict:
    """Lia's catalog as her own session reads it: name -> (eligible, reasons, affordable, points_short)."""
    page = http.call("GET", f"{shelf['path']}/members/lia/catalog{query}", shelf["session"])
    assert page.status == 200 and page.body["next_cursor"] is None, page
    return {item["name"]: (item["eligible"], item["ineligible_reasons"], item["affordable"], item["points_short"])
            for item in page.body["items"]}


def redeem(http, shelf, reward: str, key: str):
    return http.call("POST", f"{shelf['path']}/members/lia/redemptions", shelf["session"],
                     {"reward_id": shelf["rewards"][reward]["id"]}, headers={"Idempotency-Key": key})


def test_a_members_catalog_follows_her_tier_segment_and_points_in_her_language(http, stack, shelf):
    # Given Lia, no tier yet, of team ops, with 900 beans
    # When she reads her catalog through her own session
    # Then it is in Italian where the reward has it, and says what she may and can redeem
    assert her_catalog(http, shelf) == {
        "Caffè offerto": (True, [], True, 0), "Lounge": (False, ["tier"], True, 0),
        "Hoodie": (False, ["segment"], True, 0), "Bike": (True, [], False, 19_100)}
    assert her_catalog(http, shelf, "?eligible=true&affordable=true") == {"Caffè offerto": (True, [], True, 0)}

    # When she tries the Gold lounge and the engineers' hoodie anyway
    refused = [redeem(http, shelf, "lounge", "lia-lounge-early"), redeem(http, shelf, "hoodie", "lia-hoodie-early")]
    # Then each is 409 not_eligible naming why, and nothing is taken
    assert [(r.status, r.code, r.body["error"]["details"]["reasons"]) for r in refused] == [
        (409, "not_eligible", ["tier"]), (409, "not_eligible", ["segment"])]
    assert assert_ledger_adds_up(http, shelf, "lia")["available"] == 900

    # When she moves to team eng and a 5,000.00 purchase takes her to Gold
    moved = http.call("PUT", f"{shelf['path']}/members/lia", shelf["admin"], {"attributes": {"team": "eng"}})
    assert moved.status == 200, moved
    earned = http.call("POST", f"{shelf['path']}/events", shelf["admin"], {
        "id": "lia-big-order", "type": "purchase", "member": "lia", "properties": {"amount": 500_000}})
    assert earned.status == 201, earned
    now = assert_ledger_adds_up(http, shelf, "lia")
    assert (now["tier"], now["available"]) == ("Gold", 5900)
    # Then the lounge and the hoodie open to her at once, and the bike is 14,100 beans away
    assert her_catalog(http, shelf) == {
        "Caffè offerto": (True, [], True, 0), "Lounge": (True, [], True, 0),
        "Hoodie": (True, [], True, 0), "Bike": (True, [], False, 14_100)}

    # When she redeems the lounge and the coffee from her session, and fulfilment runs
    made = [redeem(http, shelf, "lounge", "lia-lounge"), redeem(http, shelf, "coffee", "lia-coffee")]
    assert [r.status for r in made] == [202, 202], made
    assert stack.drain()
    # Then both are fulfilled, the points went once, and her email names the coffee as she reads it
    assert [redemption(http, shelf, r.body["id"])["status"] for r in made] == ["fulfilled", "fulfilled"]
    assert assert_ledger_adds_up(http, shelf, "lia")["available"] == 5900 - 300 - 100
    sent = requests.get(f"{stack.control_url}/sent", timeout=10)
    sent.raise_for_status()
    told = " ".join(e["subject"] + e["body"] for e in sent.json()["emails"] if shelf["email"] in e["to"])
    assert "Caffè offerto" in told and "Free coffee" not in told
