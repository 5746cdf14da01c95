"""The analytics answer: a program's totals and series over a range of days, by day or by hour.

It reads the program with the program's since-start counts (one BatchGetItem: another organisation's program is
a 404; the counts give the members in each tier now) and the range's aggregates (one Query): the items grow with
the days asked, never with members or events. Active members over the range are the union of the periods'
sketches, so a member active on several days counts once. Periods are UTC. The breakdown by reward (and type,
and money by currency), campaign and tier sums the range's day (or hour) items' dynamic counters.
"""
from datetime import date, timedelta

from chalicelib.core import clock, db, pagination
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.insight import aggregates
from chalicelib.insight.deltas import COUNTERS, dimension_of
from chalicelib.insight.sketch import Sketch

MAX_DAYS = {"day": 366, "hour": 31}
DEFAULT_DAYS = {"day": 30, "hour": 1}  # the range when `from` is left out: the last 30 days, or today by hour


def analytics(org_id: str, program_id: str, query: dict) -> dict:
    granularity = query.get("granularity") or "day"
    if granularity not in MAX_DAYS:
        raise ValidationFailed("granularity is day or hour.", {"field": "granularity"})
    last = pagination.day(query, "to", date.fromisoformat(clock.day(clock.now())))
    first = pagination.day(query, "from", last - timedelta(days=DEFAULT_DAYS[granularity] - 1))
    if last < first:
        raise ValidationFailed("to is before from.", {"field": "to"})
    days = (last - first).days + 1
    if days > MAX_DAYS[granularity]:
        raise ValidationFailed(f"At most {MAX_DAYS[granularity]} days by {granularity}.", {"field": "to"})
    program, since_start = aggregates.with_since_start(db.ProgramItem.key(org_id, program_id), program_id)
    if not isinstance(program, db.ProgramItem):
        raise NotFound("No such program.")  # or another organisation's: revealing nothing
    periods = _periods(first, days, granularity)
    found = {item.sk[2:]: item for item in aggregates.read(program_id, periods[0], periods[-1])}
    union = Sketch()
    series = []
    dimensions: dict[str, int] = {}
    for period in periods:
        item = found.get(period)
        sketch = Sketch.from_bytes(item.active if item else None)
        union.merge(sketch)
        series.append({"period": period, **_counts(item), "active_members": sketch.estimate()})
        for name, value in (item.dimensions if item else {}).items():
            dimensions[name] = dimensions.get(name, 0) + value
    totals = {name: sum(row[name] for row in series) for name in COUNTERS}
    return {"program_id": program_id, "from": first.isoformat(), "to": last.isoformat(), "granularity": granularity,
            "totals": {**totals, "active_members": union.estimate()}, "series": series,
            "breakdown": breakdown(dimensions, since_start, program.campaigns or [])}


def breakdown(dimensions: dict[str, int], since_start: dict[str, int], campaigns: list[dict]) -> dict:
    """The range's counts by reward, reward type, currency, campaign and tier, from the dynamic counters."""
    rewards: dict[tuple[str, str], dict] = {}
    by_campaign: dict[str, dict] = {}
    tiers: dict[str, dict] = {}
    for name, value in dimensions.items():
        parts = dimension_of(name)
        if parts[0] == "reward":
            _, reward_type, reward_id, what, *currency = parts
            row = rewards.setdefault((reward_type, reward_id), _redemptions(reward_id=reward_id,
                                                                            reward_type=reward_type))
            _add_redemptions(row, what, currency[0] if currency else None, value)
        elif parts[0] == "campaign":
            _, campaign_id, what = parts
            row = by_campaign.setdefault(campaign_id, {"campaign_id": campaign_id, "points": 0, "awards": 0})
            row["points" if what == "p" else "awards"] += value
        else:
            _, direction, tier = parts
            row = tiers.setdefault(tier, {"tier": tier, "entered": 0, "left": 0})
            row["entered" if direction == "in" else "left"] += value
    types: dict[str, dict] = {}
    for (reward_type, _), row in sorted(rewards.items()):
        merged = types.setdefault(reward_type, _redemptions(reward_type=reward_type))
        merged["redemptions"] += row["redemptions"]
        merged["cancelled"] += row["cancelled"]
        for money in row["value"]:
            _add_money(merged, money["currency"], money["redeemed"], money["cancelled"])
    money_total = _redemptions()
    for row in types.values():
        for money in row["value"]:
            _add_money(money_total, money["currency"], money["redeemed"], money["cancelled"])
    names = {campaign["id"]: campaign.get("name") for campaign in campaigns}
    now = {}
    for name, value in since_start.items():
        _, direction, tier = dimension_of(name)
        now[tier] = now.get(tier, 0) + (value if direction == "in" else -value)
    for tier in (tier for tier, members in now.items() if members):
        tiers.setdefault(tier, {"tier": tier, "entered": 0, "left": 0})
    return {"rewards": [rewards[key] for key in sorted(rewards)],
            "reward_types": [types[key] for key in sorted(types)],
            "redemption_value": money_total["value"],
            "campaigns": [{**row, "name": names.get(campaign_id)} for campaign_id, row in sorted(by_campaign.items())],
            "tiers": [{**tiers[tier], "members_now": now.get(tier, 0)} for tier in sorted(tiers)]}


def _redemptions(**names) -> dict:
    return {**names, "redemptions": 0, "cancelled": 0, "value": []}


def _add_redemptions(row: dict, what: str, currency, value: int) -> None:
    if what == "n":
        row["redemptions"] += value
    elif what == "x":
        row["cancelled"] += value
    else:
        _add_money(row, currency, value if what == "v" else 0, value if what == "vx" else 0)


def _add_money(row: dict, currency: str, redeemed: int, cancelled: int) -> None:
    money = next((m for m in row["value"] if m["currency"] == currency), None)
    if money is None:
        money = {"currency": currency, "redeemed": 0, "cancelled": 0}
        row["value"].append(money)
        row["value"].sort(key=lambda m: m["currency"])
    money["redeemed"] += redeemed
    money["cancelled"] += cancelled


def _periods(first: date, days: int, granularity: str) -> list[str]:
    dates = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    return dates if granularity == "day" else [f"{day}T{hour:02d}" for day in dates for hour in range(24)]


def _counts(item) -> dict[str, int]:
    return {name: int(getattr(item, name) or 0) if item else 0 for name in COUNTERS}
