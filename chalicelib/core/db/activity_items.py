"""What the change stream keeps for predictions and recommendations: each member's recency and frequency and
distinct redeemed rewards (under `ACT#`), each program's fitted churn model (`CHURN#`) and its rewards'
redemption counts (`AFF#`). Their own key prefixes, so the stream consumer may write these and nothing else."""
from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.core.db.table import Item, shard_of


def activity_pk(program_id: str, external_id: str) -> str:
    return f"ACT#{program_id}#{external_id}"


class ActivityItem(Item, discriminator="activity"):
    """A member's first and last active day (an earn or a redemption) and how many active days followed the
    first; while the last one is `day`, listed under gsi2 `ACTIVE#{day}#{shard}` for the nightly refresh."""

    program_id = UnicodeAttribute(attr_name="p")
    external_id = UnicodeAttribute(attr_name="m")
    first = UnicodeAttribute(attr_name="f")
    last = UnicodeAttribute(attr_name="l")
    repeats = NumberAttribute(attr_name="n")

    @staticmethod
    def key(program_id: str, external_id: str) -> tuple[str, str]:
        return activity_pk(program_id, external_id), "SUMMARY"

    @staticmethod
    def active_on(day: str, program_id: str, external_id: str) -> tuple[str, str]:
        """The gsi2 keys that list the member among those active on `day`."""
        return f"ACTIVE#{day}#{shard_of(external_id)}", f"{program_id}#{external_id}"


class ChurnModelItem(Item, discriminator="churn_model"):
    """A program's churn model, refitted nightly on a uniform sample of its members' summaries (reservoir
    sampling: each member first seen active enters with probability size / seen)."""

    r = NumberAttribute(null=True)  # None until a fit had members enough
    alpha = NumberAttribute(null=True)
    a = NumberAttribute(null=True)
    b = NumberAttribute(null=True)
    fitted_at = UnicodeAttribute(null=True)
    day = UnicodeAttribute(null=True)  # the last day whose active members it took in
    seen = NumberAttribute(default=0)  # members first seen active, the reservoir's denominator
    sample = JSONAttribute(default=dict)  # {external_id: [first, last, repeats]}

    @staticmethod
    def key(program_id: str) -> tuple[str, str]:
        return f"CHURN#{program_id}", "MODEL"


class RedeemedItem(Item, discriminator="redeemed"):
    """The distinct rewards a member has redeemed: its history for the recommended catalog order."""

    rewards = UnicodeSetAttribute(null=True, attr_name="r")
    size = NumberAttribute(default=0, attr_name="c")  # how many: the set only grows, so this is its version

    @staticmethod
    def key(program_id: str, external_id: str) -> tuple[str, str]:
        return activity_pk(program_id, external_id), "REDEEMED"


class AffinityItem(Item, discriminator="affinity"):
    """One reward's redemption counts in its program: the members who redeemed it (`redeemers`), and, as
    attributes `w_{other reward id}` written by affinity.py, the members who redeemed both."""

    redeemers = NumberAttribute(default=0, attr_name="n")

    @staticmethod
    def key(program_id: str, reward_id: str) -> tuple[str, str]:
        return f"AFF#{program_id}", reward_id
