"""Fulfilling a redemption: assign gift-card codes, transfer points to a partner (transfers.py) or mark the
reward delivered, then tell the member
and the organisation's webhook endpoints.

Safe to run any number of times for the same redemption: every step is a conditional move from
one status to the next, and the notification is marked sent once published. Until then each run
announces the redemption again, which finds the deliveries it made and adds none. A redemption that
failed (refunded on fulfilment's last try) is told too, with the same mark.
"""
from chalicelib.core import db
from chalicelib.core.errors import Contention, NotFound
from chalicelib.core.transact import Tx, with_retries
from chalicelib.notices import notifications
from chalicelib.rewards import cash, providers, redemptions
from chalicelib.rewards.kinds import donation, gift_card, merchandise, points_transfer

FINAL = ("fulfilled", "failed", "rejected", "cancelled")  # the statuses a member is told of


class CodesMissing(Contention):
    """Fewer free codes than reserved: the index may lag; if it lasts, the redemption is refunded."""


def fulfil(redemption_id: str) -> str:
    """Move a redemption on as far as it goes; returns its status."""
    redemption = db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id))
    if redemption is None:
        raise NotFound(f"No redemption {redemption_id}.")
    if redemption.status == "pending":
        if redemption.reward_type == "gift_card":
            with_retries(lambda: _assign_codes(redemption))
        elif redemption.reward_type == "cashback":
            with_retries(lambda: cash.credit_cashback(redemption))
        elif redemption.reward_type == "points_transfer" and (redemption.terms or {}).get("partner"):
            points_transfer.fulfil(redemption, providers.default())
        elif redemption.reward_type == "merchandise":
            merchandise.start(redemption)
        elif redemption.reward_type == "donation" and (redemption.terms or {}).get("charity_id"):
            with_retries(lambda: donation.fulfil(redemption))
        elif redemption.reward_type == "experience" and (redemption.terms or {}).get("slot_id"):
            redemptions.mark_fulfilled(redemption, {"type": "experience", "slot_id": redemption.terms["slot_id"],
                                                    "starts_at": redemption.terms["starts_at"]})
        else:
            redemptions.mark_fulfilled(redemption, {"type": redemption.reward_type})
        redemption.refresh(consistent_read=True)
    _tell(redemption)
    return redemption.status


def _tell(redemption: db.RedemptionItem) -> None:
    if redemption.status in FINAL and not redemption.notified:
        if redemption.status == "fulfilled":  # a failure is announced by the refund that makes it
            redemptions.announce(redemption)
        notifications.redemption_outcome(redemption, redemptions.member_of(redemption))
        redemption.update(actions=[db.RedemptionItem.notified.set(True)])


def tell(redemption_id: str) -> None:
    """Tell the member the redemption's final status, if it has not been told (after a refund)."""
    redemption = db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id))
    if redemption is not None:
        _tell(redemption)


def _assign_codes(redemption: db.RedemptionItem) -> bool:
    """Take `quantity` free codes and fulfil with them, atomically; a code taken meanwhile means retry.

    The codes stay sealed: the redemption keeps their ciphertexts, opened only to be shown or sent."""
    needed = int(redemption.quantity)
    free = db.index_keys("gsi2", f"CODEPOOL#{redemption.reward_id}", needed)
    if len(free) < needed:
        raise CodesMissing(f"Only {len(free)} free codes for {needed} reserved.")
    codes = db.get_many(*free)
    tx = Tx()
    for (_, sk), code in codes.items():
        tx.update(f"code:{sk}", code, [db.CodeItem.redemption_id.set(redemption.redemption_id),
                                       db.CodeItem.gsi2pk.remove(), db.CodeItem.gsi2sk.remove()],
                  condition=db.CodeItem.gsi2pk.exists())
    return redemptions.mark_fulfilled(redemption, gift_card.sealed_fulfillment(list(codes.values())), tx)


def untold(redemption_id: str) -> bool:
    """Final, but the member has not been told yet (the notification could not be published)."""
    redemption = db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id))
    return redemption is not None and redemption.status in FINAL and not redemption.notified


def give_up(redemption_id: str, error: Exception) -> bool:
    """The last try failed: mark the redemption failed and refund its points (once).

    The reserved stock goes back too, unless the codes behind it are what went missing.
    """
    return redemptions.refund(redemption_id, str(error), restock=not isinstance(error, CodesMissing))
