"""The scheduled outbox recovery (every 5 minutes): what a crash left unsent is sent again: fulfilment of the
redemptions still pending past their first delivery (found through the outbox, lifecycle.py), and the tier-change
notices (notices.tier_changes). Sending again is safe: fulfilment moves a redemption on once, however often."""
from datetime import datetime, timedelta

from chalicelib.core import clock, db
from chalicelib.notices import tier_changes
from chalicelib.rewards import lifecycle

OUTBOX_GRACE = timedelta(minutes=2)  # younger pending redemptions are still in their first delivery


def recover_outboxes(now: datetime | None = None) -> dict:
    """Every 5 minutes: what a crash left unsent (fulfilment of pending redemptions, tier notices)."""
    now = now or clock.now()
    return {**recover_redemptions(now), "tier_notices": tier_changes.recover(now)}


def recover_redemptions(now: datetime | None = None) -> dict:
    """Send fulfilment again for redemptions still pending past the grace period (a lost send)."""
    now = now or clock.now()
    cutoff = clock.iso(now - OUTBOX_GRACE)
    resent = 0
    for shard in range(db.SHARDS):
        for pk, sk in db.index_keys("gsi2", lifecycle.outbox_partition(shard), 1000, sort_before=cutoff):
            redemption = db.get(db.RedemptionItem, (pk, sk), consistent=False)
            if redemption is not None and redemption.status == "pending":
                lifecycle.enqueue_fulfilment(redemption.org_id, redemption.program_id, redemption.redemption_id)
                resent += 1
    return {"resent": resent}
