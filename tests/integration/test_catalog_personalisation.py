"""A personal catalog: rewards for a segment of members, names and descriptions in the reader's language,
and each member's own view of what it may redeem and can afford."""
import uuid

import pytest
from given import enrol
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses import ses_backends

VIP = {"attributes": {"vip": True}}
FRENCH = {"fr": {"name": "Café offert", "description": "Un café, n'importe lequel"}, "de": {"name": "Gratis Kaffee"}}


def add(api, program, body) -> dict:
    status, reward = api.call("POST", f"{program['path']}/rewards", program["admin"],
                              {"type": "experience", "cost": 100, **body})
    assert status == 201, reward
    return reward


def session(api, program, member) -> str:
    status, opened = api.call("POST", f"{program['path']}/members/{member}/sessions", program["admin"],
                              {"ttl_seconds": 600})
    assert status == 201
    return opened["token"]


def key(api, program, role) -> str:
    status, made = api.call("POST", "/v1/api-keys", program["admin"], {"name": role, "role": role})
    assert status == 201
    return made["secret"]


def catalog(api, program, member, caller, query="") -> tuple[int, dict]:
    return api.call("GET", f"{program['path']}/members/{member}/catalog{query}", caller)


def names(page) -> list[str]:
    return sorted(item["name"] for item in page["items"])


@pytest.fixture
def shelf(api, program):
    """Ada (French Canadian, 1000 points, not a VIP), Bea (a VIP with 1000 points) and four rewards."""
    enrol(api, program, "ada", points=1000, locale="fr-CA", attributes={"vip": False})
    enrol(api, program, "bea", points=1000, locale="de", attributes={"vip": True}, key="welcome-bea")
    rewards = {"coffee": add(api, program, {"name": "Free coffee", "description": "Any coffee", "translations": FRENCH}),
               "lounge": add(api, program, {"name": "Lounge", "cost": 300, "segment": VIP}),
               "bike": add(api, program, {"name": "Bike", "cost": 5000}),
               "mug": add(api, program, {"name": "Mug", "stock": 0})}
    return {**program, "rewards": rewards}


def test_a_member_outside_a_rewards_segment_is_refused_and_nothing_is_taken(api, shelf):
    # Given the VIP lounge (300 points, a segment of VIPs), Ada who is no VIP and Bea who is
    path, admin, lounge = shelf["path"], shelf["admin"], shelf["rewards"]["lounge"]
    assert lounge["segment"] == VIP
    # When both redeem it
    ada = api.call("POST", f"{path}/members/ada/redemptions", admin, {"reward_id": lounge["id"]},
                   {"Idempotency-Key": "ada-lounge"})
    bea = api.call("POST", f"{path}/members/bea/redemptions", admin, {"reward_id": lounge["id"]},
                   {"Idempotency-Key": "bea-lounge"})
    # Then Ada's is 409 not_eligible naming the segment, and takes nothing; Bea's goes through
    assert ada[0] == 409 and ada[1]["error"]["code"] == "not_eligible"
    assert ada[1]["error"]["details"] == {"reward_id": lounge["id"], "reasons": ["segment"]}
    assert api.call("GET", f"{path}/members/ada/balance", admin)[1]["available"] == 1000
    assert [t["kind"] for t in api.call("GET", f"{path}/members/ada/transactions", admin)[1]["items"]] == ["adjust"]
    assert bea[0] == 202
    assert api.call("GET", f"{path}/members/bea/balance", admin)[1]["available"] == 700


def test_a_segment_can_be_changed_and_cleared_and_then_is_for_everyone(api, shelf):
    # Given the VIP lounge
    path, admin, lounge = shelf["path"], shelf["admin"], shelf["rewards"]["lounge"]
    # When its segment is cleared
    status, changed = api.call("PATCH", f"{path}/rewards/{lounge['id']}", admin, {"segment": None})
    # Then it shows none, and Ada may redeem it
    assert status == 200 and "segment" not in changed
    assert api.call("POST", f"{path}/members/ada/redemptions", admin, {"reward_id": lounge["id"]},
                    {"Idempotency-Key": "ada-lounge"})[0] == 202


