"""Erasure: one call makes a member an anonymous id. The ledger's amounts stay (the program's accounts still add up);
what identifies or describes the person goes:

- the member is closed (chalicelib.members.offboarding; its points forfeited if the program says so), marked
  erased, and can never be reopened;
- its profile (email, phone, name, locale, attributes), the name index keys on it and its email and phone lookups
  are deleted (chalicelib.members.profiles.erase), and so is its phone's STOP record;
- its preferences and consents are deleted; its leaderboard standing and places (attribute values) are deleted;
- its message records keep kind, channel, status and times, never a reason or provider id (they never hold an
  address or text);
- its redemptions lose their delivery details (a shipping address, an email or phone given for a reward);
- its ledger entries keep kinds and amounts; the free text an admin wrote on them (an adjustment's `reason`)
  becomes "redacted"; the close's own reason is not kept. Entries keep no event properties (only the amount a refund is measured against).

Refused (409 `erasure_blocked`, with each thing in flight) while a payout is requested or approved, or a
redemption is not yet settled (pending, awaiting approval, processing, shipped: a shipment not delivered needs
the address). Idempotent: an erased member answers its status again, writing nothing.
"""
from chalicelib.core import db
from chalicelib.core.db.leaderboard_items import leaderboard_pk
from chalicelib.core.errors import Conflict
from chalicelib.members import membership, offboarding, profiles
from chalicelib.rewards import cash

UNSETTLED_REDEMPTIONS = ("pending", "awaiting_approval", "processing", "shipped")
UNSETTLED_PAYOUTS = ("requested", "approved")
REDACTED = "redacted"
FREE_TEXT = ("adjust",)  # the entries whose reason an admin wrote (the others' reasons are Laurel's own words)


def erase(org_id: str, program_id: str, external_id: str, idempotency_key: str) -> dict:
    _, member = membership.require(org_id, program_id, external_id, profile=False)
    if offboarding.erased(member):
        return offboarding.view(member)
    entries = _entries(member)
    redemptions = _redemptions(entries)
    _refuse_in_flight(redemptions, _payouts(program_id, external_id))
    offboarding.close(org_id, program_id, external_id, None, idempotency_key)  # no more earning meanwhile
    _, member = membership.require(org_id, program_id, external_id)
    phone = db.profile_of(member).phone
    profiles.erase(member)
    if phone:
        db.PhoneOptOutItem(*db.PhoneOptOutItem.key(phone)).delete()
    for item in _partition(db.member_pk(program_id, external_id)):
        if isinstance(item, db.PreferencesItem):
            item.delete()
    for item in _partition(leaderboard_pk(program_id, external_id)):
        item.delete()
    for record in _partition(db.messages_pk(program_id, external_id)):
        if isinstance(record, db.DeliveryItem) and (record.reason or record.provider_message_id):
            record.update(actions=[db.DeliveryItem.reason.remove(), db.DeliveryItem.provider_message_id.remove()])
    for redemption in redemptions:
        if redemption.delivery is not None:
            redemption.update(actions=[db.RedemptionItem.delivery.remove()])
    for entry in entries:
        if entry.kind in FREE_TEXT and entry.reason not in (None, REDACTED):
            entry.update(actions=[db.EntryItem.reason.set(REDACTED)])
    # Marked erased last: an erasure interrupted midway is not yet erased, and a retry does it all again.
    return offboarding.close(org_id, program_id, external_id, None, idempotency_key, erasure=True)


def _partition(pk: str) -> list[db.Item]:
    return list(db.Item.query(pk, consistent_read=True))


def _entries(member: db.MemberItem) -> list[db.EntryItem]:
    """The member's ledger entries (gsi1 lists every entry that moved points, newest first)."""
    keys = [(item.pk, item.sk) for item in db.Item.gsi1.query(member.pk)]
    found = db.get_many(*keys) if keys else {}
    return [found[key] for key in keys if isinstance(found.get(key), db.EntryItem)]


def _redemptions(entries: list[db.EntryItem]) -> list[db.RedemptionItem]:
    keys = sorted({db.RedemptionItem.key(entry.redemption_id) for entry in entries
                   if entry.kind == "redeem" and entry.redemption_id})
    found = db.get_many(*keys) if keys else {}
    return [found[key] for key in keys if key in found]


def _payouts(program_id: str, external_id: str) -> list[db.PayoutItem]:
    """The member's payouts, from its cash moves (each payout reserved its amount with one)."""
    keys, start = [], None
    while True:
        page, start = db.index_page("gsi3", cash.transactions_key(program_id, external_id), 100, start)
        keys += page
        if not start:
            break
    moves = db.get_many(*keys) if keys else {}
    payout_keys = sorted({db.PayoutItem.key(move.payout_id) for move in moves.values() if move.payout_id})
    found = db.get_many(*payout_keys) if payout_keys else {}
    return list(found.values())


def _refuse_in_flight(redemptions: list[db.RedemptionItem], payouts: list[db.PayoutItem]) -> None:
    in_flight = [{"redemption_id": r.redemption_id, "status": r.status} for r in redemptions
                 if r.status in UNSETTLED_REDEMPTIONS]
    in_flight += [{"payout_id": p.payout_id, "status": p.status} for p in payouts if p.status in UNSETTLED_PAYOUTS]
    if in_flight:
        raise Conflict("This member cannot be erased while something is in flight: settle, cancel or reject it "
                       "first.", {"in_flight": in_flight}, code="erasure_blocked")
