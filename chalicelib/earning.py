"""Events in, points out: the one path for events from the API and from the partner queue."""
from chalicelib import clock, ledger, members, rules, tiers
from chalicelib import wallet as wallets


def event_fingerprint(event: dict) -> str:
    return ledger.fingerprint(event["type"], event["member"], event.get("occurred_at"), event.get("properties") or {})


def record(org_id: str, program_id: str, event: dict) -> tuple[dict, bool]:
    """Credit an event exactly once (its id is the idempotency key); unknown members are enrolled.

    Returns the answer and whether it is a replay of an event already recorded.
    """
    fingerprint = event_fingerprint(event)

    def attempt():
        program, member = members.load(org_id, program_id, event["member"])
        now = clock.now()
        now_iso, today = clock.iso(now), clock.day(now)
        member = member or ledger.new_member(org_id, program_id, event["member"], now_iso)
        wallet = wallets.prune_earned(ledger.wallet_of(member), today)
        tier = members.current_tier(program, wallet, today)
        points = tiers.apply_multiplier(
            rules.base_points(program.earn_rules or [], event["type"], event.get("properties") or {}), tier)
        expires_at = None
        if points:
            if program.points_expiry_days:
                expires_at = clock.expiry(now, int(program.points_expiry_days))
            wallet = wallets.credit(wallet, points, expires_at=expires_at, earned_on=today)
        tier = members.current_tier(program, wallet, today)
        ledger.put_wallet(member, wallet, now_iso, tier=tier["name"] if tier else None)
        posting = ledger.Posting(scope="evt", key=event["id"], fingerprint=fingerprint, kind="earn",
                                 points=points, event_id=event["id"], expires_at=expires_at)
        entry = ledger.entry_for(member, posting, wallet.total, now_iso)
        entry.snapshot = members.balance_of(wallet, tier)
        ledger.append(member, entry)
        return entry

    return ledger.idempotent(program_id, "evt", event["id"], fingerprint, attempt, answer)


def answer(entry) -> dict:
    """The events endpoint's answer, from the event's ledger entry."""
    return {"id": entry.event_id, "member": entry.external_id, "points": int(entry.points),
            "transactions": [ledger.transaction_view(entry)] if entry.points else [], "balance": entry.snapshot}