def test_a_member_session_sees_its_own_catalog_in_its_language(api, shelf):
    # Given Ada's session (Ada reads fr-CA; the program's locale is en)
    token = session(api, shelf, "ada")
    # When Ada reads its catalog
    status, page = catalog(api, shelf, "ada", token)
    # Then every active reward is there, the coffee in French (from fr), with what Ada may and can redeem
    assert status == 200 and page["next_cursor"] is None
    by_cost = {item["id"]: item for item in page["items"]}
    coffee = by_cost[shelf["rewards"]["coffee"]["id"]]
    assert (coffee["name"], coffee["description"], coffee["locale"]) == (
        "Café offert", "Un café, n'importe lequel", "fr")
    assert "translations" not in coffee and "segment" not in by_cost[shelf["rewards"]["lounge"]["id"]]
    seen = {item["name"]: (item["eligible"], item["ineligible_reasons"], item["affordable"], item["points_short"])
            for item in page["items"]}
    assert seen == {"Café offert": (True, [], True, 0), "Lounge": (False, ["segment"], True, 0),
                    "Bike": (True, [], False, 4000), "Mug": (False, ["out_of_stock"], True, 0)}


def test_the_rewards_list_and_a_reward_are_localized_for_the_reader(api, shelf):
    # Given the coffee with French and German translations, Ada's session and the admin
    path, admin, coffee = shelf["path"], shelf["admin"], shelf["rewards"]["coffee"]
    token = session(api, shelf, "ada")
    # When Ada lists the rewards, Ada asks for German, and the admin reads the coffee with and without a locale
    listed = api.call("GET", f"{path}/rewards", token)[1]["items"]
    german = api.call("GET", f"{path}/rewards/{coffee['id']}?locale=de-AT", token)[1]
    as_admin = api.call("GET", f"{path}/rewards/{coffee['id']}", admin)[1]
    admin_french = api.call("GET", f"{path}/rewards/{coffee['id']}?locale=fr", admin)[1]
    # Then Ada reads French (its own), German when asked (the name only: the description stays the reward's),
    # and the admin the reward's own (the program's en has no translation) with every translation
    assert next(item for item in listed if item["id"] == coffee["id"])["name"] == "Café offert"
    assert (german["name"], german["description"], german["locale"]) == ("Gratis Kaffee", "Any coffee", "de")
    assert (as_admin["name"], as_admin["locale"], as_admin["translations"]) == ("Free coffee", None, FRENCH)
    assert (admin_french["name"], admin_french["locale"]) == ("Café offert", "fr")
    # And a malformed locale is a 400 naming it
    status, refused = api.call("GET", f"{path}/rewards?locale=fr_CA", token)
    assert status == 400 and refused["error"]["details"]["field"] == "locale"


def test_the_catalog_filters_by_eligible_and_affordable(api, shelf):
    # Given Ada's four rewards (coffee, lounge for VIPs, bike beyond its points, mug out of stock)
    admin = shelf["admin"]
    # When the admin filters Ada's catalog
    eligible = catalog(api, shelf, "ada", admin, "?eligible=true")[1]
    ineligible = catalog(api, shelf, "ada", admin, "?eligible=false")[1]
    affordable = catalog(api, shelf, "ada", admin, "?affordable=true")[1]
    both = catalog(api, shelf, "ada", admin, "?eligible=true&affordable=true&locale=en")[1]
    # Then each keeps what matches, in Ada's French unless the locale asked for is another
    assert names(eligible) == ["Bike", "Café offert"]
    assert names(ineligible) == ["Lounge", "Mug"]
    assert names(affordable) == ["Café offert", "Lounge", "Mug"]
    assert names(both) == ["Free coffee"]
    # And a filter that is neither true nor false is a 400 naming it
    status, refused = catalog(api, shelf, "ada", admin, "?affordable=yes")
    assert status == 400 and refused["error"]["details"]["field"] == "affordable"


