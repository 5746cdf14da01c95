"""A member's account, written through one owner: its balance, lots, pending points, debt, tier window,
standing and the counters of its capped rules.

Every credit and debit (an earn, a campaign's or referral's points, recognition, an adjustment, a
clawback, expiry, a redemption and its refund) reads the account from the member item, changes it
here with the pure arithmetic of chalicelib.members.lots, settles its debt and tier standing, and
writes it back with the change's ledger entry in one transaction (chalicelib.core.transact). How the
account is stored (today: fields of the member item, with the index entries of the work it makes due)
is known only to this module (`_wallet_of`, `_store`, `Account.rule_counters`, `Account.stage`).
"""
from datetime import datetime
from typing import Optional

from chalicelib.core import clock, db
from chalicelib.core.transact import Tx
from chalicelib.members import lots, standing, tiers
from chalicelib.members.entries import SETTLEMENT_REASON, Posting, entry_for, put_new
from chalicelib.members.lots import Wallet


def new_member(org_id: str, program_id: str, external_id: str, now_iso: str) -> db.MemberItem:
    pk, sk = db.MemberItem.key(program_id, external_id)
    return db.MemberItem(pk, sk, org_id=org_id, program_id=program_id, external_id=external_id,
                         created_at=now_iso, updated_at=now_iso, lots=[], earned={})


def _wallet_of(member: db.MemberItem) -> Wallet:
    """The balance as stored on the member item."""
    return Wallet(available=int(member.available), pending=int(member.pending),
                  lifetime_earned=int(member.lifetime_earned), lifetime_spent=int(member.lifetime_spent),
                  lots=tuple(tuple(lot) for lot in member.lots or ()), earned=dict(member.earned or {}),
                  debt=int(member.debt or 0), holds=tuple(tuple(h) for h in member.holds or ()))


def _store(member: db.MemberItem, wallet: Wallet, now_iso: str) -> None:
    """Write a wallet into the member item, with the index entries of the work it makes due."""
    member.available, member.pending = wallet.available, wallet.pending
    member.lifetime_earned, member.lifetime_spent = wallet.lifetime_earned, wallet.lifetime_spent
    member.debt = wallet.debt
    member.lots = [list(lot) for lot in wallet.lots]
    member.holds = [list(h) for h in wallet.holds] or None
    member.earned = wallet.earned
    member.updated_at = now_iso
    _index_due_work(member, wallet)


def _index_due_work(member: db.MemberItem, wallet: Wallet) -> None:
    """Point the jobs' indexes at the next day this member's points expire or are released, and the day
    its tier may fall (`tier_review`, kept by chalicelib.members.standing)."""
    shard = db.shard_of(member.pk)
    due = lots.next_due(wallet)
    if due:
        member.gsi2pk, member.gsi2sk = f"DUE#{due[:10]}#{shard}", member.pk
    else:
        member.gsi2pk = member.gsi2sk = None
    if member.tier_review:
        member.gsi3pk, member.gsi3sk = f"TIER#{member.tier_review}#{shard}", member.pk
    else:
        member.gsi3pk = member.gsi3sk = None


