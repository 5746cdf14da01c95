"""Experiences: rewards with dated slots, each with its seats, booked by the redemption that pays for them.

A slot can be booked until it starts. Its seats are a counter item (`SlotItem`) raised in the
redemption's own transaction, conditional on staying within capacity, so concurrent bookings of the
last seats never overbook: the losers find it full and answer 409, taking nothing. Every way back
(`lifecycle.give_back`: failure, rejection, cancellation) lowers it in the status move's transaction
(`release`), so a seat is freed once. A slot with many bookings' worth of free seats is split into shards
on its first booking (core/shards.py), so a popular slot's bookings do not all write one item. A booking may be cancelled by its member or an admin until the reward's
`cancel_cutoff_hours` before the slot starts (review.cancel_booking).
"""
from datetime import timedelta

from chalicelib.core import clock, db, shards
from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.core.transact import Retry, Tx
from chalicelib.rewards import lifecycle
from chalicelib.rewards.kinds.base import Kind

KIND = "experience"
NAME = "slot"  # its seats in a transaction's failures: shards.LABEL + NAME
CANCELLABLE = ("awaiting_approval", "pending", "fulfilled")


class Experience(Kind):
    name = KIND

    def check_fields(self, reward_type: str, fields: dict) -> None:
        """Only an experience has slots (unique ids) or a cutoff; one without slots (the contract's plain
        experience) is fulfilled at once, as every reward was."""
        slots = fields.get("slots")
        if reward_type != KIND and (slots or fields.get("cancel_cutoff_hours") is not None):
            raise ValidationFailed("Only an experience has slots.",
                                   {"field": "slots" if slots else "cancel_cutoff_hours"})
        if slots and len({slot["id"] for slot in slots}) != len(slots):
            raise ValidationFailed("Slot ids must be unique.", {"field": "slots"})

    def create_items(self, tx: Tx, reward: db.RewardItem) -> None:
        """The slots' seat counters, put with the reward."""
        for slot in reward.slots or []:
            tx.put(f"slot:{slot['id']}", db.SlotItem(*db.SlotItem.key(reward.program_id, reward.reward_id,
                                                                      slot["id"]), capacity=slot["capacity"], booked=0),
                   condition=db.SlotItem.pk.does_not_exist())

    def check(self, reward: db.RewardItem, request: dict) -> dict | None:
        slot_key(reward, request)
        return None

    def reserve(self, tx: Tx, reward: db.RewardItem, request: dict, quantity: int, terms: dict | None,
                key: str) -> dict | None:
        """Book the slot's seats: the booking's terms."""
        head = slot_key(reward, request)
        seats = db.get(db.SlotItem, head) if head else None
        return book(tx, reward, seats, quantity, key) if seats is not None else terms

    def check_approval(self, redemption: db.RedemptionItem) -> None:
        terms = redemption.terms or {}
        if terms.get("slot_id"):
            refuse_if_started(terms["slot_id"], terms["starts_at"])

    def fulfil(self, redemption: db.RedemptionItem) -> None:
        if (redemption.terms or {}).get("slot_id"):
            lifecycle.mark_fulfilled(redemption, {"type": KIND, "slot_id": redemption.terms["slot_id"],
                                                  "starts_at": redemption.terms["starts_at"]})
        else:
            super().fulfil(redemption)

    def release(self, tx: Tx, redemption: db.RedemptionItem) -> None:
        """Free a booking's seats within `tx` (the one that moves its status, so once)."""
        terms = redemption.terms or {}
        if not terms.get("slot_id"):
            return
        head, quantity = db.SlotItem.key(redemption.program_id, redemption.reward_id, terms["slot_id"]), \
            int(redemption.quantity)
        split = counter(head, terms.get("seat_shards")) or counter(head, _count_of(db.get(db.SlotItem, head)))
        if split is not None:  # (a booking from before its slot was split reads where the seats are now)
            shards.give(tx, split, redemption.redemption_id, quantity)
            return
        tx.update(shards.LABEL + NAME, db.SlotItem(*head), [db.SlotItem.booked.add(-quantity)],
                  condition=db.SlotItem.shards.does_not_exist())  # split meanwhile: a retry gives to a shard


def stored_slots(slots: list[dict]) -> list[dict]:
    return [{"id": slot["id"], "starts_at": clock.iso(slot["starts_at"]), "capacity": slot["capacity"]}
            for slot in slots]


def slots_view(reward: db.RewardItem) -> list[dict] | None:
    if not reward.slots:
        return None
    keys = [db.SlotItem.key(reward.program_id, reward.reward_id, slot["id"]) for slot in reward.slots]
    seats = db.get_many(*keys)
    split = [counter(key, _count_of(seats.get(key))) for key in keys if _count_of(seats.get(key))]
    in_shards = shards.totals(split) if split else {}
    return [{**slot, "booked": (int(seats[key].booked) if key in seats else 0)
             + (in_shards[key].taken if key in in_shards else 0)} for slot, key in zip(reward.slots, keys)]