def test_the_catalog_pages_with_its_own_cursors(api, shelf):
    # Given Ada's four rewards
    admin, seen, query = shelf["admin"], [], "?limit=1"
    # When the admin reads Ada's catalog a reward at a time
    while True:
        status, page = catalog(api, shelf, "ada", admin, query)
        assert status == 200 and len(page["items"]) <= 1
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        query = f"?limit=1&cursor={page['next_cursor']}"
    # Then it sees each once, with the admin's view (the segment and translations too)
    assert sorted(item["name"] for item in seen) == ["Bike", "Café offert", "Lounge", "Mug"]
    assert next(item for item in seen if item["name"] == "Lounge")["segment"] == VIP
    assert next(item for item in seen if item["name"] == "Café offert")["translations"] == FRENCH
    # And a cursor of Ada's is refused for Bea's catalog and for the rewards list
    cursor = catalog(api, shelf, "ada", admin, "?limit=1")[1]["next_cursor"]
    assert catalog(api, shelf, "bea", admin, f"?cursor={cursor}")[0] == 400
    assert api.call("GET", f"{shelf['path']}/rewards?cursor={cursor}", admin)[0] == 400


def test_only_its_own_member_and_the_catalogs_readers_see_a_members_catalog(api, shelf):
    # Given Bea's session, a store key, an analyst key and a partner key
    bea = session(api, shelf, "bea")
    store, analyst, partner = (key(api, shelf, role) for role in ("store", "analyst", "partner"))
    # When each reads Ada's catalog (and Bea her own)
    # Then another member's session is 404 revealing nothing, a partner 403; store and analyst read it
    status, refused = catalog(api, shelf, "ada", bea)
    assert status == 404 and refused["error"]["code"] == "not_found"
    assert catalog(api, shelf, "ada", partner)[0] == 403
    assert catalog(api, shelf, "ada", store)[0] == 200
    assert "segment" in next(item for item in catalog(api, shelf, "ada", analyst)[1]["items"]
                             if item["name"] == "Lounge")
    # And Bea reads hers in German, the lounge open to her as a VIP
    own = catalog(api, shelf, "bea", bea)[1]["items"]
    assert {item["name"]: item["eligible"] for item in own if item["name"] in ("Gratis Kaffee", "Lounge")} == {
        "Gratis Kaffee": True, "Lounge": True}
    # And an unknown member is 404
    assert catalog(api, shelf, "nobody", shelf["admin"])[0] == 404


def test_the_member_is_told_of_its_reward_by_the_name_it_reads(stack, api, shelf):
    # Given Carla reads Italian, and the coffee has an Italian name
    path, admin, coffee = shelf["path"], shelf["admin"], shelf["rewards"]["coffee"]
    email = f"carla-{uuid.uuid4().hex[:8]}@example.com"
    enrol(api, shelf, "carla", points=500, locale="it", email=email, key="welcome-carla")
    translations = {**FRENCH, "it": {"name": "Caffè offerto"}}
    assert api.call("PATCH", f"{path}/rewards/{coffee['id']}", admin, {"translations": translations})[0] == 200
    # When she redeems it and is told
    status, made = api.call("POST", f"{path}/members/carla/redemptions", admin, {"reward_id": coffee["id"]},
                            {"Idempotency-Key": "carla-coffee"})
    assert status == 202, made
    stack.pump("FulfilmentFunction")
    stack.pump("EmailDeliveryFunction")
    # Then her Italian email names the reward as she reads it in the catalog
    (told,) = [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
               if email in m.destinations["ToAddresses"]]
    assert "Caffè offerto" in told.subject + told.body and "Free coffee" not in told.subject + told.body