class Account:
    """One member's account as one change at `now` sees it: read from the member, changed by these
    methods, staged into the change's transaction with its entries. `program` may be None only for
    the expiry job (a program deleted meanwhile: its points still expire) and a redemption's refund
    (which reads no program: it only gives points back)."""

    def __init__(self, program: Optional[db.ProgramItem], member: db.MemberItem, now: datetime):
        self.program, self.member, self.now = program, member, now
        self.now_iso = clock.iso(now)
        self.wallet = _wallet_of(member)
        self.tier = standing.stored_tier(program, member) if program else None  # what its benefits follow

    # --- what it holds -------------------------------------------------------------------------

    def balance(self) -> dict:
        """The balance with the member's tier (what an answer shows, and a replay repeats)."""
        wallet = self.wallet
        balance = {"available": wallet.available, "pending": wallet.pending,
                   "lifetime_earned": wallet.lifetime_earned, "lifetime_spent": wallet.lifetime_spent,
                   "tier": self.tier["name"] if self.tier else None, "expiring": lots.expiring(wallet),
                   "debt": wallet.debt}
        if wallet.holds:
            balance["pending_releases"] = lots.pending_releases(wallet)
        return balance

    def balance_with_progress(self) -> dict:
        """The balance with the stored tier and its progress toward the next one."""
        balance = self.balance()
        if self.program.tiers:
            balance["tier_progress"] = tiers.progress(
                self.program.tiers, standing.policy(self.program), balance["tier"],
                standing.measure(self.program, self.wallet, clock.day(self.now)), self.member.tier_below_since)
        return balance

    @property
    def available(self) -> int:
        """The points the member can spend now."""
        return self.wallet.available

    @property
    def rule_counters(self) -> dict:
        """What the member's capped and goal rules have counted so far (what `rules.evaluate` counts on)."""
        return self.member.rule_counters or {}

    def count(self, counters: dict) -> None:
        """Keep what the rules counted with this event, written with the rest of the account."""
        self.member.rule_counters = counters or None

    def expiring(self, limit: int) -> list[dict]:
        return lots.expiring(self.wallet, limit)

    def entry(self, posting: Posting, balance_after: Optional[int] = None) -> db.EntryItem:
        """The ledger entry of a change, with the balance it leaves (unless told otherwise)."""
        return entry_for(self.member, posting, self.wallet.total if balance_after is None else balance_after,
                         self.now_iso)

    # --- credits and debits --------------------------------------------------------------------

    def expiry(self, after_days: int = 0) -> str | None:
        """When points credited now, available `after_days` from now, expire (the program's expiry days)."""
        if not self.program.points_expiry_days:
            return None
        return clock.expiry(self.now, after_days + int(self.program.points_expiry_days))

    def credit(self, points: int, *, toward_window: bool) -> str | None:
        """Credit points that expire as the program says; earned points (`toward_window`) count toward
        the tier window when its measure is points. Returns their expiry."""
        expires_at = self.expiry()
        earned_on = standing.window_day(self.program, clock.day(self.now)) if toward_window else None
        self.wallet = lots.credit(self.wallet, points, expires_at=expires_at, earned_on=earned_on)
        return expires_at

    def hold(self, points: int, days: int, *, key: str) -> tuple[str | None, str]:
        """Hold earned points pending for `days` (a return window) under the event `key` that earned
        them; returns their expiry and when they become available."""
        expires_at, available_at = self.expiry(days), clock.expiry(self.now, days)
        self.wallet = lots.hold(self.wallet, points, release_at=available_at, key=key, expires_at=expires_at)
        return expires_at, available_at

    def qualify(self, event_type: str, properties: dict) -> None:
        """Count what an event adds to a spend or events tier measure, today."""
        quantity = standing.quantity_of(self.program, event_type, properties)
        if quantity:
            self.wallet = lots.qualify(self.wallet, clock.day(self.now), quantity)

    def debit(self, points: int, *, spend: bool) -> tuple[tuple[str, int], ...]:
        """Take points, the soonest-expiring first (409 if too few); returns the lots consumed."""
        self.wallet, consumed = lots.debit(self.wallet, points, spend=spend)
        return consumed

    def restore(self, points: int, consumed) -> None:
        """Give back points a redemption spent (`debit(spend=True)`) into the lots they came from; a lot
        whose expiry passed meanwhile comes back expiring at the end of today."""
        self.wallet = lots.restore(self.wallet, points, consumed, unspend=True, not_before=clock.expiry(self.now, 0))

    def claw_back(self, original: db.EntryItem, key: str, owed: int, *, allow_debt: bool) -> int:
        """Take back `owed` points of the earn `original` (of event `key`): first what is still pending,
        then from the balance, the rest as debt or forgiven; they leave the tier window they entered.
        Returns the points taken."""
        self.wallet, unheld = lots.unhold(self.wallet, key, owed)  # still in its return window
        earned_on = (original.available_at or original.created_at)[:10]  # the day it entered the tier window
        self.wallet, taken = lots.claw_back(self.wallet, owed - unheld, earned_on=earned_on, allow_debt=allow_debt,
                                            window=standing.clawed_window(self.program, original, owed - unheld))
        return taken + unheld

    def settle_debt(self, entry: db.EntryItem, tx: Tx) -> None:
        """A credit pays outstanding debt first, as its own `reverse` entry in the same transaction."""
        self.wallet, settled = lots.settle_debt(self.wallet)
        if settled:
            entry.settled = settled
            posting = Posting(scope="debt", key=entry.pk, fingerprint=entry.fingerprint, kind="reverse",
                              points=-settled, event_id=entry.event_id, reason=SETTLEMENT_REASON)
            settlement = self.entry(posting)
            settlement.txn_id = f"{entry.txn_id}d"  # derivable from the credit, so answers can show it
            settlement.gsi1sk = f"{entry.created_at}#{settlement.txn_id}"
            put_new(tx, "settlement", settlement)

    def fall_due(self) -> int:
        """Release the pending points due by now, expire the lots due, and let released points pay any
        debt: one transaction with an `expire` and a settlement entry as needed; returns the points expired.

        A release moves points from pending to available, so it needs no entry of its own (the sum of the
        entries is unchanged); the version check on the member makes it happen once.
        """
        member = self.member
        toward_window = self.program is None or standing.counts_points(self.program)
        self.wallet, released = lots.release(self.wallet, self.now, toward_window=toward_window)
        self.wallet, points, last_due = lots.expire(self.wallet, self.now)
        self.wallet, settled = lots.settle_debt(self.wallet) if released else (self.wallet, 0)
        before = (member.gsi2pk, member.gsi3pk)
        tx = Tx()
        if released and self.program:  # released points may lift the tier at once
            self.settle(tx)
        _store(member, self.wallet, self.now_iso)
        # Keyed by the member's state: a later lot with the same date (a refund's) expires under its own key.
        state = f"{member.external_id}:{last_due}:{member.version}"
        entries = []
        if points:
            posting = Posting(scope="expire", key=state, fingerprint=last_due or "", kind="expire",
                              points=-points, reason="points expired")
            entries.append(self.entry(posting, self.wallet.total + settled))
        if settled:
            posting = Posting(scope="debt", key=f"release:{state}", fingerprint=state, kind="reverse",
                              points=-settled, reason=SETTLEMENT_REASON)
            entries.append(self.entry(posting))
        if not entries:
            if released or (member.gsi2pk, member.gsi3pk) != before:
                self.stage(tx)
                tx.commit()
            return 0
        for extra in entries[1:]:
            put_new(tx, f"entry:{extra.pk}", extra)
        self.commit(entries[0], tx)
        return points

    # --- standing ------------------------------------------------------------------------------

    def settle(self, tx: Tx, *, scheduled: bool = False) -> None:
        """Move the member's tier as its balance now says, with the bonuses of the tiers it reaches."""
        self.wallet, moved = standing.settle(self.program, self.member, self.wallet, self.now_iso, tx,
                                             scheduled=scheduled)
        if moved.change:
            self._bonuses(moved.reached, tx)
        self.tier = moved.tier

    def _bonuses(self, reached, tx: Tx) -> None:
        """Each tier's `bonus_points`, the first time the member reaches it, as its own `earn` entry."""
        member = self.member
        paid = set(member.tiers_reached or [])
        for tier in reached:
            if tier["name"] in paid:
                continue
            paid.add(tier["name"])
            points = int(tier.get("bonus_points") or 0)
            if not points:
                continue
            expires_at = self.credit(points, toward_window=False)
            posting = Posting(scope="tierbonus", key=f"{member.external_id}:{tier['name']}",
                              fingerprint=tier["name"], kind="earn", points=points,
                              reason=f"tier bonus: {tier['name']}", expires_at=expires_at)
            put_new(tx, f"tierbonus:{tier['name']}", self.entry(posting))
        member.tiers_reached = sorted(paid) or None

    def review_tier(self) -> bool:
        """The scheduled recalculation: a downgrade once its grace has passed (an upgrade already happened
        on the change that earned it). Writes only when the standing moved; True if the tier changed."""
        member = self.member
        before = (member.tier, member.tier_below_since, member.tier_review)
        tx = Tx()
        self.settle(tx, scheduled=True)
        if (member.tier, member.tier_below_since, member.tier_review) == before:
            return False  # nothing to write: a sweep costs no write for a member whose standing holds
        self.stage(tx)
        tx.commit()
        return member.tier != before[0]

    # --- writing -------------------------------------------------------------------------------

    def stage(self, tx: Tx, label: str = "member") -> None:
        """Add the account, as it now stands, to `tx` (its version makes a concurrent writer retry)."""
        _store(self.member, self.wallet, self.now_iso)
        tx.put(label, self.member)

    def commit(self, entry: db.EntryItem, tx: Optional[Tx] = None) -> None:
        """The one write: the account and its entry, plus the transaction's other items, atomically (the
        entry's key is new, or the change is a replay: chalicelib.core.transact.Replayed)."""
        tx = tx or Tx()
        self.stage(tx)
        put_new(tx, f"entry:{entry.pk}", entry)
        tx.commit()
