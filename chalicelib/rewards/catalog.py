"""The rewards catalog: rewards, their stock, and the gift-card codes behind it.

A redemption that leaves fewer than a reward's `low_stock_threshold` in stock announces it to the
webhook endpoints (`reward.low_stock`), once: the announcement is latched on the reward until a
restock (codes added, stock set) lifts it.

Reads are localized (locales.py): a reward's `translations` give its name and description in other
languages. A reward's `tiers` and `segment` say who may redeem it; a member's own view of the catalog
says, for each active reward, whether it may (eligibility.py) and whether it has the points.
"""
from dataclasses import dataclass
from typing import Optional

from chalicelib.core import clock, db, ids, locales, pagination, shards, vault
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.transact import ConditionFailed, Retry, Tx, update_if, with_retries
from chalicelib.members import account, profiles, programs, segments
from chalicelib.rewards import affinity, eligibility, recommend, stock
from chalicelib.rewards.kinds import experience, gift_card, registry
from chalicelib.webhooks import events

CODES_PER_TRANSACTION = 100 - 1 - shards.MAX_SHARDS  # plus the reward and its stock's shards: DynamoDB's limit
REQUIRED_FIELDS = ("name", "cost", "active")
LOW_STOCK_THRESHOLD = 10  # a reward's own, unless it sets one
RECOMMENDED_MAX = 500  # the active rewards a member's recommended order ranks
SECRET_FIELDS = ("code", "codes")  # a fulfillment's, shown to admins and to the member's own session only


@dataclass(frozen=True)
class Reader:
    """Who reads the catalog: staff (admins, analysts) see a reward's segment and translations whole; a
    member session's reads are in its member's language unless `locale` (the `?locale=`) says otherwise."""

    staff: bool
    external_id: Optional[str] = None  # a member session's own member
    locale: Optional[str] = None


