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
    active_members: int = Field(description="Distinct members with an earn or a redemption (HyperLogLog estimate, "
                                            "about 1.6 % standard error; near exact below ~2,500)")


class AnalyticsPeriod(AnalyticsCounts):
    period: str = Field(description="A day (YYYY-MM-DD) or an hour (YYYY-MM-DDTHH), UTC")


class Analytics(Answer):
    program_id: str
    from_: str = Field(alias="from")
    to: str
    granularity: Literal["day", "hour"]
    totals: AnalyticsCounts = Field(description="The range's sums; active_members counts each member once")
    series: list[AnalyticsPeriod] = Field(description="Every period of the range, in order, zeros included")

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
