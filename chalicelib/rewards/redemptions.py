"""Redemptions: points taken at once, the reward fulfilled later, the points given back if it fails.

Taking the points, reserving the stock (and what the reward's kind holds: kinds.registry) and writing the
redemption is one transaction. The fulfilment message is sent after it; if that send is lost, the recovery job
sends it again from the outbox (lifecycle.py, which alone moves a redemption's status from then on). A
redemption that leaves a reward low on stock says so to the organisation's webhook endpoints.

A program may hold redemptions above a number of points for an admin's approval (`awaiting_approval`,
no outbox entry until approved: review.py), and may fund its rewards' money values from a budget, taken in
the same transaction (budgets.py).
"""
from chalicelib.core import clock, db, ids, locales, pagination, shards
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.observability import logger as log
from chalicelib.core.transact import ConditionFailed, Retry, Tx
from chalicelib.members import account, ledger, offboarding, profiles
from chalicelib.members.entries import Posting
from chalicelib.rewards import budgets, catalog, eligibility, lifecycle, stock
from chalicelib.rewards.kinds import experience, merchandise, registry
from chalicelib.rewards.statuses import DECIDED, STATUSES


def view(redemption: db.RedemptionItem, *, show_secrets: bool = True, show_address: bool = True) -> dict:
    """The redemption as the API shows it. `show_address`: merchandise's shipping address, personal data shown
    only to those who ship it or own it (never a transfer's account, nor the email or phone given)."""
    answer = {"id": redemption.redemption_id, "member": redemption.external_id,
              "reward_id": redemption.reward_id, "quantity": int(redemption.quantity),
              "points": int(redemption.points), "status": redemption.status,
              "created_at": redemption.created_at, "updated_at": redemption.updated_at}
    if redemption.fulfillment is not None:
        answer["fulfillment"] = catalog.fulfillment_view(redemption, show_secrets=show_secrets)
    address = (redemption.delivery or {}).get("address")  # absent on merchandise redeemed before it was required
    if show_address and address is not None and redemption.reward_type == merchandise.KIND:
        answer["delivery"] = {"address": address}
    if redemption.status in DECIDED and redemption.failure_reason:
        answer["reason"] = redemption.failure_reason
    return answer


def needs_approval(program: db.ProgramItem, points: int) -> bool:
    policy = program.redemption_policy or {}
    return policy.get("approval_above_points") is not None and points > int(policy["approval_above_points"])


def name_read_by(member: db.MemberItem, program: db.ProgramItem, reward: db.RewardItem) -> str:
    """The reward's name as the member reads it in its catalog: what the messages about it will say."""
    locale = locales.wanted(None, db.profile_of(member).locale, program.locale)
    return locales.localized(reward.name, None, reward.translations, locale)["name"]


