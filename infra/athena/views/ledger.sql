-- Every ledger entry of the export, one row each, its typed attributes flattened. A ledger entry's key is
-- LEDGER#{program_id}#{scope}#{idempotency key}: the scope says where the points came from or went.
-- flow: issued (earns, credit adjustments), redeemed, refunded (a redemption given back), expired, reversed
-- (clawbacks of refunded purchases, debt settled, debit adjustments). source: rules (events, campaigns and
-- goals), referrals, recognition, tier_bonus, adjustments, redemptions, refunds, expiry, clawback,
-- debt_settlement.
CREATE OR REPLACE VIEW ledger AS
SELECT
    item.program_id.s AS program_id,
    item.external_id.s AS external_id,
    item.txn_id.s AS txn_id,
    item.kind.s AS kind,
    CASE
        WHEN item.kind.s = 'earn' THEN 'issued'
        WHEN item.kind.s = 'adjust' AND CAST(item.points.n AS bigint) > 0 THEN 'issued'
        WHEN item.kind.s = 'redeem' THEN 'redeemed'
        WHEN item.kind.s = 'refund' THEN 'refunded'
        WHEN item.kind.s = 'expire' THEN 'expired'
        ELSE 'reversed'
    END AS flow,
    CASE split_part(item.pk.s, '#', 3)
        WHEN 'evt' THEN CASE WHEN item.kind.s = 'earn' THEN 'rules' ELSE 'clawback' END
        WHEN 'referral' THEN 'referrals'
        WHEN 'rcg' THEN 'recognition'
        WHEN 'tierbonus' THEN 'tier_bonus'
        WHEN 'adj' THEN 'adjustments'
        WHEN 'rdm' THEN 'redemptions'
        WHEN 'refund' THEN 'refunds'
        WHEN 'expire' THEN 'expiry'
        WHEN 'debt' THEN 'debt_settlement'
        ELSE split_part(item.pk.s, '#', 3)
    END AS source,
    CAST(item.points.n AS bigint) AS points,
    CAST(item.balance_after.n AS bigint) AS balance_after,
    item.event_id.s AS event_id,
    item.redemption_id.s AS redemption_id,
    item.reverses.s AS reverses,
    item.reason.s AS reason,
    item.created_at.s AS created_at,
    substr(item.created_at.s, 1, 7) AS month,
    item.available_at.s AS available_at,
    item.expires_at.s AS expires_at
FROM laurel_export
WHERE item."_t".s = 'entry'
