"""Events in, points out: the one path for events from the API and from the partner queue."""
from datetime import datetime

from chalicelib.core import clock, db
from chalicelib.core.transact import ConditionFailed, Retry, Tx
from chalicelib.earning import campaigns, clawback, referrals, rules
from chalicelib.members import account, ledger, membership, offboarding, tiers
from chalicelib.members.entries import Posting, keep_balance, kept_balance, settlement_view, transaction_view
from chalicelib.notices import announcements


def event_fingerprint(event: dict) -> str:
    return ledger.fingerprint(event["type"], event["member"], event.get("occurred_at"), event.get("properties") or {})


def record_event(org_id: str, program_id: str, event: dict) -> tuple[dict, bool]:
    """Credit an event exactly once (its id is the idempotency key); unknown members are enrolled.

    A refund or cancel event of a program with clawback takes back what its purchase earned instead.
    Returns the answer and whether it is a replay of an event already recorded.
    """
    fingerprint = event_fingerprint(event)
    cuts: dict[str, int] = {}  # campaigns found short of budget, and what they have left

    def attempt() -> db.EntryItem:
        program, member = membership.load(org_id, program_id, event["member"])
        now = clock.now()
        member = member or account.new_member(org_id, program_id, event["member"], clock.iso(now))
        change = account.Account(program, member, now)
        if clawback.is_reversal(program, event["type"]):
            return clawback.reverse(change, event, fingerprint)
        return _earn(change, event, fingerprint, cuts)

    return ledger.idempotent(program_id, "evt", event["id"], fingerprint, attempt, answer)


def _earn(change: account.Account, event: dict, fingerprint: str, cuts: dict[str, int]) -> db.EntryItem:
    """The program's rules (times the tier multiplier) plus any running campaign's (within its budget);
    the member's account credits them."""
    program, member, now = change.program, change.member, change.now
    offboarding.refuse(member, "earn")  # read with the account: no request of its own
    properties = event.get("properties") or {}
    tier = change.tier  # its benefits apply until the scheduled recalculation
    at = _moment(event, now)
    running = campaigns.active(program, at)
    rule_list = (program.earn_rules or []) + [r for c in running for r in campaigns.rules_of(c)]
    award = rules.evaluate(rule_list, event["type"], properties,
                           rules.MemberFacts(db.profile_of(member).attributes or {}, tier["name"] if tier else None),
                           change.rule_counters, at)
    change.count(award.counters)
    shares = campaigns.points_by_campaign(running, award.per_rule, cuts)
    campaign_points = sum(p for rule_id, p in award.per_rule.items() if campaigns.is_campaign_rule(rule_id))
    points = tiers.apply_multiplier(award.points - campaign_points, tier) + sum(shares.values())
    tx = Tx()
    campaigns.spend(running, shares, tx, event["id"])
    points += referrals.reward_on(change, event["type"], tx)
    expires_at = available_at = None
    if points:
        held_days = rules.pending_days(rule_list, award)
        if held_days:
            expires_at, available_at = change.hold(points, held_days, key=event["id"])
        else:
            expires_at = change.credit(points, toward_window=True)
    entry = change.entry(Posting(scope="evt", key=event["id"], fingerprint=fingerprint, kind="earn", points=points,
                                 event_id=event["id"], expires_at=expires_at, available_at=available_at))
    entry.campaign_points = shares or None  # what each campaign gave, for its spend in analytics
    entry.basis = clawback.basis_of(program, properties)  # what a partial refund (or spend) is measured against
    change.qualify(event["type"], properties)
    change.settle_debt(entry, tx)
    change.settle(tx)
    keep_balance(entry, change.balance())
    if member.version is None:  # enrolled by this event
        tx.after(lambda: announcements.welcome(program, member))
    tx.after(lambda: announcements.points_earned(program, member, entry, change.available))
    try:
        change.commit(entry, tx)
    except ConditionFailed as failed:  # a campaign ran short, or the referrer moved on: decide again
        campaign_id = campaigns.short_of_budget(failed.label)
        if campaign_id is not None:
            cuts[campaign_id] = campaigns.left(running, campaign_id, shares[campaign_id], event["id"])
        raise Retry() from failed
    return entry


def _moment(event: dict, now: datetime) -> datetime:
    """When the event happened, for date windows, days of week and cap periods (never in the future)."""
    occurred = event.get("occurred_at")
    if occurred is None:
        return now
    return min(clock.parse(occurred) if isinstance(occurred, str) else occurred, now)


def answer(entry: db.EntryItem) -> dict:
    """The events endpoint's answer, from the event's ledger entry."""
    transactions = [transaction_view(entry)] if entry.points else []
    settlement = settlement_view(entry)
    if settlement:
        transactions.append(settlement)
    return {"id": entry.event_id, "member": entry.external_id, "points": int(entry.points),
            "transactions": transactions, "balance": kept_balance(entry)}
