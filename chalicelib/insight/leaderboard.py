"""A program's leaderboards, kept from the table's change stream, never in the write that moved the points: each
member has a place per board (chalicelib/core/db/leaderboard_items.py) listed in gsi3 by zero-padded points, so a
board's top N is one Query, descending, whatever the members.

- Balance (`BAL`): the account's `available`, from each account image; a place keeps the account version it came
  from and takes only a newer one, so a redelivered or late record changes nothing (idempotent by construction).
- Earned (`ALL`, `M#{month}`, `D#{day}`): the points a ledger entry credited (an earn from any source, a manual
  credit: the analytics' `issued`), added to its member's three boards in one transaction with a marker item of the
  entry, on the condition that the marker is new: exactly once despite redelivery.
- Attributes: a member's profile attributes (at most MAX_SCOPES, values up to MAX_VALUE characters) are copied from
  each profile record into its standing; every place is written with a copy per attribute, under that attribute's
  own board partition (a team's board). A profile whose attributes change, or a member who opts out of or back into
  the leaderboards (its preferences, `leaderboard.listed`), bumps the standing's version and then sweeps the
  member's places to match: copies put and deleted, index keys removed while unlisted and put back when listed.
  Every write of a place checks the standing's version, so none lands under scopes or a listing that changed.
"""
import json
from datetime import timedelta
from typing import Optional

from chalicelib.core import clock, db
from chalicelib.core.db.leaderboard_items import EVERYONE, LeaderboardCountedItem, PlaceItem, StandingItem
from chalicelib.core.transact import ConditionFailed, Retry, Tx, with_retries

MAX_SCOPES, MAX_VALUE = 5, 100
DAY_BOARD_DAYS = 92  # a day's board is kept this long after the day
MARKER_DAYS = 7  # the stream keeps records 24 h
BALANCE, EVER = "BAL", "ALL"


def month_board(month: str) -> str:
    return f"M#{month}"


def day_board(day: str) -> str:
    return f"D#{day}"


def scope_of(name: str, value) -> str:
    """An attribute's scope: its name and its value as text (a string as it is, anything else as JSON)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return json.dumps([name, text], separators=(",", ":"), ensure_ascii=False)


def apply(event_name: str, new: Optional[dict], old: Optional[dict]) -> None:
    """Keep the leaderboards of what one stream record changed (images as plain values)."""
    if not new:
        return
    kind = new.get("_t")
    if kind == "entry" and event_name == "INSERT":
        _earned(new)
    elif kind == "member" and new.get("sk") == "MEMBER":
        if event_name == "INSERT" or (old or {}).get("available") != new.get("available"):
            _balance(new)
    elif kind == "profile":
        scopes = _scopes(new.get("attributes"))
        if event_name == "INSERT" or scopes != _scopes((old or {}).get("attributes")):
            restate(new["program_id"], new["external_id"], scopes=scopes, profile_version=int(new["version"]))
    elif kind == "prefs":
        listed = new.get("leaderboard_listed") is not False
        if listed != ((old or {}).get("leaderboard_listed") is not False):
            program_id, external_id = new["pk"].split("#", 2)[1:]
            restate(program_id, external_id, listed=listed)


def _scopes(attributes) -> dict:
    """The scopes a member's places are copied under ({scope: True}): its first MAX_SCOPES attributes by name
    whose name and value (as text) are at most MAX_VALUE characters."""
    if isinstance(attributes, str):
        attributes = json.loads(attributes)
    chosen = {}
    for name in sorted(attributes or {}):
        scope = scope_of(name, attributes[name])
        if len(scope) <= 2 * MAX_VALUE + 7 and len(name) <= MAX_VALUE and len(chosen) < MAX_SCOPES:
            chosen[scope] = True
    return chosen


# --- writing a member's places ---------------------------------------------------------------------

def _check_standing(tx: Tx, key: tuple[str, str], standing: Optional[StandingItem]) -> None:
    item = StandingItem(*key)
    tx.check("standing", item, StandingItem.pk.does_not_exist() if standing is None
             else StandingItem.version == standing.version)


def _place(program_id: str, external_id: str, board: str, scope: str, points: int, listed: bool,
           account_version: Optional[int] = None) -> PlaceItem:
    place = PlaceItem(*PlaceItem.key(program_id, external_id, board, scope), program_id=program_id,
                      external_id=external_id, board=board, scope=scope, points=points, account_version=account_version)
    if board.startswith("D#"):
        place.ttl = clock.parse(f"{board[2:]}T00:00:00Z") + timedelta(days=DAY_BOARD_DAYS + 1)
    if listed:
        place.gsi3pk = PlaceItem.board_partition(program_id, board, scope)
        place.gsi3sk = PlaceItem.board_sort(points, external_id)
    return place


def _put_places(tx: Tx, standing: Optional[StandingItem], program_id: str, external_id: str, board: str,
                points: int, before: Optional[PlaceItem], account_version: Optional[int] = None) -> None:
    """The member's place on `board` and its copy per attribute; the place only if nobody wrote it since read."""
    listed = standing.listed if standing else True
    place = _place(program_id, external_id, board, EVERYONE, points, listed, account_version)
    unchanged = (PlaceItem.pk.does_not_exist() if before is None else
                 (PlaceItem.points == before.points) & (PlaceItem.account_version == before.account_version
                                                        if before.account_version is not None
                                                        else PlaceItem.account_version.does_not_exist()))
    tx.put(f"place:{board}", place, condition=unchanged)
    for scope in (standing.scopes if standing else {}):
        tx.put(f"copy:{board}:{scope}", _place(program_id, external_id, board, scope, points, listed, account_version))


