-- Points issued, redeemed, refunded, expired and reversed per program, month (UTC, of the entry) and source:
-- points signed as in the ledger (issued and refunded > 0, the rest < 0), entries and distinct members.
SELECT
    program_id,
    month,
    flow,
    source,
    SUM(points) AS points,
    COUNT(*) AS entries,
    COUNT(DISTINCT external_id) AS members
FROM ledger
WHERE points <> 0
GROUP BY program_id, month, flow, source
ORDER BY program_id, month, flow, source
