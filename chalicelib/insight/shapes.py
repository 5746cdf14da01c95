"""The shapes of analytics answers: a program's totals and series over a range (chalicelib.insight.report)."""
from typing import Literal

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
