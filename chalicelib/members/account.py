"""A member's account, written through one owner: its balance, lots, pending points, debt, tier window,
standing and the counters of its capped rules.

Every credit and debit (an earn, a campaign's or referral's points, recognition, an adjustment, a
clawback, expiry, a redemption and its refund) reads the account from the member item, changes it
here with the pure arithmetic of chalicelib.members.lots, settles its debt and tier standing, and
writes it back with the change's ledger entry in one transaction (chalicelib.core.transact). How the
account is stored is known only to this module: the member item holds the balances, the standing, the
rule counters and the months of lots and tier-window days a change is likely to touch; the other months
are sealed in a bucket each (chalicelib.members.history), read only by the change that reaches them.
So an earn reads and writes the same few small items whatever the member's history.
"""
from dataclasses import replace
from datetime import datetime
from typing import Optional

from chalicelib.core import clock, db
from chalicelib.core.transact import Retry, Tx
from chalicelib.members import history, lots, profiles, standing, tiers
from chalicelib.members.entries import SETTLEMENT_REASON, Posting, entry_for, put_new
from chalicelib.members.history import LOTS, SERIES, WINDOW, month_of
from chalicelib.members.lots import Wallet


def new_member(org_id: str, program_id: str, external_id: str, now_iso: str) -> db.MemberItem:
    pk, sk = db.MemberItem.key(program_id, external_id)
    return db.MemberItem(pk, sk, org_id=org_id, program_id=program_id, external_id=external_id,
                         created_at=now_iso, updated_at=now_iso)


def _resident(member: db.MemberItem) -> dict[str, dict[str, float]]:
    """The detail each series keeps on the member item (all of it, for a member written before the monthly
    pieces: reads understand both layouts, and the next write moves it)."""
    if member.lots is not None or member.earned is not None:
        return {LOTS: {at: points for at, points in member.lots or ()},
                WINDOW: dict(member.earned or {})}
    return {LOTS: history.decode_detail(LOTS, member.lot_days),
            WINDOW: history.decode_detail(WINDOW, member.window_days)}


def _sealed(member: db.MemberItem) -> dict[str, dict[str, float]]:
    return {LOTS: history.decode_totals(member.lot_months), WINDOW: history.decode_totals(member.window_months)}


