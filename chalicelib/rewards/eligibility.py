"""Whether a member may redeem a reward, and why not: one answer for the redemption (409 not_eligible)
and for the member's own view of the catalog."""
from chalicelib.core import db
from chalicelib.members.segments import in_segment


def restrictions(reward: db.RewardItem, member: db.MemberItem, now_iso: str) -> list[str]:
    """The reward's conditions on who may redeem it that the member does not meet: `tier`, `segment`."""
    reasons = []
    if reward.tiers and member.tier not in reward.tiers:
        reasons.append("tier")
    if reward.segment and not in_segment(member, reward.segment, now_iso):
        reasons.append("segment")
    return reasons


def reasons(reward: db.RewardItem, member: db.MemberItem, now_iso: str) -> list[str]:
    """Every reason the member cannot redeem one of the reward now: its restrictions, and `inactive`
    and `out_of_stock` too."""
    return ((["inactive"] if not reward.active else []) + restrictions(reward, member, now_iso)
            + (["out_of_stock"] if reward.stock is not None and reward.stock < 1 else []))


def points_short(cost: int, available: int) -> int:
    """Points a member with `available` still needs for a reward of `cost` (0: it can afford it)."""
    return max(0, cost - available)
