"""A member's status: active (the default, stored as nothing), closed (offboarded) or blocked (fraud).

Closed: the member left (an employee who leaves, a customer who asks to). It earns and redeems no more; the
program's `offboarding.forfeit_on_close` decides whether its available points are forfeited at the close (a
`forfeit` entry in the same transaction as the status) or kept, expiring as they would. It can be reopened.
Blocked: held for fraud, with its reason; no earning or redeeming until unblocked. A blocked member's partner
events are refused as permanent failures (409): the partner queue keeps them in its DLQ with the reason, and a
redrive after the unblock credits them (retrying them meanwhile could not succeed, and would hide the block).

The status lives on the member item itself (`st`, `sd`: absent while active), which every earn and redemption
reads already: `refuse` costs them no request and no write unit. Each change is one conditional write of the
account (its version), so a status change and an earn never interleave. Every change is idempotent by state
(closing a closed member answers it as it is), and the Idempotency-Key names a close's forfeit entry, so a
repeated close never forfeits twice.
"""
from chalicelib.core import clock, db
from chalicelib.core.errors import Conflict
from chalicelib.core.transact import Tx, with_retries
from chalicelib.members import account, membership
from chalicelib.members.entries import Posting, keep_balance, put_new
from chalicelib.webhooks import events

ACTIVE, CLOSED, BLOCKED = "active", "closed", "blocked"
FORFEIT_REASON = "forfeited at close"


def status_of(member: db.MemberItem) -> str:
    return member.status or ACTIVE


def erased(member: db.MemberItem) -> bool:
    return bool((member.status_detail or {}).get("erased_at"))


def refuse(member: db.MemberItem, action: str) -> None:
    """409 if the member may not `action` (earn, redeem) now: closed or blocked."""
    status = status_of(member)
    if status == CLOSED:
        raise Conflict(f"This member is closed: it can no longer {action}.",
                       {"member": member.external_id, "status": status}, code="member_closed")
    if status == BLOCKED:
        raise Conflict(f"This member is blocked: it cannot {action} until unblocked.",
                       {"member": member.external_id, "status": status}, code="member_blocked")


def view(member: db.MemberItem) -> dict:
    detail = member.status_detail or {}
    answer = {"member": member.external_id, "status": status_of(member), "reason": detail.get("reason"),
              "changed_at": detail.get("at")}
    for name in ("forfeited", "erased_at"):
        if detail.get(name) is not None:
            answer[name] = detail[name]
    return answer


def _forfeits(program: db.ProgramItem) -> bool:
    return bool((program.offboarding or {}).get("forfeit_on_close"))


def close(org_id: str, program_id: str, external_id: str, reason: str | None, idempotency_key: str, *,
          erasure: bool = False) -> dict:
    """Close the member (from active or blocked); its available points forfeited if the program says so."""
    def attempt() -> db.MemberItem:
        program, member = membership.require(org_id, program_id, external_id, profile=False)
        if status_of(member) == CLOSED and not (erasure and not erased(member)):
            return member  # closed already: as it is
        change = account.Account(program, member, clock.now())
        detail = {"reason": reason, "at": change.now_iso}
        if status_of(member) == CLOSED:
            detail = dict(member.status_detail or {})
        tx = Tx()
        points = change.available if _forfeits(program) and status_of(member) != CLOSED else 0
        if points:
            change.debit(points, spend=False)
            entry = change.entry(Posting(scope="off", key=idempotency_key, fingerprint=f"close:{external_id}",
                                         kind="forfeit", points=-points, reason=FORFEIT_REASON))
            keep_balance(entry, change.balance())
            put_new(tx, f"entry:{entry.pk}", entry)
            detail["forfeited"] = points
        if erasure:
            detail["erased_at"] = change.now_iso
            detail["reason"] = "erased"
        member.status, member.status_detail = CLOSED, detail
        change.stage(tx)
        tx.commit()
        _announce(member)
        return member

    return view(with_retries(attempt))


def reopen(org_id: str, program_id: str, external_id: str) -> dict:
    """A closed member active again (its forfeited points stay forfeited); an erased one cannot be."""
    return _move(org_id, program_id, external_id, CLOSED, None)


def block(org_id: str, program_id: str, external_id: str, reason: str) -> dict:
    return _move(org_id, program_id, external_id, ACTIVE, BLOCKED, reason)


def unblock(org_id: str, program_id: str, external_id: str) -> dict:
    return _move(org_id, program_id, external_id, BLOCKED, None)


def _move(org_id: str, program_id: str, external_id: str, source: str, target: str | None,
          reason: str | None = None) -> dict:
    """From `source` to `target` (None: active); a member at `target` already answers as it is; any other
    status is a 409 naming it."""
    def attempt() -> db.MemberItem:
        program, member = membership.require(org_id, program_id, external_id, profile=False)
        status = status_of(member)
        if status == (target or ACTIVE):
            return member
        if status != source or erased(member):
            raise Conflict(f"This member is {'erased' if erased(member) else status}: it cannot be "
                           f"{_verb(target, source)}.", {"member": external_id, "status": status},
                           code="member_status")
        change = account.Account(program, member, clock.now())
        member.status = target
        member.status_detail = {"reason": reason, "at": change.now_iso} if target else None
        tx = Tx()
        change.stage(tx)
        tx.commit()
        _announce(member)
        return member

    return view(with_retries(attempt))


def _verb(target: str | None, source: str) -> str:
    return {BLOCKED: "blocked", None: "reopened" if source == CLOSED else "unblocked"}[target]


def _announce(member: db.MemberItem) -> None:
    """`member.status_changed` to the organisation's endpoints: the id and the status, nothing personal."""
    events.emit(member.org_id, member.program_id, "member.status_changed",
                {"member": {"external_id": member.external_id, "status": status_of(member)}},
                event_key=f"{member.external_id}:{member.version}", occurred_at=member.updated_at)
