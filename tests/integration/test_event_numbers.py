"""A number in an event that no total could be stored with is refused as bad input (it was a 500 once a spend
tier measured it), and the next event of the member still counts."""
import os
import uuid

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]


def test_a_huge_amount_is_a_400_that_names_the_property_and_loses_nothing(api):
    # Given a program whose tiers are measured on spend
    admin = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Org {uuid.uuid4().hex[:6]}"})[1]["admin_key"]["secret"]
    program = api.call("POST", "/v1/programs", admin, {
        "name": "Shop", "earn_rules": [{"event_type": "purchase", "points": 1}],
        "tiers": [{"name": "Silver", "min_points": 100}], "tier_policy": {"measure": "spend"}})[1]
    events = f"/v1/programs/{program['id']}/events"
    # When an event carries an amount beyond what can be stored, at the top or nested
    for properties in ({"amount": 1e300}, {"order": {"lines": [{"amount": -1e120}]}}):
        status, answer = api.call("POST", events, admin, {"id": uuid.uuid4().hex, "type": "purchase", "member": "ada",
                                                          "properties": properties})
        # Then it is refused as bad input, saying which number and what is accepted
        assert status == 400 and answer["error"]["code"] == "validation_error"
        assert "numbers must be smaller than 1e100" in answer["error"]["message"]
    # And a sane amount still counts toward the tier
    status, answer = api.call("POST", events, admin, {"id": uuid.uuid4().hex, "type": "purchase", "member": "ada",
                                                      "properties": {"amount": 250}})
    assert status == 201 and answer["balance"]["tier"] == "Silver"
