"""Manual credits and debits by an admin, each with its reason and Idempotency-Key."""
from chalicelib.core import clock
from chalicelib.core.transact import Tx
from chalicelib.members import ledger, lots, membership, standing


def adjust(org_id: str, program_id: str, external_id: str, points: int, reason: str,
           idempotency_key: str) -> tuple[dict, bool]:
    """Credit (expiring like earned points) or debit (never below zero) a member's balance."""
    fingerprint = ledger.fingerprint("adjust", external_id, points, reason)

    def attempt():
        program, member = membership.require(org_id, program_id, external_id)
        now = clock.now()
        now_iso = clock.iso(now)
        wallet = ledger.wallet_of(member)
        expires_at = None
        if points > 0:
            if program.points_expiry_days:
                expires_at = clock.expiry(now, int(program.points_expiry_days))
            wallet = lots.credit(wallet, points, expires_at=expires_at, earned_on=None)
        else:
            wallet, _ = lots.debit(wallet, -points, spend=False)
        posting = ledger.Posting(scope="adj", key=idempotency_key, fingerprint=fingerprint, kind="adjust",
                                 points=points, reason=reason, expires_at=expires_at)
        entry = ledger.entry_for(member, posting, wallet.total, now_iso)
        tx = Tx()
        wallet = ledger.settle_debt(member, wallet, entry, tx)
        wallet, tier = standing.settle(program, member, wallet, now_iso, tx)
        ledger.put_wallet(member, wallet, now_iso)
        entry.snapshot = membership.balance_of(wallet, tier)
        ledger.append(member, entry, tx)
        return entry

    return ledger.idempotent(program_id, "adj", idempotency_key, fingerprint, attempt, answer)


def answer(entry) -> dict:
    return {"transaction": ledger.transaction_view(entry), "balance": entry.snapshot}
