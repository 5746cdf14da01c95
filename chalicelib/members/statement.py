"""A member's statement: every ledger entry in a range of days, oldest first, as a sheet.

Read from gsi1 (a member's transactions, `{created_at}#{txn_id}`), a page at a time, up to MAX_ENTRIES: a longer
history is asked for in ranges (`from`, `to`)."""
from datetime import date

from chalicelib.core import db, pagination, spreadsheets
from chalicelib.core.errors import ValidationFailed
from chalicelib.members import entries
from chalicelib.members.membership import require

MAX_ENTRIES = 10_000
COLUMNS = ("created_at", "id", "kind", "points", "balance_after", "reason", "event_id", "redemption_id", "expires_at",
           "reverses", "available_at")


def statement_csv(org_id: str, program_id: str, external_id: str, query: dict) -> str:
    require(org_id, program_id, external_id, profile=False)
    first = pagination.day(query, "from", date.min).isoformat()
    last = pagination.day(query, "to", date.max).isoformat()
    if last < first:
        raise ValidationFailed("to is before from.", {"field": "to"})
    results = db.Item.gsi1.query(db.member_pk(program_id, external_id),
                                 db.Item.gsi1sk.between(first, f"{last}T99"), limit=MAX_ENTRIES + 1)
    views = [entries.transaction_view(entry) for entry in results]
    if len(views) > MAX_ENTRIES:
        raise ValidationFailed(f"More than {MAX_ENTRIES} entries: ask for a shorter range (from, to).", {"field": "from"})
    return spreadsheets.table([COLUMNS, *([view.get(name) for name in COLUMNS] for view in views)])