def view(reward: db.RewardItem, tag: Optional[str] = None, *, staff: bool = True) -> dict:
    """The reward read in `tag` (None: its own name and description)."""
    return {"id": reward.reward_id, "type": reward.reward_type,
            **locales.localized(reward.name, reward.description, reward.translations, tag),
            "cost": int(reward.cost), "value": reward.value,
            "stock": None if reward.stock is None else int(reward.stock), "active": reward.active,
            "low_stock_threshold": low_stock_threshold(reward),
            **({"tiers": reward.tiers} if reward.tiers else {}),
            **({"segment": reward.segment} if staff and reward.segment else {}),
            **({"translations": reward.translations} if staff and reward.translations else {}),
            **({"slots": experience.slots_view(reward)} if reward.slots else {}),
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
    kind = registry.of(fields["type"])
    registry.check_fields(fields["type"], fields)
    if fields.get("slots"):
        fields["slots"] = experience.stored_slots(fields["slots"])
    if "segment" in fields:
        fields["segment"] = segments.stored(fields["segment"])
    if kind.stock_is_codes:
        if fields.get("stock"):
            raise stock_refused()
        fields["stock"] = 0
    now_iso = clock.iso(clock.now())
    reward_id = ids.new_id("rwd")
    reward = db.RewardItem(*db.RewardItem.key(program_id, reward_id), org_id=org_id, program_id=program_id,
                           reward_id=reward_id, reward_type=fields.pop("type"), created_at=now_iso,
                           updated_at=now_iso, **fields)
    tx = Tx()
    tx.put("reward", reward, condition=db.RewardItem.pk.does_not_exist())
    kind.create_items(tx, reward)
    tx.commit()
    return view(reward)


def _read(org_id: str, program_id: str, external_id: Optional[str] = None, reward_id: Optional[str] = None
          ) -> tuple[db.ProgramItem, Optional[db.MemberItem], Optional[db.RewardItem]]:
    """The program (the organisation's), and the member (with its profile) and reward asked for, in one
    BatchGetItem."""
    program_key = db.ProgramItem.key(org_id, program_id)
    member_keys = profiles.keys(program_id, external_id) if external_id else ()
    reward_key = db.RewardItem.key(program_id, reward_id) if reward_id else None
    found = db.get_many(*[key for key in (program_key, *member_keys, reward_key) if key])
    if program_key not in found:
        raise NotFound("No such program.")
    reward = found.get(reward_key)
    if reward_id and (reward is None or reward.org_id != org_id):
        raise NotFound("No such reward.")
    member = profiles.member_from(found, program_id, external_id) if external_id else None
    return found[program_key], member, reward


def _tag(reader: Reader, program: db.ProgramItem, member: Optional[db.MemberItem]) -> Optional[str]:
    return locales.wanted(reader.locale, db.profile_of(member).locale if member else None, program.locale)


def _active_page(program_id: str, query: dict, scope: str, entry) -> dict:
    """One page of the active rewards, each shown by `entry` with its live stock (stock.refresh)."""
    page = pagination.query_page(db.RewardItem, f"PRG#{program_id}", "RWD#", query, scope, lambda reward: reward,
                                 filter_condition=db.RewardItem.active == True)  # noqa: E712 (a pynamodb condition)
    stock.refresh(page["items"])
    return {**page, "items": [entry(reward) for reward in page["items"]]}


def _recommended_page(program_id: str, external_id: str, available: int, query: dict, entry) -> dict:
    """One page of the active rewards best first for this member (rewards/recommend.py): the program's
    active rewards (up to RECOMMENDED_MAX), its redemption counts and the member's history, three reads."""
    scope = f"catalog-recommended:{program_id}:{external_id}"
    rewards = {reward.reward_id: reward for reward in db.RewardItem.query(
        f"PRG#{program_id}", db.RewardItem.sk.startswith("RWD#"), limit=RECOMMENDED_MAX,
        filter_condition=db.RewardItem.active == True)}  # noqa: E712 (a pynamodb condition)
    order = recommend.ranked({reward_id: int(reward.cost) for reward_id, reward in rewards.items()},
                             affinity.history(program_id, external_id), available, affinity.read(program_id))
    start = int((pagination.decode(query, scope) or {}).get("offset", 0))
    end = start + pagination.limit_from(query)
    chosen = [rewards[reward_id] for reward_id in order[start:end]]
    stock.refresh(chosen)
    return {"items": [entry(reward) for reward in chosen],
            "next_cursor": pagination.encode({"offset": end}, scope) if end < len(order) else None}


def list_active(org_id: str, program_id: str, query: dict, reader: Reader) -> dict:
    program, member, _ = _read(org_id, program_id, reader.external_id)
    tag = _tag(reader, program, member)
    return _active_page(program_id, query, f"rewards:{program_id}", lambda reward: view(reward, tag, staff=reader.staff))


def get(org_id: str, program_id: str, reward_id: str, reader: Reader) -> dict:
    program, member, reward = _read(org_id, program_id, reader.external_id, reward_id)
    if reader.external_id and not reward.active:  # a member sees the catalog it can redeem from, nothing retired
        raise NotFound("No such reward.")
    stock.refresh([reward])
    return view(reward, _tag(reader, program, member), staff=reader.staff)


def member_catalog(org_id: str, program_id: str, external_id: str, query: dict, reader: Reader) -> dict:
    """One page of the active rewards as this member sees them: eligible or why not, affordable or by how
    much not. `?eligible=` and `?affordable=` keep the rewards that match on each page, so a filtered page
    may hold fewer than `limit` (and go on with `next_cursor`)."""
    eligible, affordable = pagination.flag(query, "eligible"), pagination.flag(query, "affordable")
    program, member, _ = _read(org_id, program_id, external_id)
    if member is None:
        raise NotFound("No such member.")
    now = clock.now()
    tag, now_iso = _tag(reader, program, member), clock.iso(now)
    available = account.Account(program, member, now).available

    def entry(reward: db.RewardItem) -> dict:
        reasons = eligibility.reasons(reward, member, now_iso)
        short = eligibility.points_short(int(reward.cost), available)
        return {**view(reward, tag, staff=reader.staff), "eligible": not reasons, "ineligible_reasons": reasons,
                "affordable": short == 0, "points_short": short}

    order = query.get("order")
    if order not in (None, "recommended"):
        raise ValidationFailed("order is recommended, or left out for the catalog's own order.", {"field": "order"})
    if order == "recommended":
        page = _recommended_page(program_id, external_id, available, query, entry)
    else:
        page = _active_page(program_id, query, f"catalog:{program_id}:{external_id}", entry)
    page["items"] = [item for item in page["items"]
                     if eligible in (None, item["eligible"]) and affordable in (None, item["affordable"])]
    return page


def stock_refused() -> ValidationFailed:
    return ValidationFailed("A gift card's stock is the number of its codes: add codes instead.", {"field": "stock"})


def update(org_id: str, program_id: str, reward_id: str, changes: dict) -> dict:
    """Set only the fields given, so a concurrent redemption's stock decrement is never lost."""
    reward = load(org_id, program_id, reward_id)
    registry.check_fields(reward.reward_type, changes)
    if "stock" in changes and registry.of(reward.reward_type).stock_is_codes:
        raise stock_refused()
    for name in REQUIRED_FIELDS:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.", {"field": name})
    if "segment" in changes:
        changes["segment"] = segments.stored(changes["segment"])
    if changes.get("translations"):
        changes["translations"] = {tag: {name: text for name, text in fields.items() if text is not None}
                                   for tag, fields in changes["translations"].items()}
    actions = [getattr(db.RewardItem, name).set(value) if value is not None else getattr(db.RewardItem, name).remove()
               for name, value in changes.items() if name != "stock"]
    actions.append(db.RewardItem.updated_at.set(clock.iso(clock.now())))
    if "stock" in changes:
        actions.append(db.RewardItem.low_stock_since.remove())  # a restock: the next low stock is news again
        reward = with_retries(lambda: _restock(org_id, program_id, reward_id, changes["stock"], actions))
    elif not update_if(reward, actions, db.RewardItem.org_id == org_id):
        raise NotFound("No such reward.")
    stock.refresh([reward])
    return view(reward)


def _restock(org_id: str, program_id: str, reward_id: str, stock_set: int | None, actions: list) -> db.RewardItem:
    """Apply `actions` and set the stock whole, in one transaction with its shards; the reward as it is now."""
    reward = load(org_id, program_id, reward_id)
    tx = Tx()
    stock_actions, as_read = stock.set_whole(tx, reward, stock_set)
    tx.update("reward", db.RewardItem(reward.pk, reward.sk), actions + stock_actions,
              condition=(db.RewardItem.org_id == org_id) & as_read)
    try:
        tx.commit()
    except ConditionFailed as failed:  # split by a redemption meanwhile: set it as it is now
        raise Retry() from failed
    return load(org_id, program_id, reward_id)


def add_codes(org_id: str, program_id: str, reward_id: str, codes: list[str]) -> dict:
    """Add gift-card codes, sealed under one data key; a code this reward has ever had (even used) counts
    as a duplicate."""
    reward = load(org_id, program_id, reward_id)
    if not registry.of(reward.reward_type).stock_is_codes:
        raise ValidationFailed("Only gift_card rewards have codes.", {"field": "reward_id"})
    unique = list(dict.fromkeys(codes))
    keys = {code: db.CodeItem.key(reward_id, code) for code in unique}
    known = set()
    for start in range(0, len(unique), 100):
        chunk = [keys[code] for code in unique[start:start + 100]]
        known.update(db.get_many(*chunk).keys())
    fresh = [code for code in unique if keys[code] not in known]
    sealer = vault.Sealer(gift_card.scope_of(reward)) if fresh else None
    sealed = {keys[code]: sealer.seal(code) for code in fresh}
    added = 0
    for start in range(0, len(fresh), CODES_PER_TRANSACTION):
        chunk = [keys[code] for code in fresh[start:start + CODES_PER_TRANSACTION]]
        added += with_retries(lambda chunk=chunk, start=start: _add_chunk(org_id, program_id, reward_id, chunk,
                                                                           sealed, start))
    return {"added": added, "duplicates": len(codes) - added}


def _add_chunk(org_id: str, program_id: str, reward_id: str, keys: list[tuple[str, str]], sealed: dict,
               start: int) -> int:
    """Put the codes and raise the stock by as many, atomically (where the stock is as read: a retry if a
    redemption split it meanwhile); drop codes another upload got first."""
    reward = load(org_id, program_id, reward_id)
    as_read = (db.RewardItem.stock_shards == reward.stock_shards if reward.stock_shards
               else db.RewardItem.stock_shards.does_not_exist())
    now_iso = clock.iso(clock.now())
    while keys:
        tx = Tx()
        for pk, sk in keys:
            item = db.CodeItem(pk, sk, reward_id=reward.reward_id, sealed=sealed[pk, sk], added_at=now_iso,
                               gsi2pk=gift_card.pool_key(reward.reward_id), gsi2sk=sk)
            tx.put(f"code:{sk}", item, condition=db.CodeItem.pk.does_not_exist())
        stock_actions = stock.add(tx, reward, len(keys), start)
        tx.update("reward", db.RewardItem(reward.pk, reward.sk),
                  stock_actions + [db.RewardItem.updated_at.set(now_iso), db.RewardItem.low_stock_since.remove()],
                  condition=as_read)
        try:
            tx.commit()
            return len(keys)
        except ConditionFailed as failed:
            if not failed.label.startswith("code:"):
                raise Retry() from failed
            keys = [(pk, sk) for pk, sk in keys if f"code:{sk}" != failed.label]
    return 0


def fulfillment_view(redemption: db.RedemptionItem, *, show_secrets: bool) -> dict:
    """The fulfillment as the contract shows it: `code` (the first) and `codes` to those who may see them."""
    shown = {name: value for name, value in redemption.fulfillment.items()
             if name != "sealed" and (show_secrets or name not in SECRET_FIELDS)}
    if show_secrets and redemption.fulfillment.get("sealed"):
        codes = gift_card.codes_of(redemption)
        shown.update({"code": codes[0], "codes": codes})
    return shown


def announce_low_stock(reward: db.RewardItem, quantity: int) -> None:
    """After a redemption of `quantity` took from `reward` (as read before it): if fewer than the threshold
    are left and that was not announced since the last restock, latch it and tell the webhook endpoints."""
    threshold = low_stock_threshold(reward)
    if reward.stock is None or reward.low_stock_since or not threshold:
        return
    if reward.stock_shards:  # what is left is in its shards: read them (one Query), and latch if unchanged since
        as_read = reward.updated_at
        stock.refresh([reward])
        if reward.stock >= threshold:
            return
        still = db.RewardItem.updated_at == as_read
    elif reward.stock - quantity >= threshold:
        return
    else:
        still = db.RewardItem.stock < threshold
    now_iso, live = clock.iso(clock.now()), int(reward.stock)
    if not update_if(reward, [db.RewardItem.low_stock_since.set(now_iso)],
                     db.RewardItem.low_stock_since.does_not_exist() & still):
        return  # announced by a concurrent redemption, or restocked meanwhile
    left = live if reward.stock_shards else int(reward.stock)  # (the update read the item back: its own stock)
    events.emit(reward.org_id, reward.program_id, "reward.low_stock", {"reward": {
        "id": reward.reward_id, "type": reward.reward_type, "name": reward.name, "stock": left,
        "low_stock_threshold": threshold}}, event_key=f"{reward.reward_id}:{now_iso}", occurred_at=now_iso)
