"""The shapes of analytics answers: a program's totals and series over a range (chalicelib.insight.report), and its
leaderboards (chalicelib.insight.leaderboard_page)."""
from typing import Literal, Optional

from pydantic import ConfigDict, Field

from chalicelib.core.wire import Answer


class AnalyticsCounts(Answer):
    """Points are whole points; a period's counts are the ledger entries created in it (UTC)."""

    issued: int = Field(description="Points credited, from every source below")
    issued_rules: int = Field(description="Points an event earned (the program's rules and its running campaigns)")
    issued_referrals: int
    issued_recognition: int
    issued_tier_bonuses: int
    issued_adjustments: int = Field(description="Manual credits")
    issued_other: int
    pending: int = Field(description="Of the points issued, those held pending (a return window) when earned")
    redeemed: int
    refunded: int = Field(description="Points given back by cancelled or failed redemptions")
    expired: int
    reversed: int = Field(description="Points taken back by refunds and returns, and debt settled")
    adjusted_down: int = Field(description="Manual debits")
    enrolled: int = Field(description="Members who joined")
    released: int = Field(description="Pending points that became available (their return window ended)")
    redemptions: int = Field(description="Redemptions made (of any quantity)")
    redemptions_cancelled: int = Field(description="Redemptions given back (failed, rejected, cancelled, returned), "
                                                   "counted when given back; not taken off `redemptions`")
    campaign_points: int = Field(description="Of issued_rules, the points running campaigns gave")
    campaign_awards: int = Field(description="Earns a campaign gave points to (one per campaign per earn)")
    referral_codes: int = Field(description="Referral codes issued to members")
    referrals_attached: int = Field(description="Referees attached to a referrer's code")
    referrals_qualified: int = Field(description="Referees whose qualifying event rewarded the referral")
    referrals_paid: int = Field(description="Referrers' bonuses credited")
    tier_ups: int = Field(description="Members moved up a tier")
    tier_downs: int = Field(description="Members moved down a tier")
    active_members: int = Field(description="Distinct members with an earn or a redemption (HyperLogLog estimate, "
                                            "about 1.6 % standard error; near exact below ~2,500)")


class AnalyticsPeriod(AnalyticsCounts):
    period: str = Field(description="A day (YYYY-MM-DD) or an hour (YYYY-MM-DDTHH), UTC")


class RedemptionMoney(Answer):
    currency: str
    redeemed: int = Field(description="The rewards' money value redeemed, minor units (value × quantity, as redeemed)")
    cancelled: int = Field(description="Of the value redeemed, what was given back in the range (minor units)")


class RewardRedemptions(Answer):
    reward_id: str
    reward_type: str
    redemptions: int
    cancelled: int = Field(description="Redemptions given back in the range")
    value: list[RedemptionMoney] = Field(description="By currency; empty for a reward without a money value")


class RewardTypeRedemptions(Answer):
    reward_type: str
    redemptions: int
    cancelled: int
    value: list[RedemptionMoney]


class CampaignAwards(Answer):
    campaign_id: str
    name: Optional[str] = Field(description="The campaign's name while the program still lists it")
    points: int = Field(description="Points the campaign gave in the range (its spend)")
    awards: int = Field(description="Earns it gave points to")


class TierMovements(Answer):
    tier: str
    entered: int = Field(description="Members who moved into the tier in the range")
    left: int = Field(description="Members who moved out of it in the range")
    members_now: int = Field(description="Members in the tier now (its moves in less its moves out since the "
                                         "analytics began)")


class AnalyticsBreakdown(Answer):
    rewards: list[RewardRedemptions]
    reward_types: list[RewardTypeRedemptions]
    redemption_value: list[RedemptionMoney] = Field(description="All rewards' money value, by currency")
    campaigns: list[CampaignAwards]
    tiers: list[TierMovements] = Field(description="Every tier moved into or out of in the range or held now")


class Analytics(Answer):
    program_id: str
    from_: str = Field(alias="from")
    to: str
    granularity: Literal["day", "hour"]
    totals: AnalyticsCounts = Field(description="The range's sums; active_members counts each member once")
    series: list[AnalyticsPeriod] = Field(description="Every period of the range, in order, zeros included")
    breakdown: AnalyticsBreakdown = Field(description="The range's redemptions by reward, type and currency, "
                                                      "campaigns' spend and awards, and tier movements")

    model_config = ConfigDict(**Answer.model_config, serialize_by_alias=True, populate_by_name=True)


class LeaderboardPlace(Answer):
    rank: int = Field(description="1 for the most points; ties share a rank (1, 2, 2, 4)")
    external_id: Optional[str] = Field(description="The member (null in a member session, except for the member "
                                                   "itself)")
    name: Optional[str] = Field(description="The member's name from its profile (null: none set)")
    points: int = Field(description="Available points (by=balance) or points earned in the period (by=earned)")
    you: bool = Field(description="This is the member of the session asking")


class Leaderboard(Answer):
    """Kept from the table's change stream: seconds behind the ledger. A member who opted out (its preferences,
    leaderboard.listed=false) never appears."""

    program_id: str
    by: Literal["balance", "earned"]
    period: Optional[str] = Field(description="by=earned: the month (YYYY-MM), the day (YYYY-MM-DD, UTC) or all")
    attribute: Optional[str] = Field(description="The attribute the board is restricted to, as name:value")
    items: list[LeaderboardPlace] = Field(description="Best first")
    next_cursor: Optional[str]
