-- Every redemption of the export, one row each. given_back: its points came back to the member (a failed
-- fulfilment, a rejection, a cancellation or a returned parcel).
CREATE OR REPLACE VIEW redemptions AS
SELECT
    item.program_id.s AS program_id,
    item.redemption_id.s AS redemption_id,
    item.external_id.s AS external_id,
    item.reward_id.s AS reward_id,
    item.reward_type.s AS reward_type,
    item.reward_name.s AS reward_name,
    CAST(item.quantity.n AS bigint) AS quantity,
    CAST(item.points.n AS bigint) AS points,
    item.status.s AS status,
    item.status.s IN ('failed', 'rejected', 'cancelled', 'returned') AS given_back,
    item.created_at.s AS created_at,
    substr(item.created_at.s, 1, 7) AS month
FROM laurel_export
WHERE item."_t".s = 'redemption'
