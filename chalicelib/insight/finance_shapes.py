"""The shapes of the finance report: a program's points liability and breakage (chalicelib.insight.finance)."""
from typing import Optional

from pydantic import Field

from chalicelib.core.wire import Answer


class Cohort(Answer):
    """The points issued in one month and what became of them, oldest points taken first."""

    issued: int
    redeemed: int
    expired: int
    outstanding: int
    ultimate_redemption_rate: float = Field(description="Redeemed so far plus the projection of what is outstanding, "
                                                        "over issued")


class LiabilityMonth(Answer):
    month: str = Field(description="YYYY-MM, UTC")
    issued: int = Field(description="Points issued net of reversals and manual debits")
    redeemed: int = Field(description="Points redeemed net of refunds")
    expired: int
    outstanding_points: int = Field(description="Points owed at the month's end")
    gross_liability: Optional[int] = Field(description="outstanding_points at point_value, minor units (null: no value)")
    cohort: Cohort


class LiabilityMethod(Answer):
    description: str
    redeemed_share_by_age: list[Optional[float]] = Field(
        description="By months since issue: of settled cohorts' points outstanding at that age, the share that ended "
                    "redeemed rather than expired (null: no settled cohort reached it)")


class Liability(Answer):
    program_id: str
    as_of: str = Field(description="The day (UTC) the report runs to: every ledger entry counted so far")
    outstanding_points: int = Field(description="Points owed now: issued, less redeemed, expired, reversed")
    expected_to_redeem: int = Field(description="Of those, the points the program's history expects to be redeemed")
    ultimate_redemption_rate: float
    breakage_rate: float = Field(description="1 - ultimate_redemption_rate: the share of points never redeemed")
    point_value: Optional[str] = Field(description="A point's value in minor units of currency (decimal)")
    currency: Optional[str]
    point_value_source: str = Field(description="Where point_value came from: the caller, the catalog, or unknown")
    liability: Optional[int] = Field(description="expected_to_redeem at point_value, minor units")
    gross_liability: Optional[int] = Field(description="outstanding_points at point_value, minor units")
    method: LiabilityMethod
    months: list[LiabilityMonth] = Field(description="Every month since the program began, oldest first")
