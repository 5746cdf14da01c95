-- One member's statement, oldest first: every entry that moved points (parameters: program_id, external_id),
-- with the running sum of the entries (available + pending - debt not yet settled).
SELECT
    created_at,
    txn_id,
    kind,
    source,
    points,
    SUM(points) OVER (ORDER BY created_at, txn_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_total,
    balance_after,
    event_id,
    redemption_id,
    reason,
    expires_at,
    available_at
FROM ledger
WHERE program_id = ? AND external_id = ? AND points <> 0
ORDER BY created_at, txn_id
