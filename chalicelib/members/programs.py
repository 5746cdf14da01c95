"""Loyalty programs: their earn rules, tiers and expiry policy."""
from chalicelib.core import clock, db, ids, pagination
from chalicelib.core.errors import NotFound
from chalicelib.core.transact import save_or_retry, with_retries
from chalicelib.notices import policy


def view(program: db.ProgramItem) -> dict:
    return {"id": program.program_id, "name": program.name, "currency_name": program.currency_name,
            "locale": program.locale,
            "points_expiry_days": int(program.points_expiry_days) if program.points_expiry_days else None,
            "clawback": program.clawback, "referral": program.referral, "recognition": program.recognition,
            "messaging": policy.settings_of(program),
            "earn_rules": program.earn_rules or [], "tiers": program.tiers or [], "tier_policy": program.tier_policy,
            "redemption_policy": program.redemption_policy, "budget": program.budget,
            **({"offboarding": program.offboarding} if program.offboarding else {}),
            "created_at": program.created_at, "updated_at": program.updated_at}


def load(org_id: str, program_id: str) -> db.ProgramItem:
    """The program if it is this organisation's; any other answers 404, revealing nothing."""
    program = db.get(db.ProgramItem, db.ProgramItem.key(org_id, program_id))
    if program is None:
        raise NotFound("No such program.")
    return program


def create(org_id: str, fields: dict) -> dict:
    now_iso = clock.iso(clock.now())
    program_id = ids.new_id("prg")
    program = db.ProgramItem(*db.ProgramItem.key(org_id, program_id), org_id=org_id, program_id=program_id,
                             created_at=now_iso, updated_at=now_iso, **fields)
    program.save(condition=db.ProgramItem.pk.does_not_exist())
    return view(program)


def list_(org_id: str, query: dict) -> dict:
    return pagination.query_page(db.ProgramItem, f"ORG#{org_id}", "PRG#", query, f"programs:{org_id}", view)


def update(org_id: str, program_id: str, changes: dict) -> dict:
    """Changes apply to events from now on; entries already written keep what they earned.

    New tiers or a new tier policy place every member afresh: the caller then starts
    `tier_review.sweep_after_change`.
    """
    return view(with_retries(lambda: _update(org_id, program_id, changes)))


def _update(org_id: str, program_id: str, changes: dict) -> db.ProgramItem:
    program = load(org_id, program_id)
    updated_at = program.updated_at
    for name, value in changes.items():
        setattr(program, name, value)
    program.updated_at = clock.iso(clock.now())
    save_or_retry(program, condition=db.ProgramItem.updated_at == updated_at)
    return program
