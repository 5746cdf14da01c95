"""The rewards catalog: rewards, their stock, and the gift-card codes behind it.

A redemption that leaves fewer than a reward's `low_stock_threshold` in stock announces it to the
webhook endpoints (`reward.low_stock`), once: the announcement is latched on the reward until a
restock (codes added, stock set) lifts it.
"""
from pynamodb.exceptions import UpdateError

from chalicelib import bookings, clock, code_vault, db, donations, ids, pagination, programs, transfers
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.transact import ConditionFailed, Tx, error_code, with_retries
from chalicelib.webhooks import events

CODES_PER_TRANSACTION = 99  # plus the stock update: DynamoDB's limit is 100 items
REQUIRED_FIELDS = ("name", "cost", "active")
LOW_STOCK_THRESHOLD = 10  # a reward's own, unless it sets one
SECRET_FIELDS = ("code", "codes")  # a fulfillment's, shown to admins and to the member's own session only


def view(reward: db.RewardItem) -> dict:
    return {"id": reward.reward_id, "type": reward.reward_type, "name": reward.name,
            "description": reward.description, "cost": int(reward.cost), "value": reward.value,
            "stock": None if reward.stock is None else int(reward.stock), "active": reward.active,
            "low_stock_threshold": low_stock_threshold(reward),
            **({"tiers": reward.tiers} if reward.tiers else {}),
            **({"slots": bookings.slots_view(reward)} if reward.slots else {}),
            **({"cancel_cutoff_hours": int(reward.cancel_cutoff_hours)} if reward.cancel_cutoff_hours is not None
               else {}),
            **({"charities": reward.charities} if reward.charities else {}),
            "created_at": reward.created_at, "updated_at": reward.updated_at}


def low_stock_threshold(reward: db.RewardItem) -> int:
    return LOW_STOCK_THRESHOLD if reward.low_stock_threshold is None else int(reward.low_stock_threshold)


def load(org_id: str, program_id: str, reward_id: str) -> db.RewardItem:
    reward = db.get(db.RewardItem, db.RewardItem.key(program_id, reward_id))
    if reward is None or reward.org_id != org_id:
        raise NotFound("No such reward.")
    return reward


def create(org_id: str, program_id: str, fields: dict) -> dict:
    programs.load(org_id, program_id)
    transfers.check_value(fields["type"], fields.get("value"))
    bookings.check_fields(fields["type"], fields)
    donations.check_fields(fields["type"], fields)
    if fields.get("slots"):
        fields["slots"] = bookings.stored_slots(fields["slots"])
    if fields["type"] == "gift_card":
        if fields.get("stock"):
            raise ValidationFailed("A gift card's stock is the number of its codes: add codes instead.",
                                   {"field": "stock"})
        fields["stock"] = 0
    now_iso = clock.iso(clock.now())
    reward_id = ids.new_id("rwd")
    reward = db.RewardItem(*db.RewardItem.key(program_id, reward_id), org_id=org_id, program_id=program_id,
                           reward_id=reward_id, reward_type=fields.pop("type"), created_at=now_iso,
                           updated_at=now_iso, **fields)
    tx = Tx()
    tx.put("reward", reward, condition=db.RewardItem.pk.does_not_exist())
    bookings.create_seats(tx, reward)
    donations.create_totals(tx, reward)
    tx.commit()
    return view(reward)


def list_active(org_id: str, program_id: str, query: dict) -> dict:
    programs.load(org_id, program_id)
    return pagination.query_page(db.RewardItem, f"PRG#{program_id}", "RWD#", query, f"rewards:{program_id}", view,
                                 filter_condition=db.RewardItem.active == True)  # noqa: E712 (a pynamodb condition)


def get(org_id: str, program_id: str, reward_id: str) -> dict:
    return view(load(org_id, program_id, reward_id))


def update(org_id: str, program_id: str, reward_id: str, changes: dict) -> dict:
    """Set only the fields given, so a concurrent redemption's stock decrement is never lost."""
    reward = load(org_id, program_id, reward_id)
    if "value" in changes:
        transfers.check_value(reward.reward_type, changes["value"])
    if "stock" in changes and reward.reward_type == "gift_card":
        raise ValidationFailed("A gift card's stock is the number of its codes: add codes instead.",
                               {"field": "stock"})
    for name in REQUIRED_FIELDS:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.", {"field": name})
    actions = [getattr(db.RewardItem, name).set(value) if value is not None else getattr(db.RewardItem, name).remove()
               for name, value in changes.items()]
    actions.append(db.RewardItem.updated_at.set(clock.iso(clock.now())))
    if "stock" in changes:
        actions.append(db.RewardItem.low_stock_since.remove())  # a restock: the next low stock is news again
    try:
        reward.update(actions=actions, condition=db.RewardItem.org_id == org_id)
    except UpdateError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            raise NotFound("No such reward.") from error
        raise
    return view(reward)


