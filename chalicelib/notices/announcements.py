"""The messages a program opts into (`messaging.announce`): `welcome` and `points_earned`.

They are published right after the write that makes them true, best effort: a publish that fails
is logged and the request still succeeds (its write is done), and delivery sends each once per
member (welcome) or transaction (points earned) however often it is published. Tier, reward,
redemption and expiry messages, which members rely on, have their own outbox or retry paths.
"""
from chalicelib.core import db
from chalicelib.core.observability import logger as log
from chalicelib.notices import notifications, policy


def _publish(kind: str, member: db.MemberItem, extra: dict) -> None:
    try:
        notifications.publish(kind, notifications.channels_of(member, None), {
            "org_id": member.org_id, "program_id": member.program_id, "external_id": member.external_id, **extra})
    except Exception:  # noqa: BLE001 - a courtesy message never fails the write it follows
        log.exception("announcement not published", extra={"kind": kind, "program_id": member.program_id})


def welcome(program: db.ProgramItem, member: db.MemberItem) -> None:
    if policy.announces(program, "welcome"):
        _publish("welcome", member, {})


def points_earned(program: db.ProgramItem, member: db.MemberItem, entry: db.EntryItem, available: int) -> None:
    """`available`: the member's points available after the earn (its account's)."""
    if int(entry.points) > 0 and policy.announces(program, "points_earned"):
        _publish("points_earned", member, {"txn_id": entry.txn_id, "points": int(entry.points),
                                           "balance": available})
