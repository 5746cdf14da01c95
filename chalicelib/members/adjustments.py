"""Manual credits and debits by an admin, each with its reason and Idempotency-Key."""
from chalicelib.core import clock
from chalicelib.core.transact import Tx
from chalicelib.members import account, ledger, membership
from chalicelib.members.entries import Posting, keep_balance, kept_balance, transaction_view


def adjust(org_id: str, program_id: str, external_id: str, points: int, reason: str,
           idempotency_key: str) -> tuple[dict, bool]:
    """Credit (expiring like earned points) or debit (never below zero) a member's balance."""
    fingerprint = ledger.fingerprint("adjust", external_id, points, reason)

    def attempt():
        program, member = membership.require(org_id, program_id, external_id)
        change = account.Account(program, member, clock.now())
        expires_at = None
        if points > 0:
            expires_at = change.credit(points, toward_window=False)
        else:
            change.debit(-points, spend=False)
        entry = change.entry(Posting(scope="adj", key=idempotency_key, fingerprint=fingerprint, kind="adjust",
                                     points=points, reason=reason, expires_at=expires_at))
        tx = Tx()
        change.settle_debt(entry, tx)
        change.settle(tx)
        keep_balance(entry, change.balance())
        change.commit(entry, tx)
        return entry

    return ledger.idempotent(program_id, "adj", idempotency_key, fingerprint, attempt, answer)


def answer(entry) -> dict:
    return {"transaction": transaction_view(entry), "balance": kept_balance(entry)}
