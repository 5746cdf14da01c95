"""A program's money budget: what its rewards' values may cost in all, never overspent.

A redemption of a reward with a `value` adds value × quantity to the budget item's `used` in the
redemption's own transaction, on condition that it stays within the amount and that the program's
budget setting is still the one read, so concurrent redemptions cannot overspend it. A refund,
rejection or cancellation takes that cost off again in the transaction that moves the redemption's
status, so once. Each `alert_at_percent` level reached is announced (webhook `budget.threshold`) once
per budget amount.
"""
from chalicelib.core import clock, db
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.transact import Tx, save_if, update_if
from chalicelib.members import programs
from chalicelib.webhooks import events


def cost_of(program: db.ProgramItem, reward: db.RewardItem, quantity: int) -> int | None:
    """What the redemption takes from the budget (minor units), or None if it takes nothing."""
    budget = program.budget
    if not budget or not reward.value or "amount" not in reward.value:  # a partner transfer's value is not money
        return None
    if reward.value["currency"] != budget["currency"]:
        raise Conflict("This reward's value is in another currency than the program's budget.",
                       {"reward_id": reward.reward_id, "currency": reward.value["currency"],
                        "budget_currency": budget["currency"]}, code="currency_mismatch")
    return int(reward.value["amount"]) * quantity


def consume(tx: Tx, program: db.ProgramItem, budget_item: db.ProgramBudgetItem | None, cost: int) -> None:
    """Add `cost` to the budget within `tx`; 409 budget_exceeded if it would pass the amount."""
    amount, currency = int(program.budget["amount"]), program.budget["currency"]
    used = int(budget_item.used) if budget_item else 0
    if used + cost > amount:
        raise Conflict("This redemption would exceed the program's budget.",
                       {"amount": amount, "used": used, "left": max(0, amount - used), "cost": cost,
                        "currency": currency}, code="budget_exceeded")
    if budget_item is None:
        _create(program.program_id)
    tx.update("budget", db.ProgramBudgetItem(*db.ProgramBudgetItem.key(program.program_id)),
              [db.ProgramBudgetItem.used.add(cost)], condition=db.ProgramBudgetItem.used <= amount - cost)
    tx.check("program", program, condition=db.ProgramItem.updated_at == program.updated_at)


def release(tx: Tx, redemption: db.RedemptionItem) -> None:
    """Give a redemption's cost back within `tx` (the one that moves its status, so once)."""
    if redemption.budget_cost:
        tx.update("budget", db.ProgramBudgetItem(*db.ProgramBudgetItem.key(redemption.program_id)),
                  [db.ProgramBudgetItem.used.add(-int(redemption.budget_cost))])


def _create(program_id: str) -> None:
    save_if(db.ProgramBudgetItem(*db.ProgramBudgetItem.key(program_id), used=0),
            db.ProgramBudgetItem.pk.does_not_exist())  # False: a concurrent redemption made it first


def view(org_id: str, program_id: str) -> dict:
    program = programs.load(org_id, program_id)
    if not program.budget:
        raise NotFound("This program has no budget.")
    return _state(program, db.get(db.ProgramBudgetItem, db.ProgramBudgetItem.key(program_id)))


def _state(program: db.ProgramItem, item: db.ProgramBudgetItem | None) -> dict:
    amount, used = int(program.budget["amount"]), int(item.used) if item else 0
    return {"amount": amount, "currency": program.budget["currency"], "used": used, "left": max(0, amount - used),
            "alert_at_percent": program.budget.get("alert_at_percent") or []}


def announce_thresholds(program: db.ProgramItem) -> list[int]:
    """After a redemption used the budget: announce each level now reached and not yet announced for this
    amount (latched on the budget item first, so concurrent redemptions announce it once); the levels told."""
    item = db.get(db.ProgramBudgetItem, db.ProgramBudgetItem.key(program.program_id))
    if item is None or not program.budget:
        return []
    state = _state(program, item)
    told = []
    for percent in state["alert_at_percent"]:
        if state["used"] * 100 < percent * state["amount"]:
            break
        mark = f"{state['amount']}:{percent}"
        if mark in (item.alerted or ()):
            continue
        if not update_if(item, [db.ProgramBudgetItem.alerted.add({mark})],
                         db.ProgramBudgetItem.alerted.does_not_exist() | ~db.ProgramBudgetItem.alerted.contains(mark)):
            continue  # a concurrent redemption announced it
        now_iso = clock.iso(clock.now())
        events.emit(program.org_id, program.program_id, "budget.threshold", {"budget": {**state, "percent": percent}},
                    event_key=f"{program.program_id}:{mark}", occurred_at=now_iso)
        told.append(percent)
    return told