def counter(head: tuple[str, str], count) -> shards.Counter | None:
    """A slot's seat shards (None while its item alone counts)."""
    return shards.Counter(*head, int(count), "shards", NAME) if count else None


def _count_of(seats: db.SlotItem | None) -> int | None:
    return int(seats.shards) if seats is not None and seats.shards else None


def slot_key(reward: db.RewardItem, request: dict) -> tuple[str, str] | None:
    """The seat counter a redemption books (None for other rewards); 400 without a slot of this reward."""
    slot_id = request.get("slot_id")
    if reward.reward_type != KIND or not reward.slots:
        if slot_id is not None:
            raise ValidationFailed("Only an experience with slots has slots to book.", {"field": "slot_id"})
        return None
    if slot_id is None or slot_id not in {slot["id"] for slot in reward.slots or []}:
        raise ValidationFailed("Name one of this experience's slots.", {"field": "slot_id"})
    return db.SlotItem.key(reward.program_id, reward.reward_id, slot_id)


def book(tx: Tx, reward: db.RewardItem, seats: db.SlotItem, quantity: int, key: str) -> dict:
    """Take `quantity` seats within `tx`; 409 slot_started once the slot has begun (nothing left to attend),
    fully_booked when fewer seats are left. A split slot's seats are taken from `key`'s shard (when that fails,
    `after_failure` decides). Returns the booking's terms."""
    capacity, booked = int(seats.capacity), int(seats.booked)
    slot = next(slot for slot in reward.slots if db.SlotItem.key(reward.program_id, reward.reward_id, slot["id"])
                == (seats.pk, seats.sk))
    refuse_if_started(slot["id"], slot["starts_at"])
    terms = {"slot_id": slot["id"], "starts_at": slot["starts_at"],
             "cancel_cutoff_hours": None if reward.cancel_cutoff_hours is None else int(reward.cancel_cutoff_hours)}
    split = counter((seats.pk, seats.sk), _count_of(seats))
    if split is not None:
        shards.take(tx, split, key, quantity)
        return {**terms, "seat_shards": split.count}
    if booked + quantity > capacity:
        raise fully_booked(slot["id"], capacity - booked)
    if shards.count_for(capacity - booked, quantity) > 1:
        _split(seats, quantity)
        raise Retry()  # read it again, split
    tx.update(shards.LABEL + NAME, db.SlotItem(seats.pk, seats.sk), [db.SlotItem.booked.add(quantity)],
              condition=(db.SlotItem.booked <= capacity - quantity) & db.SlotItem.shards.does_not_exist())
    return terms


def fully_booked(slot_id: str, left: int) -> Conflict:
    return Conflict("This slot is fully booked.", {"slot_id": slot_id, "left": max(0, left)}, code="fully_booked")


def after_failure(reward: db.RewardItem, request: dict, quantity: int, key: str) -> Exception:
    """What a failed booking of a slot's seats means: 409 fully_booked when all its seats, read at one instant, are
    fewer than `quantity`; otherwise another try (its shard refilled, or the slot read anew)."""
    head = slot_key(reward, request)
    split = counter(head, _count_of(db.get(db.SlotItem, head)))
    if split is None:
        return Retry()
    seen = shards.make_room(split, key, quantity)
    return fully_booked(request["slot_id"], seen.left) if seen.left < quantity else Retry()


def _split(seats: db.SlotItem, quantity: int) -> None:
    """Cut a slot's free seats into shards, on condition nobody booked or gave one back meanwhile."""
    free = int(seats.capacity) - int(seats.booked)
    shards.split(counter((seats.pk, seats.sk), shards.count_for(free, quantity)), db.SlotItem(seats.pk, seats.sk),
                 free, db.SlotItem.booked == seats.booked)


def refuse_if_started(slot_id: str, starts_at: str) -> None:
    """409 slot_started once the slot has begun: nothing is left to attend, so neither a booking nor an
    approval of one may go through (a rejection still gives everything back)."""
    if clock.now() >= clock.parse(starts_at):
        raise Conflict("This slot has already started.", {"slot_id": slot_id, "starts_at": starts_at},
                       code="slot_started")


def check_cancellable(redemption: db.RedemptionItem) -> None:
    """409 unless the redemption is a booking still before its cutoff (review.cancel_booking)."""
    if redemption.reward_type != KIND:
        raise Conflict("Only an experience's booking can be cancelled this way.",
                       {"reward_type": redemption.reward_type})
    terms = redemption.terms
    cutoff = clock.parse(terms["starts_at"]) - timedelta(hours=terms["cancel_cutoff_hours"] or 0)
    if clock.now() >= cutoff:
        raise Conflict("Too late to cancel this booking.", {"cutoff": clock.iso(cutoff)}, code="cancel_cutoff_passed")
