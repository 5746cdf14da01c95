"""Members' cash wallets: money (minor units, one wallet per currency), not points.

Cashback credits a wallet (kinds/cashback.py) and payouts reserve from it. Every move is one transaction item pair: the
wallet, written on the condition of its version (a concurrent writer makes it retry, so two payouts
can never both spend the same money and the balance never goes below zero), and its cash entry,
keyed by what made the move (a redemption, a payout's step) and written on the condition that it is
new, so a move is made once however often it is asked for.
"""
from chalicelib.core import db, ids, pagination
from chalicelib.core.errors import Conflict
from chalicelib.core.transact import ConditionFailed, Retry, Tx

WALLET_LABEL = "cash_wallet"


def entry_label(scope: str, key: str) -> str:
    return f"cash_entry:{scope}:{key}"


def move(tx: Tx, org_id: str, program_id: str, external_id: str, currency: str, amount: int, *, scope: str,
         key: str, kind: str, now_iso: str, redemption_id: str | None = None, payout_id: str | None = None,
         fingerprint: str | None = None) -> db.CashEntryItem:
    """Add a wallet move (`amount` signed) and its entry to `tx`; 409 `insufficient_funds` below zero.

    The caller commits it (`commit`, or its own handling of the `cash_wallet` and `cash_entry:` labels)."""
    wallet = db.get(db.CashWalletItem, db.CashWalletItem.key(program_id, external_id, currency))
    if wallet is None:
        wallet = db.CashWalletItem(*db.CashWalletItem.key(program_id, external_id, currency), org_id=org_id,
                                   program_id=program_id, external_id=external_id, currency=currency, balance=0)
    balance = int(wallet.balance) + amount
    if balance < 0:
        raise Conflict("The cash wallet holds less than that.",
                       {"currency": currency, "balance": int(wallet.balance)}, code="insufficient_funds")
    wallet.balance, wallet.updated_at = balance, now_iso
    entry = db.CashEntryItem(*db.CashEntryItem.key(program_id, scope, key), entry_id=ids.new_id("cash"),
                             program_id=program_id, external_id=external_id, kind=kind, amount=amount,
                             currency=currency, balance_after=balance, redemption_id=redemption_id,
                             payout_id=payout_id, fingerprint=fingerprint, created_at=now_iso,
                             gsi3pk=transactions_key(program_id, external_id))
    entry.gsi3sk = f"{now_iso}#{entry.entry_id}"
    tx.put(WALLET_LABEL, wallet)
    tx.put(entry_label(scope, key), entry, condition=db.CashEntryItem.pk.does_not_exist())
    return entry


def commit(tx: Tx) -> bool:
    """Commit a transaction holding a `move`: False if its entry exists (the move was made before,
    nothing written); a wallet raced by another writer raises Retry; any other condition is re-raised."""
    try:
        tx.commit()
    except ConditionFailed as failed:
        if failed.label == WALLET_LABEL:
            raise Retry() from failed
        if failed.label.startswith("cash_entry:"):
            return False
        raise
    return True


def transactions_key(program_id: str, external_id: str) -> str:
    return f"CASHTX#{program_id}#{external_id}"


def entry_view(entry: db.CashEntryItem) -> dict:
    view = {"id": entry.entry_id, "kind": entry.kind, "amount": int(entry.amount), "currency": entry.currency,
            "balance_after": int(entry.balance_after), "created_at": entry.created_at}
    for name in ("redemption_id", "payout_id"):
        if getattr(entry, name):
            view[name] = getattr(entry, name)
    return view


def view(program_id: str, external_id: str, query: dict) -> dict:
    """Balances per currency and a page of cash transactions, newest first."""
    wallets = db.CashWalletItem.query(db.member_pk(program_id, external_id),
                                      db.CashWalletItem.sk.startswith("CASH#"), consistent_read=True)
    balances = [{"currency": wallet.currency, "balance": int(wallet.balance)} for wallet in wallets]
    scope = f"cash:{program_id}:{external_id}"
    limit, start = pagination.limit_from(query), pagination.decode(query, scope)
    keys, last = db.index_page("gsi3", transactions_key(program_id, external_id), limit, start, newest_first=True)
    found = db.get_many(*keys) if keys else {}
    items = [entry_view(found[key]) for key in keys if key in found]
    return {"balances": balances, "transactions": items, "next_cursor": pagination.encode(last, scope)}

