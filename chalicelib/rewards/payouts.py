"""Payouts: a member's cash paid out to a bank account or a PayPal-style email, once an admin approves.

Requesting reserves the amount from the cash wallet at once (cash.move: never below zero, however
many requests race). Then `requested` → `approved` → `paid`, or `rejected` / `cancelled`, which return
the amount to the wallet. Every transition is a status move conditional on the status it starts from,
in one transaction with its cash entry (keyed by the payout), so a double click acts once and a payout
is never paid twice: the loser answers 409 with the status it found.

The method (IBAN and account name, or email) is sealed at rest with the gift-card codes' envelope
encryption (core.vault), its scope naming the payout, so it opens for this payout only. It is shown in
full to admins and the member's own session, masked to analysts, and never logged, put in an error
message or sent to webhooks.
"""
import json

from chalicelib.core import clock, db, ids, pagination, vault
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.observability import logger as log
from chalicelib.core.transact import ConditionFailed, Retry, Tx, with_retries
from chalicelib.members import ledger, membership, programs
from chalicelib.rewards import cash
from chalicelib.webhooks import events

FROM = {"approved": ("requested",), "paid": ("approved",), "rejected": ("requested", "approved"),
        "cancelled": ("requested",)}
ACTION = {"approved": "approved", "paid": "marked paid", "rejected": "rejected", "cancelled": "cancelled"}


def queue_key(program_id: str) -> str:
    return f"PAYOUTS#{program_id}"


# --- the method, sealed ---------------------------------------------------------------------

def _scope(payout: db.PayoutItem) -> vault.Scope:
    """The payout takes the reward's place in the sealing scope: a method opens for its own payout only."""
    return vault.Scope(payout.org_id, payout.program_id, f"payout#{payout.payout_id}")


def _seal(payout: db.PayoutItem, method: dict) -> None:
    plain = json.dumps({"payout": payout.payout_id, "method": method}, sort_keys=True)  # the id salts the hash
    payout.method_sealed = vault.Sealer(_scope(payout)).seal(plain)
    payout.method_hash = vault.code_hash(plain)


def _method(payout: db.PayoutItem) -> dict:
    return json.loads(vault.open_code(payout.method_sealed, _scope(payout), payout.method_hash))["method"]


def masked(method: dict) -> dict:
    """Enough to recognise a method, not to use it: an IBAN's last four, an email's first letter and domain."""
    if method["type"] == "bank_transfer":
        return {"type": "bank_transfer", "iban": f"****{method['iban'][-4:]}",
                "account_name": f"{method['account_name'][0]}***"}
    local, _, domain = method["email"].partition("@")
    return {"type": "paypal", "email": f"{local[0]}***@{domain}"}


def view(payout: db.PayoutItem, *, show_method: bool) -> dict:
    method = _method(payout)
    answer = {"id": payout.payout_id, "member": payout.external_id, "amount": int(payout.amount),
              "currency": payout.currency, "status": payout.status,
              "method": method if show_method else masked(method),
              "created_at": payout.created_at, "updated_at": payout.updated_at}
    for name in ("reason", "external_reference"):
        if getattr(payout, name):
            answer[name] = getattr(payout, name)
    return answer


# --- requests -------------------------------------------------------------------------------

def request(org_id: str, program_id: str, external_id: str, body: dict, idempotency_key: str, *,
            show_method: bool) -> tuple[dict, bool]:
    """Reserve the amount and record the request, once per Idempotency-Key; 409 `insufficient_funds`."""
    membership.require(org_id, program_id, external_id, profile=False)
    fingerprint = ledger.fingerprint("payout", external_id, body)
    first = _first_request(program_id, idempotency_key, fingerprint)
    if first is not None:
        return view(first, show_method=show_method), True
    now_iso = clock.iso(clock.now())
    payout_id = ids.new_id("pay")
    payout = db.PayoutItem(*db.PayoutItem.key(payout_id), payout_id=payout_id, org_id=org_id,
                           program_id=program_id, external_id=external_id, amount=body["amount"],
                           currency=body["currency"], method_type=body["method"]["type"], status="requested",
                           created_at=now_iso, updated_at=now_iso, gsi3pk=queue_key(program_id),
                           gsi3sk=f"{now_iso}#{payout_id}")
    _seal(payout, body["method"])

    def attempt() -> bool:
        tx = Tx()
        tx.put("payout", payout, condition=db.PayoutItem.pk.does_not_exist())
        cash.move(tx, org_id, program_id, external_id, payout.currency, -int(payout.amount),
                         scope="payout", key=idempotency_key, kind="payout_reserved", now_iso=now_iso,
                         payout_id=payout_id, fingerprint=fingerprint)
        return cash.commit(tx)

    try:
        made = with_retries(attempt)
    except Conflict:
        first = _first_request(program_id, idempotency_key, fingerprint)  # a racing copy may have won
        if first is None:
            raise
        return view(first, show_method=show_method), True
    if not made:  # a copy of this request committed first
        return view(_first_request(program_id, idempotency_key, fingerprint), show_method=show_method), True
    _announce(payout)
    return view(payout, show_method=show_method), False


