"""A program's money budget: what its rewards' values may cost in all, never overspent.

A redemption of a reward with a `value` adds value × quantity to the budget item's `used` in the
redemption's own transaction, on condition that it stays within the amount and that the program's
budget setting is still the one read, so concurrent redemptions cannot overspend it. A budget with many
redemptions' worth left is split into shards (core/shards.py), each cut from the amount it was split under:
a changed amount is carried into them before the next redemption takes from them. A refund,
rejection or cancellation takes that cost off again in the transaction that moves the redemption's
status, so once. Each `alert_at_percent` level reached is announced (webhook `budget.threshold`) once
per budget amount.
"""
from chalicelib.core import clock, db, shards
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.transact import ConditionFailed, Retry, Tx, save_if, update_if
from chalicelib.members import programs
from chalicelib.webhooks import events

NAME = "budget"  # in a transaction's failures: shards.LABEL + NAME


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


def counter(program_id: str, item: db.ProgramBudgetItem | None, count: int | None = None) -> shards.Counter | None:
    """The budget's shards (`count` of them, or as many as its item says); None while the item alone counts."""
    count = count or (int(item.shards) if item is not None and item.shards else None)
    return shards.Counter(*db.ProgramBudgetItem.key(program_id), count, "shards", NAME) if count else None


def consume(tx: Tx, program: db.ProgramItem, budget_item: db.ProgramBudgetItem | None, cost: int,
            key: str) -> int | None:
    """Add `cost` to the budget within `tx`; 409 budget_exceeded if it would pass the amount. A split budget is
    taken from `key`'s shard (when that fails, `after_failure` decides). The shards it was taken from, if any."""
    amount = int(program.budget["amount"])
    tx.check("program", program, condition=db.ProgramItem.updated_at == program.updated_at)
    split = counter(program.program_id, budget_item)
    if split is not None:
        shards.take(tx, split, key, cost, limit=amount)
        return split.count
    used = int(budget_item.used) if budget_item else 0
    if used + cost > amount:
        raise exceeded(program, used, cost)
    if shards.count_for(amount - used, cost) > 1:
        _split(program, budget_item, cost)
        raise Retry()  # read it again, split
    if budget_item is None:
        _create(program.program_id)
    tx.update(shards.LABEL + NAME, db.ProgramBudgetItem(*db.ProgramBudgetItem.key(program.program_id)),
              [db.ProgramBudgetItem.used.add(cost)],
              condition=(db.ProgramBudgetItem.used <= amount - cost) & db.ProgramBudgetItem.shards.does_not_exist())
    return None


def exceeded(program: db.ProgramItem, used: int, cost: int) -> Conflict:
    amount, currency = int(program.budget["amount"]), program.budget["currency"]
    return Conflict("This redemption would exceed the program's budget.",
                    {"amount": amount, "used": used, "left": max(0, amount - used), "cost": cost,
                     "currency": currency}, code="budget_exceeded")


def after_failure(program: db.ProgramItem, budget_item: db.ProgramBudgetItem | None, cost: int,
                  key: str) -> Exception:
    """What a failed take of the budget means: 409 budget_exceeded when the whole budget, read at one instant, has
    less than `cost` left; otherwise another try (its shard refilled, or the budget read anew)."""
    split = counter(program.program_id, budget_item)
    if split is None:
        return Retry()  # the item moved on (or was split meanwhile): decide again on fresh data
    seen = shards.make_room(split, key, cost, limit=int(program.budget["amount"]))
    return exceeded(program, int(budget_item.used) + seen.taken, cost) if seen.left < cost else Retry()


def _split(program: db.ProgramItem, item: db.ProgramBudgetItem | None, cost: int) -> None:
    """Cut what the budget has left into shards, on condition nobody used it meanwhile."""
    amount, used = int(program.budget["amount"]), int(item.used) if item else 0
    split = counter(program.program_id, None, shards.count_for(amount - used, cost))
    tx = Tx()
    shards.put_all(tx, split, amount - used, limit=amount)
    if item is None:
        tx.put("budget", db.ProgramBudgetItem(*db.ProgramBudgetItem.key(program.program_id), used=0,
                                              shards=split.count), condition=db.ProgramBudgetItem.pk.does_not_exist())
    else:
        tx.update("budget", db.ProgramBudgetItem(item.pk, item.sk), [db.ProgramBudgetItem.shards.set(split.count)],
                  condition=(db.ProgramBudgetItem.used == used) & db.ProgramBudgetItem.shards.does_not_exist())
    try:
        tx.commit()
    except ConditionFailed:
        pass  # split or used by another redemption first


def release(tx: Tx, redemption: db.RedemptionItem) -> None:
    """Give a redemption's cost back within `tx` (the one that moves its status, so once): into the shards it came
    from, or, for a redemption from before its budget was split, wherever the budget is now."""
    if not redemption.budget_cost:
        return
    cost, key = int(redemption.budget_cost), redemption.redemption_id
    split = counter(redemption.program_id, None, redemption.budget_shards and int(redemption.budget_shards))
    if split is None:
        split = counter(redemption.program_id,
                        db.get(db.ProgramBudgetItem, db.ProgramBudgetItem.key(redemption.program_id)))
    if split is not None:
        shards.give(tx, split, key, cost)
        return
    tx.update(shards.LABEL + NAME, db.ProgramBudgetItem(*db.ProgramBudgetItem.key(redemption.program_id)),
              [db.ProgramBudgetItem.used.add(-cost)],
              condition=db.ProgramBudgetItem.shards.does_not_exist())  # split meanwhile: a retry gives to a shard


def _create(program_id: str) -> None:
    save_if(db.ProgramBudgetItem(*db.ProgramBudgetItem.key(program_id), used=0),
            db.ProgramBudgetItem.pk.does_not_exist())  # False: a concurrent redemption made it first


def used_by(program_id: str, item: db.ProgramBudgetItem | None) -> int:
    """What the budget has paid for: its item's count, and its shards' once split."""
    used = int(item.used) if item else 0
    split = counter(program_id, item)
    return used + shards.totals([split])[split.pk, split.head_sk].taken if split else used


def view(org_id: str, program_id: str) -> dict:
    program = programs.load(org_id, program_id)
    if not program.budget:
        raise NotFound("This program has no budget.")
    return _state(program, db.get(db.ProgramBudgetItem, db.ProgramBudgetItem.key(program_id)))


def _state(program: db.ProgramItem, item: db.ProgramBudgetItem | None) -> dict:
    amount, used = int(program.budget["amount"]), used_by(program.program_id, item)
    return {"amount": amount, "currency": program.budget["currency"], "used": used, "left": max(0, amount - used),
            "alert_at_percent": program.budget.get("alert_at_percent") or []}


def announce_thresholds(program: db.ProgramItem) -> list[int]:
    """After a redemption used the budget: announce each level now reached and not yet announced for this
    amount (latched on the budget item first, so concurrent redemptions announce it once); the levels told."""
    if not program.budget or not program.budget.get("alert_at_percent"):
        return []  # no level to announce: nothing to read
    item = db.get(db.ProgramBudgetItem, db.ProgramBudgetItem.key(program.program_id))
    if item is None:
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
