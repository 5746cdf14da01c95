"""Loyalty programs: their earn rules, tiers and expiry policy."""
from pynamodb.exceptions import PutError

from chalicelib import clock, db, ids, pagination
from chalicelib.errors import NotFound
from chalicelib.transact import Retry, with_retries


def view(program: db.ProgramItem) -> dict:
    return {"id": program.program_id, "name": program.name, "currency_name": program.currency_name,
            "locale": program.locale,
            "points_expiry_days": int(program.points_expiry_days) if program.points_expiry_days else None,
            "earn_rules": program.earn_rules or [], "tiers": program.tiers or [],
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
    scope = f"programs:{org_id}"
    results = db.ProgramItem.query(f"ORG#{org_id}", db.ProgramItem.sk.startswith("PRG#"),
                                   limit=pagination.limit_from(query),
                                   last_evaluated_key=pagination.decode(query, scope))
    return pagination.page(results, view, scope)


def update(org_id: str, program_id: str, changes: dict) -> dict:
    """Changes apply to events from now on; entries already written keep what they earned."""
    def attempt() -> dict:
        program = load(org_id, program_id)
        updated_at = program.updated_at
        for name, value in changes.items():
            setattr(program, name, value)
        program.updated_at = clock.iso(clock.now())
        try:
            program.save(condition=db.ProgramItem.updated_at == updated_at)
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise Retry() from error
            raise
        return view(program)

    return with_retries(attempt)
