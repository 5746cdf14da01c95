-- Rewards by redemptions kept (not given back), per program: redemptions, units, points, distinct members,
-- and how many were given back.
SELECT
    program_id,
    reward_id,
    reward_type,
    MAX(reward_name) AS reward_name,
    SUM(CASE WHEN given_back THEN 0 ELSE 1 END) AS redemptions,
    SUM(CASE WHEN given_back THEN 0 ELSE quantity END) AS units,
    SUM(CASE WHEN given_back THEN 0 ELSE points END) AS points,
    COUNT(DISTINCT CASE WHEN given_back THEN NULL ELSE external_id END) AS members,
    SUM(CASE WHEN given_back THEN 1 ELSE 0 END) AS given_back
FROM redemptions
GROUP BY program_id, reward_id, reward_type
ORDER BY program_id, redemptions DESC, points DESC, reward_id