def create(org_id: str, program_id: str, external_id: str, request: dict, idempotency_key: str) -> tuple[dict, bool]:
    """Take the points and reserve the stock atomically; 409 takes nothing."""
    fingerprint = ledger.fingerprint("redeem", external_id, request)
    reward_id, quantity = request["reward_id"], request.get("quantity", 1)
    taken = {}  # the reward as the committed attempt read it

    def attempt():
        program_key = db.ProgramItem.key(org_id, program_id)
        reward_key = db.RewardItem.key(program_id, reward_id)
        budget_key = db.ProgramBudgetItem.key(program_id)
        found = db.get_many(program_key, *profiles.keys(program_id, external_id), reward_key, budget_key)
        if program_key not in found:
            raise NotFound("No such program.")
        program, reward = found[program_key], found.get(reward_key)
        member = profiles.member_from(found, program_id, external_id)
        if member is None:
            raise NotFound("No such member.")
        offboarding.refuse(member, "redeem")
        if reward is None or reward.org_id != org_id:
            raise NotFound("No such reward.")
        if not reward.active:
            raise Conflict("This reward is not available.", {"reward_id": reward_id})
        change = account.Account(program, member, clock.now())
        now_iso = change.now_iso
        barred = eligibility.restrictions(reward, member, now_iso)
        if "tier" in barred:
            raise Conflict(f"This reward is for members of {', '.join(reward.tiers)}.",
                           {"reward_id": reward_id, "tiers": reward.tiers, "tier": member.tier, "reasons": barred},
                           code="not_eligible")
        if barred:
            raise Conflict("This reward is for a segment of members this member is not in.",
                           {"reward_id": reward_id, "reasons": barred}, code="not_eligible")
        if reward.stock is not None and not reward.stock_shards and reward.stock < quantity:
            raise stock.out_of_stock(reward_id, int(reward.stock))  # a split stock is known when taken from
        kind = registry.of(reward.reward_type)
        terms = registry.check(reward, request)
        points = int(reward.cost) * quantity
        cost = budgets.cost_of(program, reward, quantity)
        consumed = change.debit(points, spend=True)
        redemption_id = ids.new_id("rdm")
        opening = lifecycle.opening(program_id, redemption_id, now_iso, held=needs_approval(program, points))
        redemption = db.RedemptionItem(
            *db.RedemptionItem.key(redemption_id), redemption_id=redemption_id, org_id=org_id,
            program_id=program_id, external_id=external_id, reward_id=reward_id,
            reward_type=reward.reward_type, reward_name=name_read_by(member, program, reward), quantity=quantity, points=points,
            delivery=request.get("delivery"), terms=terms, consumed=[list(lot) for lot in consumed],
            budget_cost=cost, value=reward.value if reward.value and "amount" in reward.value else None,
            created_at=now_iso, updated_at=now_iso, **opening)
        entry = change.entry(Posting(scope="rdm", key=idempotency_key, fingerprint=fingerprint, kind="redeem",
                                     points=-points, redemption_id=redemption_id))
        entry.snapshot = view(redemption, show_address=False)  # kept in the ledger, replayed to any redeemer
        tx = Tx()
        redemption.terms = kind.reserve(tx, reward, request, quantity, redemption.terms,
                                        idempotency_key)
        tx.put("redemption", redemption, condition=db.RedemptionItem.pk.does_not_exist())
        stock.take(tx, reward, quantity, idempotency_key)
        if cost is not None:
            redemption.budget_shards = budgets.consume(tx, program, found.get(budget_key), cost, idempotency_key)
        try:
            change.commit(entry, tx)
        except ConditionFailed as failed:  # the stock, reward, budget or seats moved on: decide again on fresh data
            if failed.label == shards.LABEL + stock.NAME:
                raise stock.after_failure(reward, quantity, idempotency_key) from failed
            if failed.label == shards.LABEL + budgets.NAME:
                raise budgets.after_failure(program, found.get(budget_key), cost, idempotency_key) from failed
            if failed.label == shards.LABEL + experience.NAME:
                raise experience.after_failure(reward, request, quantity, idempotency_key) from failed
            raise Retry() from failed
        taken.update(reward=reward, program=program, cost=cost)
        return entry

    result, replayed = ledger.idempotent(program_id, "rdm", idempotency_key, fingerprint, attempt,
                                         lambda entry: entry.snapshot)
    if not replayed:
        if result["status"] == "pending":
            lifecycle.enqueue_fulfilment(org_id, program_id, result["id"])
        try:
            catalog.announce_low_stock(taken["reward"], quantity)
            if taken["cost"] is not None:
                budgets.announce_thresholds(taken["program"])
        except Exception:  # noqa: BLE001 - an alert, not the redemption: the caller's answer stands
            log.warning("stock or budget announcement failed", extra={"reward_id": reward_id})
    return result, replayed


def get(org_id: str, program_id: str, redemption_id: str, *, external_id: str | None, reward_type: str | None,
        show_secrets: bool, show_address: bool) -> dict:
    redemption = lifecycle.load(org_id, program_id, redemption_id, reward_type=reward_type)
    if external_id is not None and redemption.external_id != external_id:
        raise NotFound("No such redemption.")
    return shown(redemption, show_secrets=show_secrets, show_address=show_address)


def shown(redemption: db.RedemptionItem, *, show_secrets: bool, show_address: bool) -> dict:
    """A redemption as its reader gets it by id or in its member's list: `fulfillment` is {} until it has one."""
    return {"fulfillment": {}, **view(redemption, show_secrets=show_secrets, show_address=show_address)}


def of_member(program_id: str, external_id: str, query: dict, *, show_secrets: bool, show_address: bool) -> dict:
    """A member's redemptions, newest first, a page at a time, each as `get` shows it to the same reader.

    They have no index of their own (a redemption writes nothing more for this list): each wrote a `redeem`
    entry in the member's ledger, which gsi1 lists newest first, so a page is the member's gsi1 entries filtered
    to `redeem` (the `refund` entry of one given back is not listed again), then one BatchGetItem of those
    redemptions. Other entries (earns, adjustments, expiries) are read and dropped: a page makes at most
    `db.FILTERED_READS` Queries of `db.FILTERED_READ_SIZE` entries, then stops short with a cursor. `?status=`
    keeps the page's redemptions in that status. Either way a page may hold fewer than `limit` and still carry
    a `next_cursor`."""
    status = query.get("status")
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"status must be one of: {', '.join(STATUSES)}.", {"field": "status"})
    partition = db.member_pk(program_id, external_id)
    scope = f"redemptions:{partition}"
    entries, last = db.filtered_index_page("gsi1", partition, "kind", "redeem", pagination.limit_from(query),
                                           pagination.decode(query, scope), newest_first=True)
    keys = [db.RedemptionItem.key(entry["redemption_id"]["S"]) for entry in entries]
    found = db.get_many(*keys) if keys else {}
    items = [shown(found[key], show_secrets=show_secrets, show_address=show_address) for key in keys
             if status in (None, found[key].status)]
    return {"items": items, "next_cursor": pagination.encode(last, scope)}