def _earned(entry: dict) -> None:
    points, kind = int(entry["points"]), entry["kind"]
    if kind not in ("earn", "adjust") or points <= 0:
        return
    try:
        with_retries(lambda: _earned_once(entry, points))
    except ConditionFailed as failed:
        if failed.label != "marker":
            raise
        # counted before: a redelivered record


def _earned_once(entry: dict, points: int) -> None:
    program_id, external_id, day = entry["program_id"], entry["external_id"], entry["created_at"][:10]
    boards = (EVER, month_board(day[:7]), day_board(day))
    standing_key = StandingItem.key(program_id, external_id)
    place_keys = [PlaceItem.key(program_id, external_id, board) for board in boards]
    found = db.get_many(standing_key, *place_keys)
    standing = _of(found.get(standing_key), StandingItem)
    tx = Tx()
    tx.put("marker", LeaderboardCountedItem(*LeaderboardCountedItem.key(entry["pk"]),
                                            ttl=clock.now() + timedelta(days=MARKER_DAYS)),
           condition=LeaderboardCountedItem.pk.does_not_exist())
    _check_standing(tx, standing_key, standing)
    for board, key in zip(boards, place_keys):
        before = _of(found.get(key), PlaceItem)
        _put_places(tx, standing, program_id, external_id, board, (int(before.points) if before else 0) + points,
                    before)
    _commit(tx)


def _balance(account: dict) -> None:
    with_retries(lambda: _balance_once(account["program_id"], account["external_id"], int(account["available"]),
                                       int(account["version"])))


def _balance_once(program_id: str, external_id: str, available: int, version: int) -> None:
    standing_key, place_key = StandingItem.key(program_id, external_id), PlaceItem.key(program_id, external_id,
                                                                                       BALANCE)
    found = db.get_many(standing_key, place_key)
    standing, before = _of(found.get(standing_key), StandingItem), _of(found.get(place_key), PlaceItem)
    if before is not None and int(before.account_version or 0) >= version:
        return  # this image, or a newer one, is there already (a redelivered or late record)
    tx = Tx()
    _check_standing(tx, standing_key, standing)
    _put_places(tx, standing, program_id, external_id, BALANCE, available, before, account_version=version)
    _commit(tx)


def _commit(tx: Tx) -> None:
    try:
        tx.commit()
    except ConditionFailed as failed:
        if failed.label == "marker":
            raise
        raise Retry() from failed  # another record of this member got in between: read again


def _of(item, model):
    return item if isinstance(item, model) else None


# --- a member's standing changed: its places follow --------------------------------------------------

def restate(program_id: str, external_id: str, scopes: Optional[dict] = None, listed: Optional[bool] = None,
            profile_version: Optional[int] = None) -> None:
    """Record the member's new scopes or listing, then make every place of theirs match it."""
    with_retries(lambda: _restate_once(program_id, external_id, scopes, listed, profile_version))


def _restate_once(program_id: str, external_id: str, scopes: Optional[dict], listed: Optional[bool],
                  profile_version: Optional[int]) -> None:
    key = StandingItem.key(program_id, external_id)
    standing = db.get(StandingItem, key)
    if profile_version is not None and standing is not None and (standing.profile_version or 0) > profile_version:
        scopes = None  # a newer profile set them already
    wanted = StandingItem(*key, scopes=standing.scopes if standing else {}, listed=standing.listed if standing else True,
                          profile_version=standing.profile_version if standing else None,
                          version=(int(standing.version) if standing else 0) + 1)
    if scopes is not None:
        wanted.scopes, wanted.profile_version = scopes, profile_version
    if listed is not None:
        wanted.listed = listed
    if standing is None or (wanted.scopes, wanted.listed, wanted.profile_version) != (
            standing.scopes, standing.listed, standing.profile_version):
        tx = Tx()
        tx.put("standing", wanted, condition=StandingItem.pk.does_not_exist() if standing is None
               else StandingItem.version == standing.version)
        _commit(tx)
    else:
        wanted = standing
    _sweep(program_id, external_id, wanted)


def _sweep(program_id: str, external_id: str, standing: StandingItem) -> None:
    """Each board whose places differ from the standing: its place and copies rewritten, stale copies deleted."""
    boards: dict[str, dict[str, PlaceItem]] = {}
    for place in PlaceItem.query(PlaceItem.key(program_id, external_id, "")[0], PlaceItem.sk.startswith("R#"),
                                 consistent_read=True):
        boards.setdefault(place.board, {})[place.scope] = place
    wanted_scopes = set(standing.scopes)
    for board, places in boards.items():
        main = places.get(EVERYONE)
        if main is None:
            continue
        copies = set(places) - {EVERYONE}
        listed_now = {scope for scope, place in places.items() if place.gsi3pk is not None}
        in_order = copies == wanted_scopes and listed_now == (set(places) if standing.listed else set())
        if in_order and all(int(place.points) == int(main.points) for place in places.values()):
            continue
        tx = Tx()
        tx.check("standing", StandingItem(*StandingItem.key(program_id, external_id)),
                 StandingItem.version == standing.version)
        _put_places(tx, standing, program_id, external_id, board, int(main.points), main,
                    account_version=int(main.account_version) if main.account_version is not None else None)
        for scope in copies - wanted_scopes:
            tx.delete(f"stale:{board}:{scope}", places[scope])
        _commit(tx)
