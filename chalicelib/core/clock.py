"""Time in one place, so tests and jobs can agree on 'now' and on the ISO-8601 'Z' format."""
from datetime import datetime, timedelta, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def expiry(earned: datetime, days: int) -> str:
    """Points earned now expire at the end of the UTC day `days` later: one lot per day, not per award."""
    last_day = (earned + timedelta(days=days)).astimezone(timezone.utc)
    return last_day.strftime("%Y-%m-%dT23:59:59.999Z")


def day(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


def days_between(start: str, end: str) -> list[str]:
    """Every ISO day from start to end inclusive (for jobs that catch up on missed days)."""
    first, last = datetime.fromisoformat(start), datetime.fromisoformat(end)
    return [(first + timedelta(days=n)).strftime("%Y-%m-%d") for n in range((last - first).days + 1)]


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)
