"""Referrals: a member's code, a referee attached once, both rewarded on the referee's qualifying event.

Codes are derived from the member (HMAC with the deployment's key), so a member has one code
forever; a small lookup item maps a code back to its member. Attaching refuses self-referral and
cycles; the reward is a ledger entry keyed by the referee, so each referee rewards once.
"""
import base64
import hashlib
import hmac

from chalicelib.core import clock, db, settings
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.transact import ConditionFailed, Retry, Tx, with_retries
from chalicelib.members import membership
from chalicelib.members.account import Account
from chalicelib.members.entries import Posting, put_new

MAX_CHAIN = 32  # referral chains are walked this far to refuse cycles


def code_of(program_id: str, external_id: str) -> str:
    digest = hmac.new(settings.signing_key(), f"referral:{program_id}:{external_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:5]).decode()  # 8 characters, A-Z2-7


def _scheme(program: db.ProgramItem) -> dict:
    if not program.referral:
        raise Conflict("This program has no referral scheme.", {"field": "referral"})
    return program.referral


def member_code(org_id: str, program_id: str, external_id: str) -> dict:
    """The member's referral code (made known to the lookup on first ask; idempotent)."""
    program, _ = membership.require(org_id, program_id, external_id, profile=False)
    _scheme(program)
    code = code_of(program_id, external_id)
    db.ReferralCodeItem(*db.ReferralCodeItem.key(program_id, code), external_id=external_id).save()
    return {"code": code}


def attach(org_id: str, program_id: str, external_id: str, code: str) -> tuple[dict, bool]:
    """Record who referred the member; the same referrer again is a no-op, any other is refused."""
    def attempt() -> tuple[dict, bool]:
        program, member = membership.require(org_id, program_id, external_id)
        _scheme(program)
        owner = db.get(db.ReferralCodeItem, db.ReferralCodeItem.key(program_id, code.upper()), consistent=False)
        if owner is None:
            raise NotFound("No such referral code.", {"field": "code"})
        referrer = owner.external_id
        if member.referred_by:
            if member.referred_by == referrer:
                return view(member), False
            raise Conflict("This member was already referred by someone else.", {"field": "code"})
        if referrer == external_id:
            raise Conflict("A member cannot refer itself.", {"field": "code"})
        chain = _chain(program_id, referrer, external_id)
        member.referred_by, member.referral = referrer, "pending"
        member.updated_at = clock.iso(clock.now())
        # The chain as read is a condition of the write: two members attaching each other's codes at the same
        # moment cannot both pass (the second reads the first's link and finds the cycle).
        tx = Tx()
        for link in chain:
            referred_by = db.MemberItem.referred_by
            tx.check(f"chain:{link.external_id}", link,
                     referred_by == link.referred_by if link.referred_by else referred_by.does_not_exist())
        tx.put("member", member)
        try:
            tx.commit()
        except ConditionFailed as changed:
            raise Retry() from changed
        return view(member), True

    return with_retries(attempt)


def _chain(program_id: str, referrer: str, referee: str) -> list[db.MemberItem]:
    """The referrer and those who referred it in turn (read consistently); 409 if the referee is among them."""
    chain, current = [], referrer
    for _ in range(MAX_CHAIN):
        item = db.get(db.MemberItem, db.MemberItem.key(program_id, current))
        if item is None:
            return chain
        chain.append(item)
        if not item.referred_by:
            return chain
        if item.referred_by == referee:
            raise Conflict("This referral would make a cycle.", {"field": "code"})
        current = item.referred_by
    raise Conflict("This referral chain is too long.", {"field": "code"})


def view(member: db.MemberItem) -> dict:
    return {"referred_by": member.referred_by, "status": member.referral}


def reward_on(change: Account, event_type: str, tx: Tx) -> int:
    """On the referee's qualifying event (`change` is the referee's account): the referrer's reward joins
    the transaction; returns the referee's own bonus, which the caller adds to the event's points."""
    program, member = change.program, change.member
    scheme = program.referral or {}
    if member.referral != "pending" or event_type != scheme.get("qualifying_event"):
        return 0
    member.referral = "rewarded"
    referrer = db.get(db.MemberItem, db.MemberItem.key(program.program_id, member.referred_by))
    points = int(scheme.get("referrer_points", 0))
    if referrer is not None and points:
        rewarded = Account(program, referrer, change.now)
        expires_at = rewarded.credit(points, toward_window=True)
        entry = rewarded.entry(Posting(scope="referral", key=member.external_id, fingerprint=member.external_id,
                                       kind="earn", points=points, reason="referral bonus", expires_at=expires_at))
        rewarded.settle(tx)
        rewarded.stage(tx, label="referrer")
        put_new(tx, "referral", entry)
    return int(scheme.get("referee_points", 0))
