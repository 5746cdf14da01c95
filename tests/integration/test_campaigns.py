"""Campaigns: promotions layered on the program's rules, for a while, never past their budget."""
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from chalicelib.core import clock
from chalicelib.earning import earn

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]


def program_with_campaign(api, budget=None, starts=-1, ends=1):
    org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Promo {uuid.uuid4().hex[:6]}"})[1]
    admin = org["admin_key"]["secret"]
    program = api.call("POST", "/v1/programs", admin, {
        "name": "Shop", "earn_rules": [{"event_type": "purchase", "points": 10}],
        "tiers": [{"name": "Gold", "min_points": 1, "multiplier": 2.0}]})[1]
    path = f"/v1/programs/{program['id']}"
    now = clock.now()
    status, campaign = api.call("POST", f"{path}/campaigns", admin, {
        "name": "Double weekend", "starts_at": clock.iso(now + timedelta(hours=starts)),
        "ends_at": clock.iso(now + timedelta(hours=ends)), "budget_points": budget,
        "earn_rules": [{"event_type": "purchase", "points": 25,
                        "conditions": {"field": "property.category", "equals": "shoes"}}]})
    assert status == 201, campaign
    return {"org_id": org["id"], "id": program["id"], "admin": admin, "path": path, "campaign": campaign}


def purchase(api, program, event_id, member="lea", category="shoes"):
    return api.call("POST", f"{program['path']}/events", program["admin"],
                    {"id": event_id, "type": "purchase", "member": member, "properties": {"category": category}})[1]


def test_campaign_points_add_to_the_programs_without_the_tier_multiplier(stack, api):
    program = program_with_campaign(api)
    assert purchase(api, program, "p-1")["points"] == 10 + 25  # not Gold yet
    assert purchase(api, program, "p-2")["points"] == 10 * 2 + 25  # Gold doubles the program's 10 only
    assert purchase(api, program, "p-3", category="hats")["points"] == 20  # the campaign's condition fails
    listed = api.call("GET", f"{program['path']}/campaigns", program["admin"])[1]["items"]
    assert listed[0]["spent_points"] == 50


def test_a_campaign_outside_its_window_or_stopped_awards_nothing(stack, api):
    future = program_with_campaign(api, starts=2, ends=3)
    assert purchase(api, future, "f-1")["points"] == 10
    running = program_with_campaign(api)
    stopped = api.call("PATCH", f"{running['path']}/campaigns/{running['campaign']['id']}", running["admin"],
                       {"active": False})
    assert stopped[0] == 200 and stopped[1]["active"] is False
    assert purchase(api, running, "s-1")["points"] == 10


def test_a_budget_is_never_overspent_even_at_once(stack, api):
    # Given a campaign with a budget of 60 points (two full awards and a part of a third)
    program = program_with_campaign(api, budget=60)
    calls = [lambda n=n: earn.record_event(program["org_id"], program["id"],
                                        {"id": f"c-{n}", "type": "purchase", "member": f"m{n}",
                                         "properties": {"category": "shoes"}}) for n in range(8)]
    # When eight members buy at once
    with ThreadPoolExecutor(8) as pool:
        awards = [result[0]["points"] - 10 for result in pool.map(lambda call: call(), calls)]
    # Then the campaign gave exactly its budget, and the program's own points were never cut
    assert sum(awards) == 60 and sorted(awards)[-2:] == [25, 25]
    assert api.call("GET", f"{program['path']}/campaigns", program["admin"])[1]["items"][0]["spent_points"] == 60
