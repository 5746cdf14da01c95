"""What the change stream keeps for leaderboards (chalicelib/insight/leaderboard.py), under the key prefix `LB#` so
the stream consumer may write them and nothing else of the member's.

| item | pk | sk | indexes |
|---|---|---|---|
| member's standing (attribute copy, listed or not) | `LB#{program_id}#{external_id}` | `STATE` | |
| member's place on one board (points) | `LB#{program_id}#{external_id}` | `R#{board}#{scope}` | gsi3 `LBI#{program_id}#{board}#{scope}` / `{points, 15 digits}#{external_id mirrored}` while listed: the board, best first (descending) |
| leaderboard record counted (marker, expires after a week) | `LBDONE#{ledger entry pk}` | `DONE` | |

A board is `BAL` (available points), `ALL` (points earned ever), `M#{YYYY-MM}` or `D#{YYYY-MM-DD}` (earned in that
month or day). Its scope is `*` (the whole program) or `{attribute}={value}`: a copy of the member's unscoped item
per attribute it has, so a team's board is a partition of its own.
"""
from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.core.db.table import Item

EVERYONE = "*"
POINTS_DIGITS = 15


def leaderboard_pk(program_id: str, external_id: str) -> str:
    return f"LB#{program_id}#{external_id}"


class StandingItem(Item, discriminator="lbstate"):
    """A member's standing on its program's leaderboards: the attributes its boards are copied under
    (`{name: value as text}`), whether it is listed, and a version every change of those bumps, which each write of
    its places checks, so none is written under scopes or a listing that changed meanwhile."""

    scopes = JSONAttribute(default=dict)
    listed = BooleanAttribute(default=True)
    profile_version = NumberAttribute(null=True)  # the profile item's version these scopes came from
    version = NumberAttribute(default=0)

    @staticmethod
    def key(program_id: str, external_id: str) -> tuple[str, str]:
        return leaderboard_pk(program_id, external_id), "STATE"


class PlaceItem(Item, discriminator="lbplace"):
    """A member's points on one board, in one scope; listed in gsi3 by points while the member is listed."""

    program_id = UnicodeAttribute(attr_name="p")
    external_id = UnicodeAttribute(attr_name="m")
    board = UnicodeAttribute(attr_name="b")
    scope = UnicodeAttribute(attr_name="s")
    points = NumberAttribute(attr_name="n")
    account_version = NumberAttribute(null=True, attr_name="av")  # BAL: the account version the points are from
    ttl = TTLAttribute(null=True)  # a day's board is kept for a while, then expires

    @staticmethod
    def key(program_id: str, external_id: str, board: str, scope: str = EVERYONE) -> tuple[str, str]:
        return leaderboard_pk(program_id, external_id), f"R#{board}#{scope}"

    @staticmethod
    def board_partition(program_id: str, board: str, scope: str = EVERYONE) -> str:
        return f"LBI#{program_id}#{board}#{scope}"

    @staticmethod
    def board_sort(points: int, external_id: str) -> str:
        """Points, then the external id mirrored (each printable ASCII character c as 0x9f - c, then a closing
        0x7f), so that a descending read lists the most points first and ties by external id from A to Z."""
        return f"{max(points, 0):0{POINTS_DIGITS}d}#{external_id.translate(_MIRROR)}\x7f"

    @staticmethod
    def of_board_sort(sort_key: str) -> tuple[int, str]:
        """(points, external id) of a `board_sort`."""
        points, _, mirrored = sort_key.partition("#")
        return int(points), mirrored[:-1].translate(_MIRROR)


_MIRROR = {code: 0x9F - code for code in range(0x21, 0x7F)}  # external ids are printable ASCII (core/ids.py)


class LeaderboardCountedItem(Item, discriminator="lbdone"):
    """Marks a ledger entry as added to its member's earned boards."""

    ttl = TTLAttribute(null=True)

    @staticmethod
    def key(entry_pk: str) -> tuple[str, str]:
        return f"LBDONE#{entry_pk}", "DONE"
