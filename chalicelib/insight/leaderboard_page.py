"""A page of a program's leaderboard: its top members by balance or by points earned in a month, a day or ever,
in the whole program or among the members with an attribute value, ties sharing a rank (1, 2, 2, 4) and listed by
external id.

Two requests for up to 49 members: one Query of the board's gsi3 partition, descending, `Limit` the page (the
points and the member are in the index's sort key), then one BatchGetItem of the program (another organisation's
program is a 404) and each member's profile (its name) and preferences (a member who opted out a moment ago,
before the stream moved its places off the index, is left out). A member session sees names and points only,
never another member's external id, email or phone.
"""
import json
import re
from datetime import date, timedelta
from typing import Optional

from chalicelib.core import aws, clock, db, pagination, settings
from chalicelib.core.db.leaderboard_items import EVERYONE, PlaceItem
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.insight.leaderboard import BALANCE, DAY_BOARD_DAYS, EVER, day_board, month_board, scope_of

ASKED = ("by", "period", "attribute", "limit", "cursor")
DEFAULT_LIMIT = 10
_MONTH, _DAY = re.compile(r"\d{4}-\d{2}"), re.compile(r"\d{4}-\d{2}-\d{2}")
HOW = {
    "by": "by is balance (available points) or earned (points earned in the period).",
    "period": "period is a month (YYYY-MM), a day (YYYY-MM-DD) or all, and goes with by=earned.",
    "attribute": "attribute must be name:value, such as attribute=team:eng (the value matched exactly).",
}


def _refuse(name: str, message: Optional[str] = None) -> ValidationFailed:
    return ValidationFailed(message or HOW[name], {"field": name})


def board_from(query: dict) -> tuple[str, str, str, Optional[str]]:
    """(by, board, scope, period) asked for; 400 for an unknown parameter or a value that cannot match."""
    unknown = sorted(set(query) - set(ASKED))
    if unknown:
        raise _refuse(unknown[0], f"{unknown[0]} is not a parameter of the leaderboard; it takes "
                                  f"{', '.join(ASKED)}.")
    by = query.get("by", "balance")
    if by not in ("balance", "earned"):
        raise _refuse("by")
    period = query.get("period")
    if by == "balance":
        if period is not None:
            raise _refuse("period")
        board = BALANCE
    else:
        period = period or "all"
        board = EVER if period == "all" else _period_board(period)
    scope = EVERYONE
    if "attribute" in query:
        name, colon, value = query["attribute"].partition(":")
        if not (name and colon):
            raise _refuse("attribute")
        scope = scope_of(name, value)
    return by, board, scope, period


def _period_board(period: str) -> str:
    try:
        if _MONTH.fullmatch(period):
            date.fromisoformat(f"{period}-01")
            return month_board(period)
        if _DAY.fullmatch(period):
            day = date.fromisoformat(period)
            if day < clock.now().date() - timedelta(days=DAY_BOARD_DAYS):
                raise _refuse("period", f"A day's leaderboard is kept {DAY_BOARD_DAYS} days; ask for its month.")
            return day_board(period)
    except ValueError:
        pass
    raise _refuse("period")


def leaderboard(org_id: str, program_id: str, query: dict, viewer: Optional[str] = None) -> dict:
    """`viewer`: the member of a member session (it sees itself marked, and no other member's id)."""
    by, board, scope, period = board_from(query)
    limit = pagination.limit_from({"limit": query["limit"]} if "limit" in query else {"limit": str(DEFAULT_LIMIT)})
    cursor_scope = "leaderboard:" + json.dumps([program_id, board, scope], separators=(",", ":"))
    cursor = pagination.decode(query, cursor_scope) or {}
    page = aws.client("dynamodb").query(
        TableName=settings.table_name(), IndexName="gsi3", KeyConditionExpression="gsi3pk = :p",
        ExpressionAttributeValues={":p": {"S": PlaceItem.board_partition(program_id, board, scope)}},
        Limit=limit, ScanIndexForward=False, **({"ExclusiveStartKey": cursor["key"]} if "key" in cursor else {}))
    places = []
    for item in page.get("Items", []):
        points, external_id = PlaceItem.of_board_sort(item["gsi3sk"]["S"])
        places.append((external_id, points))
    program_key = db.ProgramItem.key(org_id, program_id)
    found = db.get_many(program_key, *(key for external_id, _ in places for key in _member_keys(program_id, external_id)))
    if not isinstance(found.get(program_key), db.ProgramItem):
        raise NotFound("No such program.")
    shown, rank, last_points = int(cursor.get("shown", 0)), int(cursor.get("rank", 0)), cursor.get("points")
    items = []
    for external_id, points in places:
        profile_key, preferences_key = _member_keys(program_id, external_id)
        preferences = found.get(preferences_key)
        if isinstance(preferences, db.PreferencesItem) and preferences.leaderboard_listed is False:
            continue
        shown += 1
        rank = rank if points == last_points else shown
        last_points = points
        profile = found.get(profile_key)
        name = profile.name if isinstance(profile, db.ProfileItem) else None
        you = external_id == viewer
        items.append({"rank": rank, "external_id": external_id if viewer is None or you else None, "name": name,
                      "points": points, "you": you})
    more = page.get("LastEvaluatedKey")
    return {"program_id": program_id, "by": by, "period": period, "attribute": query.get("attribute"),
            "items": items, "next_cursor": pagination.encode(
                {"key": more, "shown": shown, "rank": rank, "points": last_points} if more else None, cursor_scope)}


def _member_keys(program_id: str, external_id: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return db.ProfileItem.key(program_id, external_id), db.PreferencesItem.key(program_id, external_id)