def _first_request(program_id: str, idempotency_key: str, fingerprint: str) -> db.PayoutItem | None:
    """The payout an Idempotency-Key made before, or None; 409 if the key was used for another request."""
    entry = db.get(db.CashEntryItem, db.CashEntryItem.key(program_id, "payout", idempotency_key))
    if entry is None:
        return None
    if entry.fingerprint != fingerprint:
        raise Conflict("This idempotency key was already used with a different request.",
                       code="idempotency_conflict")
    return db.get(db.PayoutItem, db.PayoutItem.key(entry.payout_id))


# --- decisions ------------------------------------------------------------------------------

def load(org_id: str, program_id: str, payout_id: str, external_id: str | None = None) -> db.PayoutItem:
    """The program's payout; with `external_id` (a member session), only that member's."""
    payout = db.get(db.PayoutItem, db.PayoutItem.key(payout_id))
    if payout is None or (payout.org_id, payout.program_id) != (org_id, program_id) or (
            external_id is not None and payout.external_id != external_id):
        raise NotFound("No such payout.")
    return payout


def get(org_id: str, program_id: str, payout_id: str, *, external_id: str | None, show_method: bool) -> dict:
    return view(load(org_id, program_id, payout_id, external_id), show_method=show_method)


def approve(org_id: str, program_id: str, payout_id: str) -> dict:
    return view(_transition(load(org_id, program_id, payout_id), "approved"), show_method=True)


def mark_paid(org_id: str, program_id: str, payout_id: str, external_reference: str | None) -> dict:
    payout = _transition(load(org_id, program_id, payout_id), "paid", cash_kind="payout_paid",
                         external_reference=external_reference)
    return view(payout, show_method=True)


def reject(org_id: str, program_id: str, payout_id: str, reason: str) -> dict:
    payout = _transition(load(org_id, program_id, payout_id), "rejected", cash_kind="payout_returned",
                         reason=reason)
    return view(payout, show_method=True)


def cancel(org_id: str, program_id: str, payout_id: str, reason: str | None, *, external_id: str | None) -> dict:
    payout = _transition(load(org_id, program_id, payout_id, external_id), "cancelled", cash_kind="payout_returned",
                         reason=reason or "Cancelled.")
    return view(payout, show_method=True)


def _transition(payout: db.PayoutItem, to_status: str, *, cash_kind: str | None = None, **fields) -> db.PayoutItem:
    """One conditional status move, with its cash entry (keyed by the payout) in the same transaction."""
    def attempt() -> db.PayoutItem:
        current = db.get(db.PayoutItem, db.PayoutItem.key(payout.payout_id))
        if current.status not in FROM[to_status]:
            raise Conflict(f"A payout that is {current.status} cannot be {ACTION[to_status]}.",
                           {"status": current.status})
        now_iso = clock.iso(clock.now())
        actions = [db.PayoutItem.status.set(to_status), db.PayoutItem.updated_at.set(now_iso),
                   db.PayoutItem.gsi3pk.remove(), db.PayoutItem.gsi3sk.remove()]
        actions += [getattr(db.PayoutItem, name).set(value) for name, value in fields.items() if value is not None]
        tx = Tx()
        tx.update("payout", current, actions, condition=db.PayoutItem.status == current.status)
        if cash_kind is not None:
            returned = int(current.amount) if cash_kind == "payout_returned" else 0
            cash.move(tx, current.org_id, current.program_id, current.external_id, current.currency,
                             returned, scope=cash_kind, key=current.payout_id, kind=cash_kind, now_iso=now_iso,
                             payout_id=current.payout_id)
        try:
            tx.commit()
        except ConditionFailed as failed:  # the payout or the wallet moved meanwhile: read again and decide
            raise Retry() from failed
        current.status, current.updated_at = to_status, now_iso
        for name, value in fields.items():
            if value is not None:
                setattr(current, name, value)
        return current

    moved = with_retries(attempt)
    _announce(moved)
    return moved


def _announce(payout: db.PayoutItem) -> None:
    """Tell the webhook endpoints: ids, amount and status, never the method."""
    try:
        events.emit(payout.org_id, payout.program_id, "payout.status_changed", {
            "payout_id": payout.payout_id, "member": payout.external_id, "amount": int(payout.amount),
            "currency": payout.currency, "status": payout.status, "created_at": payout.created_at,
            "updated_at": payout.updated_at},
            event_key=f"{payout.payout_id}:{payout.status}", occurred_at=payout.updated_at)
    except Exception:  # noqa: BLE001 - the move stands; the announcement is best effort
        log.warning("payout announcement failed", extra={"payout_id": payout.payout_id})


def list_requested(org_id: str, program_id: str, query: dict) -> dict:
    """The program's payouts awaiting approval, oldest first, a page at a time (gsi3 `PAYOUTS#`)."""
    limit, scope = pagination.limit_from(query), f"payouts:{program_id}"
    start = pagination.decode(query, scope)
    programs.load(org_id, program_id)
    keys, last = db.index_page("gsi3", queue_key(program_id), limit, start)
    found = db.get_many(*keys) if keys else {}
    items = [view(found[key], show_method=True) for key in keys
             if key in found and found[key].status == "requested"]  # the index may lag a decision
    return {"items": items, "next_cursor": pagination.encode(last, scope)}
