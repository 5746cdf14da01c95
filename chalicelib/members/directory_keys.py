"""Where a member is filed in its program's directory (chalicelib/members/directory.py reads it):

- every member has a db.DirectoryItem, written in the transaction that creates the member (an event's, PUT
  member's or an import's) and never again: gsi1 `MEMBERS#{program_id}` / `{created_at}#{external_id}` (the
  members newest first) and gsi2 `IDS#{program_id}` / `{external_id}` (by external id prefix). A member enrolled
  by an event is listed too, and an earn of an existing member writes nothing more;
- a named member's ProfileItem carries gsi3 `NAMES#{program_id}` / `{name, case-folded}` (by name prefix),
  set by the profile write itself, so a name change costs no extra item.
"""
from chalicelib.core import db


def members_partition(program_id: str) -> str:
    return f"MEMBERS#{program_id}"


def ids_partition(program_id: str) -> str:
    return f"IDS#{program_id}"


def names_partition(program_id: str) -> str:
    return f"NAMES#{program_id}"


def folded(name: str) -> str:
    """A name as the name index sorts and searches it: case-insensitive."""
    return name.casefold()


def entry(member: db.MemberItem) -> db.DirectoryItem:
    """The member's directory entry (its keys depend only on what never changes: the program, id and creation)."""
    item = db.DirectoryItem(*db.DirectoryItem.key(member.program_id, member.external_id))
    item.gsi1pk, item.gsi1sk = members_partition(member.program_id), f"{member.created_at}#{member.external_id}"
    item.gsi2pk, item.gsi2sk = ids_partition(member.program_id), member.external_id
    return item


def index_name(profile: db.ProfileItem) -> None:
    """Point the name index at the profile's name (none: out of it)."""
    if profile.name:
        profile.gsi3pk, profile.gsi3sk = names_partition(profile.program_id), folded(profile.name)
    else:
        profile.gsi3pk = profile.gsi3sk = None