def add_codes(org_id: str, program_id: str, reward_id: str, codes: list[str]) -> dict:
    """Add gift-card codes, sealed under one data key; a code this reward has ever had (even used) counts
    as a duplicate."""
    reward = load(org_id, program_id, reward_id)
    if reward.reward_type != "gift_card":
        raise ValidationFailed("Only gift_card rewards have codes.", {"field": "reward_id"})
    unique = list(dict.fromkeys(codes))
    keys = {code: db.CodeItem.key(reward_id, code) for code in unique}
    known = set()
    for start in range(0, len(unique), 100):
        chunk = [keys[code] for code in unique[start:start + 100]]
        known.update(db.get_many(*chunk).keys())
    fresh = [code for code in unique if keys[code] not in known]
    sealer = code_vault.Sealer(scope_of(reward)) if fresh else None
    sealed = {keys[code]: sealer.seal(code) for code in fresh}
    added = 0
    for start in range(0, len(fresh), CODES_PER_TRANSACTION):
        chunk = [keys[code] for code in fresh[start:start + CODES_PER_TRANSACTION]]
        added += with_retries(lambda chunk=chunk: _add_chunk(reward, chunk, sealed))
    return {"added": added, "duplicates": len(codes) - added}


def _add_chunk(reward: db.RewardItem, keys: list[tuple[str, str]], sealed: dict) -> int:
    """Put the codes and raise the stock by as many, atomically; drop codes another upload got first."""
    now_iso = clock.iso(clock.now())
    while keys:
        tx = Tx()
        for pk, sk in keys:
            item = db.CodeItem(pk, sk, reward_id=reward.reward_id, sealed=sealed[pk, sk], added_at=now_iso,
                               gsi2pk=f"CODEPOOL#{reward.reward_id}", gsi2sk=sk)
            tx.put(f"code:{sk}", item, condition=db.CodeItem.pk.does_not_exist())
        tx.update("reward", db.RewardItem(reward.pk, reward.sk),
                  [db.RewardItem.stock.add(len(keys)), db.RewardItem.updated_at.set(now_iso),
                   db.RewardItem.low_stock_since.remove()])
        try:
            tx.commit()
            return len(keys)
        except ConditionFailed as failed:
            keys = [(pk, sk) for pk, sk in keys if f"code:{sk}" != failed.label]
    return 0


def scope_of(reward: db.RewardItem | db.RedemptionItem) -> code_vault.Scope:
    """The scope a reward's codes are sealed in (a redemption names its reward's)."""
    return code_vault.Scope(reward.org_id, reward.program_id, reward.reward_id)


def sealed_fulfillment(codes: list[db.CodeItem]) -> dict:
    """A gift card's fulfillment as stored: the codes as sealed (with their hashes), never in clear."""
    return {"type": "gift_card", "sealed": [[code.sk, code.sealed] for code in codes]}


def codes_of(redemption: db.RedemptionItem) -> list[str]:
    """The gift-card codes a redemption was fulfilled with, opened: for its admins and its member only."""
    sealed = (redemption.fulfillment or {}).get("sealed") or []
    scope = scope_of(redemption)
    return [code_vault.open_code(value, scope, hashed) for hashed, value in sealed]


def fulfillment_view(redemption: db.RedemptionItem, *, show_secrets: bool) -> dict:
    """The fulfillment as the contract shows it: `code` (the first) and `codes` to those who may see them."""
    shown = {name: value for name, value in redemption.fulfillment.items()
             if name != "sealed" and (show_secrets or name not in SECRET_FIELDS)}
    if show_secrets and redemption.fulfillment.get("sealed"):
        codes = codes_of(redemption)
        shown.update({"code": codes[0], "codes": codes})
    return shown


def announce_low_stock(reward: db.RewardItem, quantity: int) -> None:
    """After a redemption of `quantity` took from `reward` (as read before it): if fewer than the threshold
    are left and that was not announced since the last restock, latch it and tell the webhook endpoints."""
    threshold = low_stock_threshold(reward)
    if reward.stock is None or reward.low_stock_since or reward.stock - quantity >= threshold:
        return
    now_iso = clock.iso(clock.now())
    try:
        reward.update(actions=[db.RewardItem.low_stock_since.set(now_iso)],
                      condition=db.RewardItem.low_stock_since.does_not_exist() & (db.RewardItem.stock < threshold))
    except UpdateError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return  # announced by a concurrent redemption, or restocked meanwhile
        raise
    events.emit(reward.org_id, reward.program_id, "reward.low_stock", {"reward": {
        "id": reward.reward_id, "type": reward.reward_type, "name": reward.name, "stock": int(reward.stock),
        "low_stock_threshold": threshold}}, event_key=f"{reward.reward_id}:{now_iso}", occurred_at=now_iso)
