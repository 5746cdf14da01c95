"""The kinds of message Laurel sends a member, and what each one carries.

For each kind: its category (a member may turn `marketing` off separately from `transactional`),
whether it may wait for the end of the member's quiet hours, the placeholders its templates may
use, the payload a publisher must give (`notifications.publish`), and the subject: what the
message is about, made from the payload, so however often the same message is published or
delivered, the member gets it once per channel.

Every payload also carries the member: `org_id`, `program_id`, `external_id`.
"""
from dataclasses import dataclass, field

MEMBER_FIELDS = ("org_id", "program_id", "external_id")
COMMON = ("name", "program", "currency")  # every kind: the member's name, the program's name and currency


@dataclass(frozen=True)
class Kind:
    name: str
    category: str  # "transactional" or "marketing"
    deferrable: bool  # waits for the end of quiet hours; otherwise it goes at once
    values: tuple[str, ...]  # placeholders beyond COMMON
    payload: tuple[str, ...]  # required payload fields beyond MEMBER_FIELDS
    subject_fields: tuple[str, ...]  # the payload fields that say what the message is about
    sample: dict = field(default_factory=dict)  # for previews

    @property
    def placeholders(self) -> tuple[str, ...]:
        return COMMON + self.values

    def subject(self, payload: dict) -> str:
        return ":".join([self.name, *(str(payload[name]) for name in self.subject_fields)])


KINDS = {kind.name: kind for kind in (
    Kind("welcome", "transactional", False, (), (), ()),
    Kind("points_earned", "transactional", True, ("points", "balance"), ("txn_id", "points", "balance"),
         ("txn_id",), {"points": "120", "balance": "1250"}),
    Kind("reward_delivered", "transactional", False, ("reward", "code"), ("redemption_id",), ("redemption_id",),
         {"reward": "Pastry voucher", "code": "PASTRY-0001"}),
    Kind("redemption_status", "transactional", False, ("reward", "status"), ("redemption_id", "status"),
         ("redemption_id", "status"), {"reward": "Pastry voucher", "status": "failed"}),
    Kind("donation_receipt", "transactional", True, ("charity", "points"), ("redemption_id", "charity", "points"),
         ("redemption_id",), {"charity": "Clean Seas", "points": "500"}),
    Kind("tier_up", "transactional", True, ("tier", "previous_tier"), ("tier", "day"), ("tier", "day"),
         {"tier": "Gold", "previous_tier": "Silver"}),
    Kind("tier_down", "transactional", True, ("tier", "previous_tier"), ("tier", "day"), ("tier", "day"),
         {"tier": "Silver", "previous_tier": "Gold"}),
    Kind("points_expiring", "transactional", True, ("points", "day"), ("day", "points"), ("day",),
         {"points": "300", "day": "2026-12-31"}),
    Kind("campaign_announcement", "marketing", True, ("title", "body"), ("broadcast_id",), ("broadcast_id",),
         {"title": "Double points this weekend", "body": "Every purchase earns twice the points until Sunday."}),
)}

def missing_fields(kind: Kind, payload: dict) -> list[str]:
    return [name for name in MEMBER_FIELDS + kind.payload if name not in payload]