def _wallet_of(member: db.MemberItem, sealed: dict[str, dict[str, float]]) -> Wallet:
    """The balance as stored on the member item, a placeholder standing for each sealed month."""
    resident = _resident(member)
    return Wallet(available=int(member.available), pending=int(member.pending),
                  lifetime_earned=int(member.lifetime_earned), lifetime_spent=int(member.lifetime_spent),
                  lots=tuple(sorted(history.with_placeholders(LOTS, resident[LOTS], sealed[LOTS]).items())),
                  earned=history.with_placeholders(WINDOW, resident[WINDOW], sealed[WINDOW]),
                  debt=int(member.debt or 0), holds=tuple(tuple(h) for h in member.holds or ()))


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
        self._sealed = _sealed(member)  # months whose detail is still in their buckets, unread
        self._buckets: dict[str, dict[str, dict[str, float]]] = {series: {} for series in SERIES}  # as read
        self.wallet = _wallet_of(member, self._sealed)
        self.tier = standing.stored_tier(program, member) if program else None  # what its benefits follow

    # --- what it holds -------------------------------------------------------------------------

    def balance(self) -> dict:
        """The balance with the member's tier (what an answer shows, and a replay repeats)."""
        self._reach_soonest(lots.SHOWN)
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
            self._reach_window()
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
        self._reach_soonest(limit)
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
        self._reach(lot_keys=[expires_at], days=[earned_on])
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
            self._reach(days=[clock.day(self.now)])
            self.wallet = lots.qualify(self.wallet, clock.day(self.now), quantity)

    def debit(self, points: int, *, spend: bool) -> tuple[tuple[str, int], ...]:
        """Take points, the soonest-expiring first (409 if too few); returns the lots consumed."""
        self._reach_debit(points)
        self.wallet, consumed = lots.debit(self.wallet, points, spend=spend)
        return consumed

    def restore(self, points: int, consumed) -> None:
        """Give back points a redemption spent (`debit(spend=True)`) into the lots they came from; a lot
        whose expiry passed meanwhile comes back expiring at the end of today."""
        not_before = clock.expiry(self.now, 0)
        self._reach(lot_keys=[max(at, not_before) for at, _ in consumed])
        self.wallet = lots.restore(self.wallet, points, consumed, unspend=True, not_before=not_before)

    def claw_back(self, original: db.EntryItem, key: str, owed: int, *, allow_debt: bool) -> int:
        """Take back `owed` points of the earn `original` (of event `key`): first what is still pending,
        then from the balance, the rest as debt or forgiven; they leave the tier window they entered.
        Returns the points taken."""
        self.wallet, unheld = lots.unhold(self.wallet, key, owed)  # still in its return window
        earned_on = (original.available_at or original.created_at)[:10]  # the day it entered the tier window
        self._reach(days=[earned_on])
        self._reach_debit(min(owed - unheld, self.wallet.available))
        self.wallet, taken = lots.claw_back(self.wallet, owed - unheld, earned_on=earned_on, allow_debt=allow_debt,
                                            window=standing.clawed_window(self.program, original, owed - unheld))
        return taken + unheld

    def settle_debt(self, entry: db.EntryItem, tx: Tx) -> None:
        """A credit pays outstanding debt first, as its own `reverse` entry in the same transaction."""
        self._reach_debit(min(self.wallet.debt, self.wallet.available))
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
        cutoff = self.now_iso
        due = [h for h in self.wallet.holds if h[0] <= cutoff]
        self._reach(lot_keys=[h[3] for h in due], days=[h[0][:10] for h in due] if toward_window else ())
        if any(month <= cutoff[:7] for month in self._sealed[LOTS]):
            self._read_history()  # some of a sealed month's lots may be due
        self.wallet, released = lots.release(self.wallet, self.now, toward_window=toward_window)
        self.wallet, points, last_due = lots.expire(self.wallet, self.now)
        if released:
            self._reach_debit(min(self.wallet.debt, self.wallet.available))
        self.wallet, settled = lots.settle_debt(self.wallet) if released else (self.wallet, 0)
        before = (member.gsi2pk, member.gsi3pk)
        tx = Tx()
        if released and self.program:  # released points may lift the tier at once
            self.settle(tx)
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
        self.stage(tx)
        if not entries and not released and (member.gsi2pk, member.gsi3pk) == before:
            return 0  # nothing fell due after all (a late run): nothing to write
        for entry in entries:
            put_new(tx, f"entry:{entry.pk}", entry)
        tx.commit()
        return points

    # --- standing ------------------------------------------------------------------------------

    def settle(self, tx: Tx, *, scheduled: bool = False) -> None:
        """Move the member's tier as its balance now says, with the bonuses of the tiers it reaches."""
        self._reach_window()
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

    def stage(self, tx: Tx, label: str = "member", *, changed: bool = True) -> None:
        """Add the account, as it now stands, to `tx` (its version makes a concurrent writer retry), with the
        buckets of the months it seals, changes or no longer needs; `changed` False keeps its `updated_at`."""
        self._store(tx, changed)
        profiles.migrate(self.member, tx)
        tx.put(label, self.member)

    def commit(self, entry: db.EntryItem, tx: Optional[Tx] = None) -> None:
        """The one write: the account and its entry, plus the transaction's other items, atomically (the
        entry's key is new, or the change is a replay: chalicelib.core.transact.Replayed)."""
        tx = tx or Tx()
        self.stage(tx)
        put_new(tx, f"entry:{entry.pk}", entry)
        tx.commit()

    def rewrite(self) -> bool:
        """Write a member still in the layout before monthly pieces in today's (the migration job); False when
        it already is."""
        member = self.member
        if member.lots is None and member.earned is None and not db.has_legacy_profile(member):
            return False
        tx = Tx()
        self.stage(tx, changed=False)
        tx.commit()
        return True

    # --- storage ---------------------------------------------------------------------------------

    def _store(self, tx: Tx, changed: bool) -> None:
        """Write the wallet into the member item, its sealed months into their buckets, and the index entries
        of the work it makes due. The soonest lots and the window's oldest month are kept on the member: when
        they moved into a sealed month, it is read now, so that the next change and balance read need not."""
        member = self.member
        if self.program:  # days the tier window has left are not written again
            self._reach_window()
            self.wallet = lots.prune_earned(self.wallet, self.now_iso[:10],
                                            int(standing.policy(self.program)["window_days"]))
        if any(history.wanted_sealed(series, self._amounts(series), self._sealed[series]) for series in SERIES):
            self._read_history()
        wallet = self.wallet
        amounts = {series: self._amounts(series) for series in SERIES}
        stamp = int(member.version or 0) + 1  # the member's version once this write lands
        pieces = {series: history.split(series, amounts[series], self._sealed[series], self._buckets[series])
                  for series in SERIES}
        for series, piece in pieces.items():
            for month, detail in piece.writes.items():
                bucket = db.HistoryItem(*db.HistoryItem.key(member.program_id, member.external_id, series, month),
                                        days=history.encode_detail(series, detail or {}), stamp=stamp)
                if detail is None:
                    tx.delete(f"history:{series}:{month}", bucket)
                else:
                    tx.put(f"history:{series}:{month}", bucket)
        member.lots = member.earned = None
        member.lot_days = history.encode_detail(LOTS, pieces[LOTS].resident) or None
        member.lot_months = history.encode_totals(pieces[LOTS].sealed)
        member.window_days = history.encode_detail(WINDOW, pieces[WINDOW].resident) or None
        member.window_months = history.encode_totals(pieces[WINDOW].sealed)
        member.available, member.pending = wallet.available, wallet.pending
        member.lifetime_earned, member.lifetime_spent = wallet.lifetime_earned, wallet.lifetime_spent
        member.debt = wallet.debt
        member.holds = [list(h) for h in wallet.holds] or None
        if changed:
            member.updated_at = self.now_iso
        _index_due_work(member, wallet)

    def _amounts(self, series: str) -> dict[str, float]:
        """The wallet's lots or tier-window days, by key (placeholders of sealed months included)."""
        return dict(self.wallet.lots) if series == LOTS else dict(self.wallet.earned)

    def _reach(self, lot_keys=(), days=()) -> None:
        """Read the sealed months before a change reaches inside one of them."""
        if any(key and month_of(key) in self._sealed[LOTS] for key in lot_keys) or \
                any(day and month_of(day) in self._sealed[WINDOW] for day in days):
            self._read_history()

    def _reach_debit(self, points: int) -> None:
        """A debit takes the soonest lots: read the sealed months if those before them are too few."""
        if 0 < points <= self.wallet.available and \
                history.lots_before_sealed(self.wallet.lots, self._sealed[LOTS]) < points:
            self._read_history()

    def _reach_soonest(self, limit: int) -> None:
        if history.first_keys_sealed((at for at, _ in self.wallet.lots), self._sealed[LOTS], limit):
            self._read_history()

    def _reach_window(self) -> None:
        """The tier measure sums whole sealed months; the month the window starts in needs its days."""
        if self.program and self._sealed[WINDOW]:
            start = lots.window_start(self.now_iso[:10], int(standing.policy(self.program)["window_days"]))
            if history.window_needs_detail(self.wallet.earned, self._sealed[WINDOW], start):
                self._read_history()

    def _read_history(self) -> None:
        """Read every sealed month (one Query of the member's buckets) into the wallet."""
        if not any(self._sealed.values()):
            return
        member, found = self.member, {series: {} for series in SERIES}
        for bucket in db.HistoryItem.query(member.pk, db.HistoryItem.sk.startswith(db.HISTORY_PREFIX),
                                           consistent_read=True):
            if int(bucket.stamp) > int(member.version or 0):
                raise Retry()  # written by a change after this one read the member: read it again
            series, month = bucket.sk[len(db.HISTORY_PREFIX):].split("#")
            found[series][month] = history.decode_detail(series, bucket.days)
        if any(set(self._sealed[series]) - set(found[series]) for series in SERIES):
            raise Retry()  # a newer change took a sealed month back onto the member
        wallet = self.wallet
        lot_list = [lot for lot in wallet.lots if month_of(lot[0]) not in self._sealed[LOTS]]
        lot_list += [lot for month in self._sealed[LOTS] for lot in found[LOTS][month].items()]
        earned = {day: amount for day, amount in wallet.earned.items() if month_of(day) not in self._sealed[WINDOW]}
        for month in self._sealed[WINDOW]:
            earned.update(found[WINDOW][month])
        self.wallet = replace(wallet, lots=tuple(sorted(lot_list)), earned=earned)
        self._buckets = found
        self._sealed = {series: {} for series in SERIES}
