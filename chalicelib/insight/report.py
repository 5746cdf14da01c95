"""The analytics answer: a program's totals and series over a range of days, by day or by hour.

It reads the program (one GetItem, so another organisation's program is a 404) and the range's aggregates (one
Query): the items grow with the days asked, never with members or events. Active members over the range are the
union of the periods' sketches, so a member active on several days counts once. Periods are UTC.
"""
import re
from datetime import date, timedelta

from chalicelib.core.errors import ValidationFailed
from chalicelib.insight import aggregates
from chalicelib.insight.deltas import COUNTERS
from chalicelib.insight.sketch import Sketch
from chalicelib.members import programs

MAX_DAYS = {"day": 366, "hour": 31}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def analytics(org_id: str, program_id: str, query: dict) -> dict:
    granularity = query.get("granularity") or "day"
    if granularity not in MAX_DAYS:
        raise ValidationFailed("granularity is day or hour.", {"field": "granularity"})
    first, last = _day(query, "from"), _day(query, "to")
    if last < first:
        raise ValidationFailed("to is before from.", {"field": "to"})
    days = (last - first).days + 1
    if days > MAX_DAYS[granularity]:
        raise ValidationFailed(f"At most {MAX_DAYS[granularity]} days by {granularity}.", {"field": "to"})
    programs.load(org_id, program_id)
    periods = _periods(first, days, granularity)
    found = {item.sk[2:]: item for item in aggregates.read(program_id, periods[0], periods[-1])}
    union = Sketch()
    series = []
    for period in periods:
        item = found.get(period)
        sketch = Sketch.from_bytes(item.active if item else None)
        union.merge(sketch)
        series.append({"period": period, **_counts(item), "active_members": sketch.estimate()})
    totals = {name: sum(row[name] for row in series) for name in COUNTERS}
    return {"program_id": program_id, "from": first.isoformat(), "to": last.isoformat(), "granularity": granularity,
            "totals": {**totals, "active_members": union.estimate()}, "series": series}


def _day(query: dict, name: str) -> date:
    text = query.get(name)
    if not text:
        raise ValidationFailed(f"{name} is required (YYYY-MM-DD).", {"field": name})
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValidationFailed(f"{name} is a day, YYYY-MM-DD.", {"field": name})


def _periods(first: date, days: int, granularity: str) -> list[str]:
    dates = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    return dates if granularity == "day" else [f"{day}T{hour:02d}" for day in dates for hour in range(24)]


def _counts(item) -> dict[str, int]:
    return {name: int(getattr(item, name) or 0) if item else 0 for name in COUNTERS}
