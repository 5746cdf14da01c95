"""Redemptions: points taken at once, the reward fulfilled later, the points given back if it fails.

Taking the points, reserving the stock and writing the redemption is one transaction. The
fulfilment message is sent after it; if that send is lost, the recovery job finds the
redemption through its outbox index entry (gsi2 `OUTBOX#...`) and sends it again, so every
redemption reaches a final status. Each move to a final status is announced to the organisation's
webhook endpoints (`announce`), and a redemption that leaves a reward low on stock says so too.

A program may hold redemptions above a number of points for an admin's approval (`awaiting_approval`,
no outbox entry until approved: redemption_review.py), and may fund its rewards' money values from a
budget, taken in the same transaction (budgets.py). Every way back (failure, rejection, cancellation)
is `give_back`: one conditional status move that returns the points, the stock and the budget together.
"""
import json

from chalicelib.core import aws, clock, db, ids, locales, pagination, settings
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.observability import logger as log
from chalicelib.core.transact import ConditionFailed, Replayed, Retry, Tx, with_retries
from chalicelib.members import ledger, lots
from chalicelib.rewards import budgets, catalog, eligibility
from chalicelib.rewards.kinds import donation, experience, merchandise, points_transfer
from chalicelib.rewards.statuses import DECIDED, STATUSES
from chalicelib.webhooks import events

# The statuses a program lists its redemptions by, each a sparse gsi3 partition written with the move into it:
# the approval queue (redemption_review) and the merchandise waiting to ship (shipping). Each: (the partition's
# prefix, the scope its list's cursors are bound to, so a cursor of one queue serves it alone).
QUEUES = {"awaiting_approval": ("APPROVAL", "approvals"), "processing": ("SHIP", "shipments")}


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


def outbox_key(redemption_id: str) -> str:
    return f"OUTBOX#{db.shard_of(redemption_id)}"


def queue_key(status: str, program_id: str) -> str:
    """The sparse gsi3 partition listing a program's redemptions in `status`, oldest first (QUEUES)."""
    return f"{QUEUES[status][0]}#{program_id}"


def needs_approval(program: db.ProgramItem, points: int) -> bool:
    policy = program.redemption_policy or {}
    return policy.get("approval_above_points") is not None and points > int(policy["approval_above_points"])


def name_read_by(member: db.MemberItem, program: db.ProgramItem, reward: db.RewardItem) -> str:
    """The reward's name as the member reads it in its catalog: what the messages about it will say."""
    locale = locales.wanted(None, member.locale, program.locale)
    return locales.localized(reward.name, None, reward.translations, locale)["name"]


