"""Everything the table's change stream keeps, from one record: the program's hour and day aggregates, the
member's active days (the churn model's input) and, for a redemption, the reward counts behind the
recommended catalog order, and the leaderboards' places (insight/leaderboard.py). Each is safe to apply again, so a retried record changes nothing twice."""
from typing import Optional

from chalicelib.insight import aggregates, deltas, leaderboard
from chalicelib.members import activity
from chalicelib.rewards import affinity


def apply(event_name: str, new: Optional[dict], old: Optional[dict]) -> Optional[bool]:
    """Apply the record; whether its aggregates were counted now (False: before), None if it adds none."""
    change = deltas.of_record(event_name, new, old)
    counted = None
    if change is not None:
        counted = aggregates.count(change)
        if change.active is not None:
            activity.record(change.program_id, change.active, change.day)
    if event_name == "INSERT" and new and new.get("_t") == "redemption":
        affinity.count(new["program_id"], new["external_id"], new["reward_id"])
    leaderboard.apply(event_name, new, old)
    return counted
