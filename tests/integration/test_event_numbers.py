"""An event amount past what a DynamoDB number holds counts toward a spend tier like any other (it was a 500
once such a tier measured it: the tier history could not store the measure)."""
import os
import uuid

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]


def test_a_huge_amount_reaches_a_spend_tier_and_its_history_records_it(api):
    # Given a program whose tiers are measured on spend
    admin = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Org {uuid.uuid4().hex[:6]}"})[1]["admin_key"]["secret"]
    program = api.call("POST", "/v1/programs", admin, {
        "name": "Shop", "earn_rules": [{"event_type": "purchase", "points": 1}],
        "tiers": [{"name": "Silver", "min_points": 100}], "tier_policy": {"measure": "spend"}})[1]
    path = f"/v1/programs/{program['id']}"
    # When a purchase carries an amount no DynamoDB number can hold
    status, answer = api.call("POST", f"{path}/events", admin, {"id": uuid.uuid4().hex, "type": "purchase",
                                                                 "member": "ada", "properties": {"amount": 1e300}})
    # Then it earns and lifts the member to the tier, and the tier history records the measure at its largest
    assert status == 201 and answer["balance"]["tier"] == "Silver", answer
    history = api.call("GET", f"{path}/members/ada/tier-history", admin)[1]["items"]
    assert [(change["change"], change["to"]) for change in history] == [("up", "Silver")]
    assert 1e125 < history[0]["qualifying"] < 1e126