def create(org_id: str, program_id: str, external_id: str, request: dict, idempotency_key: str) -> tuple[dict, bool]:
    """Take the points and reserve the stock atomically; 409 takes nothing."""
    fingerprint = ledger.fingerprint("redeem", external_id, request)
    reward_id, quantity = request["reward_id"], request.get("quantity", 1)
    taken = {}  # the reward as the committed attempt read it

    def attempt():
        program_key = db.ProgramItem.key(org_id, program_id)
        member_key = db.MemberItem.key(program_id, external_id)
        reward_key = db.RewardItem.key(program_id, reward_id)
        budget_key = db.ProgramBudgetItem.key(program_id)
        found = db.get_many(program_key, member_key, reward_key, budget_key)
        if program_key not in found:
            raise NotFound("No such program.")
        program, member, reward = found[program_key], found.get(member_key), found.get(reward_key)
        if member is None:
            raise NotFound("No such member.")
        if reward is None or reward.org_id != org_id:
            raise NotFound("No such reward.")
        if not reward.active:
            raise Conflict("This reward is not available.", {"reward_id": reward_id})
        now_iso = clock.iso(clock.now())
        barred = eligibility.restrictions(reward, member, now_iso)
        if "tier" in barred:
            raise Conflict(f"This reward is for members of {', '.join(reward.tiers)}.",
                           {"reward_id": reward_id, "tiers": reward.tiers, "tier": member.tier, "reasons": barred},
                           code="not_eligible")
        if barred:
            raise Conflict("This reward is for a segment of members this member is not in.",
                           {"reward_id": reward_id, "reasons": barred}, code="not_eligible")
        if reward.stock is not None and reward.stock < quantity:
            raise Conflict("This reward is out of stock.", {"reward_id": reward_id, "stock": int(reward.stock)},
                           code="out_of_stock")
        points_transfer.check_request(reward, request)
        seats_key = experience.slot_key(reward, request)
        seats = db.get(db.SlotItem, seats_key) if seats_key else None
        charity = donation.terms_of(reward, request)
        merchandise.check_request(reward, request)
        points = int(reward.cost) * quantity
        cost = budgets.cost_of(program, reward, quantity)
        wallet, consumed = lots.debit(ledger.wallet_of(member), points, spend=True)
        redemption_id = ids.new_id("rdm")
        if needs_approval(program, points):  # in the approval queue, not the outbox, until an admin decides
            status, index = "awaiting_approval", {"gsi3pk": queue_key("awaiting_approval", program_id),
                                                  "gsi3sk": f"{now_iso}#{redemption_id}"}
        else:
            status, index = "pending", {"gsi2pk": outbox_key(redemption_id), "gsi2sk": now_iso}
        redemption = db.RedemptionItem(
            *db.RedemptionItem.key(redemption_id), redemption_id=redemption_id, org_id=org_id,
            program_id=program_id, external_id=external_id, reward_id=reward_id,
            reward_type=reward.reward_type, reward_name=name_read_by(member, program, reward), quantity=quantity, points=points,
            status=status, delivery=request.get("delivery"), terms=points_transfer.terms_of(reward) or charity, consumed=[list(lot) for lot in consumed],
            budget_cost=cost, created_at=now_iso, updated_at=now_iso, **index)
        ledger.put_wallet(member, wallet, now_iso)
        posting = ledger.Posting(scope="rdm", key=idempotency_key, fingerprint=fingerprint, kind="redeem",
                                 points=-points, redemption_id=redemption_id)
        entry = ledger.entry_for(member, posting, wallet.total, now_iso)
        entry.snapshot = view(redemption, show_address=False)  # kept in the ledger, replayed to any redeemer
        tx = Tx()
        if seats is not None:
            redemption.terms = experience.book(tx, reward, seats, quantity)
        tx.put("redemption", redemption, condition=db.RedemptionItem.pk.does_not_exist())
        if reward.stock is not None:
            tx.update("reward", db.RewardItem(reward.pk, reward.sk), [db.RewardItem.stock.add(-quantity)],
                      condition=(db.RewardItem.stock >= quantity) & (db.RewardItem.active == True))  # noqa: E712
        if cost is not None:
            budgets.consume(tx, program, found.get(budget_key), cost)
        try:
            ledger.append(member, entry, tx)
        except ConditionFailed as failed:  # the stock, reward or budget moved on: decide again on fresh data
            raise Retry() from failed
        taken.update(reward=reward, program=program, cost=cost)
        return entry

    result, replayed = ledger.idempotent(program_id, "rdm", idempotency_key, fingerprint, attempt,
                                         lambda entry: entry.snapshot)
    if not replayed:
        if result["status"] == "pending":
            enqueue_fulfilment(org_id, program_id, result["id"])
        try:
            catalog.announce_low_stock(taken["reward"], quantity)
            if taken["cost"] is not None:
                budgets.announce_thresholds(taken["program"])
        except Exception:  # noqa: BLE001 - an alert, not the redemption: the caller's answer stands
            log.warning("stock or budget announcement failed", extra={"reward_id": reward_id})
    return result, replayed


def enqueue_fulfilment(org_id: str, program_id: str, redemption_id: str) -> None:
    """Best effort: a lost send is caught up by the recovery job from the outbox index."""
    body = json.dumps({"org_id": org_id, "program_id": program_id, "redemption_id": redemption_id})
    try:
        aws.client("sqs").send_message(QueueUrl=settings.fulfilment_queue_url(), MessageBody=body)
    except Exception:  # noqa: BLE001 - the outbox guarantees delivery; the caller's answer stands
        log.warning("fulfilment enqueue failed; recovery job will retry", extra={"redemption_id": redemption_id})


def load(org_id: str, program_id: str, redemption_id: str, *, reward_type: str | None = None) -> db.RedemptionItem:
    """The program's redemption; with `reward_type` (a fulfilment partner's reach), one of another type is 404
    too, as if absent."""
    redemption = db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id))
    if redemption is None or (redemption.org_id, redemption.program_id) != (org_id, program_id) \
            or reward_type not in (None, redemption.reward_type):
        raise NotFound("No such redemption.")
    return redemption


def announce(redemption: db.RedemptionItem) -> list[str]:
    """Tell the webhook endpoints where a redemption stands now: ids and statuses, never its code."""
    return events.emit(redemption.org_id, redemption.program_id, "redemption.status_changed", {"redemption": {
        "id": redemption.redemption_id, "member": redemption.external_id, "reward_id": redemption.reward_id,
        "reward_type": redemption.reward_type, "quantity": int(redemption.quantity),
        "points": int(redemption.points), "status": redemption.status, "created_at": redemption.created_at,
        "updated_at": redemption.updated_at}},
        event_key=f"{redemption.redemption_id}:{redemption.status}", occurred_at=redemption.updated_at)


