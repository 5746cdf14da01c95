"""Recognition: one member (an employee) gives points to another from a monthly allowance.

The allowance is counted per calendar month (UTC) on the giver's item, so it resets by itself
when the month turns and can never go below zero: the giver's and the receiver's items move in
one transaction, under their versions, with the gift's Idempotency-Key as the entry's key.
"""
from chalicelib.core import clock, db
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.transact import Tx
from chalicelib.members import ledger
from chalicelib.members.account import Account
from chalicelib.members.entries import Posting


def _scheme(program: db.ProgramItem) -> dict:
    if not program.recognition:
        raise Conflict("This program has no recognition allowance.", {"field": "recognition"})
    return program.recognition


def allowance_left(program: db.ProgramItem, giver: db.MemberItem, month: str) -> int:
    return int(_scheme(program)["monthly_allowance"]) - int((giver.given or {}).get(month, 0))


def give(org_id: str, program_id: str, giver_id: str, request: dict, idempotency_key: str) -> tuple[dict, bool]:
    receiver_id, points, message = request["to"], request["points"], request["message"]
    fingerprint = ledger.fingerprint("recognition", giver_id, receiver_id, points, message)

    def attempt() -> db.EntryItem:
        program_key = db.ProgramItem.key(org_id, program_id)
        giver_key, receiver_key = (db.MemberItem.key(program_id, m) for m in (giver_id, receiver_id))
        found = db.get_many(program_key, giver_key, receiver_key)
        program, giver, receiver = found.get(program_key), found.get(giver_key), found.get(receiver_key)
        if program is None or giver is None:
            raise NotFound("No such program or member.")
        scheme = _scheme(program)
        if receiver_id == giver_id:
            raise Conflict("A member cannot recognise itself.", {"field": "to"})
        if scheme.get("max_per_gift") and points > scheme["max_per_gift"]:
            raise Conflict(f"A gift is at most {scheme['max_per_gift']} points.", {"field": "points"})
        now = clock.now()
        month = clock.day(now)[:7]
        left = allowance_left(program, giver, month)
        if points > left:
            raise Conflict(f"Only {left} points of this month's allowance are left.",
                           {"allowance_left": left}, code="allowance_exceeded")
        # Only now: a member who could not give anyway learns nothing of who else is a member.
        if receiver is None:
            raise NotFound("No such member to recognise.", {"field": "to"})
        giver.given = {month: int((giver.given or {}).get(month, 0)) + points}
        giver.updated_at = clock.iso(now)
        gift = Account(program, receiver, now)
        expires_at = gift.credit(points, toward_window=True)
        entry = gift.entry(Posting(scope="rcg", key=idempotency_key, fingerprint=fingerprint, kind="earn",
                                   points=points, reason=f"recognition from {giver_id}: {message}",
                                   expires_at=expires_at))
        entry.snapshot = {"from": giver_id, "message": message, "allowance_left": left - points}
        tx = Tx()
        gift.settle(tx)  # a tier bonus comes after the gift
        tx.put("member", giver)
        gift.commit(entry, tx)
        return entry

    return ledger.idempotent(program_id, "rcg", idempotency_key, fingerprint, attempt, answer)


def answer(entry: db.EntryItem) -> dict:
    return {"id": entry.txn_id, "from": entry.snapshot["from"], "to": entry.external_id,
            "points": int(entry.points), "message": entry.snapshot["message"],
            "allowance_left": entry.snapshot["allowance_left"], "created_at": entry.created_at}
