"""The pure parts of a redemption's money controls: which redemptions wait for approval, what one costs a
budget, and how a budget setting is read."""
import pytest

from chalicelib.core import db
from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.core.web import parse_body
from chalicelib.earning.shapes import Budget
from chalicelib.rewards import budgets, redemptions


def program(**fields) -> db.ProgramItem:
    return db.ProgramItem("ORG#o", "PRG#p", org_id="o", program_id="p", name="P", currency_name="points",
                          locale="en", created_at="t", updated_at="t", **fields)


def reward(value=None) -> db.RewardItem:
    return db.RewardItem("PRG#p", "RWD#r", org_id="o", program_id="p", reward_id="r", reward_type="cashback",
                         name="R", cost=10, value=value, created_at="t", updated_at="t")


def test_only_redemptions_above_the_threshold_wait_for_approval():
    held = program(redemption_policy={"approval_above_points": 300})
    assert [redemptions.needs_approval(held, points) for points in (299, 300, 301)] == [False, False, True]
    assert not redemptions.needs_approval(program(), 10**9)


def test_a_redemption_costs_the_budget_its_value_times_its_quantity_in_the_budgets_currency():
    funded = program(budget={"amount": 1000, "currency": "EUR", "alert_at_percent": [50]})
    assert budgets.cost_of(funded, reward({"amount": 250, "currency": "EUR"}), 3) == 750
    assert budgets.cost_of(funded, reward(), 3) is None
    assert budgets.cost_of(program(), reward({"amount": 250, "currency": "EUR"}), 3) is None
    with pytest.raises(Conflict) as refused:
        budgets.cost_of(funded, reward({"amount": 250, "currency": "USD"}), 1)
    assert refused.value.code == "currency_mismatch"


def test_a_budget_setting_keeps_its_levels_sorted_once_and_refuses_nonsense():
    budget = parse_body(b'{"amount": 100, "currency": "EUR", "alert_at_percent": [80, 50, 80]}', Budget)
    assert budget.alert_at_percent == [50, 80]
    assert parse_body(b'{"amount": 100, "currency": "EUR"}', Budget).alert_at_percent == [50, 80, 100]
    for bad in (b'{"amount": 0, "currency": "EUR"}', b'{"amount": 1, "currency": "eur"}',
                b'{"amount": 1, "currency": "EUR", "alert_at_percent": [101]}'):
        with pytest.raises(ValidationFailed):
            parse_body(bad, Budget)


def merchandise(delivery) -> db.RedemptionItem:
    return db.RedemptionItem("RDM#r", "REDEMPTION", redemption_id="r", org_id="o", program_id="p", external_id="m",
                             reward_id="w", reward_type="merchandise", reward_name="Mug", quantity=1, points=10,
                             status="processing", delivery=delivery, created_at="t", updated_at="t")


def test_a_merchandise_shows_its_address_only_when_asked_and_when_it_has_one():
    # Given a mug with an address, one with an email only, and one redeemed before addresses were required
    address = {"name": "Ada", "line1": "1 Main St", "city": "Rome", "postal_code": "00100", "country": "IT"}
    shipped, emailed, older = merchandise({"address": address}), merchandise({"email": "a@x.io"}), merchandise(None)
    # When each is shown to a reader of addresses, and the first to a reader of none
    # Then only the address is shown, only where there is one, and never to the other reader
    assert redemptions.view(shipped)["delivery"] == {"address": address}
    assert "delivery" not in redemptions.view(emailed) and "delivery" not in redemptions.view(older)
    assert "delivery" not in redemptions.view(shipped, show_address=False)