def refund(redemption_id: str, reason: str, *, restock: bool) -> bool:
    """Mark a pending redemption failed and give its points back, once; False if it was not pending."""
    return give_back(redemption_id, ("pending",), "failed", reason, restock=restock) is not None


def give_back(redemption_id: str, from_statuses: tuple[str, ...], to_status: str, reason: str, *,
              restock: bool, unsent: bool = False) -> db.RedemptionItem | None:
    """Move a redemption from one of `from_statuses` to `to_status` and give back its points (their expiry
    lots restored), its budget cost and (if `restock`) its stock, in one transaction, so once; then announce
    it. None if it was not in one of those statuses (another move got there first), or, if `unsent`, if it
    was sent to the provider (transfers.sent): only the provider's answer settles that one."""
    def attempt() -> db.RedemptionItem | None:
        redemption = db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id))
        if redemption is None or redemption.status not in from_statuses or (unsent and redemption.sent_at):
            return None
        member_key = db.MemberItem.key(redemption.program_id, redemption.external_id)
        reward_key = db.RewardItem.key(redemption.program_id, redemption.reward_id)
        found = db.get_many(member_key, reward_key)
        member, reward = found[member_key], found.get(reward_key)
        now_iso = clock.iso(clock.now())
        wallet = lots.restore(ledger.wallet_of(member), int(redemption.points), redemption.consumed,
                                 unspend=True, not_before=clock.expiry(clock.now(), 0))
        ledger.put_wallet(member, wallet, now_iso)
        posting = ledger.Posting(scope="refund", key=redemption_id, fingerprint=redemption_id, kind="refund",
                                 points=int(redemption.points), redemption_id=redemption_id, reason=reason)
        entry = ledger.entry_for(member, posting, wallet.total, now_iso)
        unmoved = db.RedemptionItem.status == redemption.status
        if unsent:
            unmoved &= db.RedemptionItem.sent_at.does_not_exist()
        tx = Tx()
        tx.update("redemption", redemption,
                  [db.RedemptionItem.status.set(to_status), db.RedemptionItem.failure_reason.set(reason),
                   db.RedemptionItem.updated_at.set(now_iso), db.RedemptionItem.gsi2pk.remove(),
                   db.RedemptionItem.gsi2sk.remove(), db.RedemptionItem.gsi3pk.remove(),
                   db.RedemptionItem.gsi3sk.remove()],
                  condition=unmoved)
        if restock and reward is not None and reward.stock is not None:
            tx.update("reward", db.RewardItem(reward.pk, reward.sk),
                      [db.RewardItem.stock.add(int(redemption.quantity))])
        budgets.release(tx, redemption)
        experience.release(tx, redemption)
        try:
            ledger.append(member, entry, tx)
        except ConditionFailed as failed:
            if failed.label == "redemption":
                raise Retry() from failed  # its status moved meanwhile: read it again and decide
            raise
        except Replayed:
            return None  # its points were given back already
        redemption.status, redemption.failure_reason, redemption.updated_at = to_status, reason, now_iso
        return redemption

    moved = with_retries(attempt)
    if moved is not None:
        try:
            announce(moved)
        except Exception:  # noqa: BLE001 - the move stands; this was the message's last try, nothing retries it
            log.warning("redemption announcement failed", extra={"redemption_id": redemption_id})
    return moved


def mark_fulfilled(redemption: db.RedemptionItem, fulfillment: dict, tx: Tx | None = None) -> bool:
    """Move a pending redemption to fulfilled (with any extra items, atomically); False if it had moved on."""
    now_iso = clock.iso(clock.now())
    tx = tx or Tx()
    tx.update("redemption", redemption,
              [db.RedemptionItem.status.set("fulfilled"), db.RedemptionItem.fulfillment.set(fulfillment),
               db.RedemptionItem.updated_at.set(now_iso), db.RedemptionItem.gsi2pk.remove(),
               db.RedemptionItem.gsi2sk.remove()],
              condition=db.RedemptionItem.status == "pending")
    try:
        tx.commit()
    except ConditionFailed as failed:
        if failed.label == "redemption":
            return False
        raise Retry() from failed
    redemption.status, redemption.fulfillment = "fulfilled", fulfillment
    return True


def member_of(redemption: db.RedemptionItem) -> db.MemberItem:
    found = db.get(db.MemberItem, db.MemberItem.key(redemption.program_id, redemption.external_id))
    if found is None:
        raise NotFound("No such member.")
    return found


def get(org_id: str, program_id: str, redemption_id: str, *, external_id: str | None, reward_type: str | None,
        show_secrets: bool, show_address: bool) -> dict:
    redemption = load(org_id, program_id, redemption_id, reward_type=reward_type)
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
