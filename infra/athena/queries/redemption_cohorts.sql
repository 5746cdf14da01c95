-- Redemption curves by month of issue, the input of a breakage estimate: each month's issued points (a
-- cohort), and what of them was redeemed, expired or reversed in each month since (age 0: the month of issue),
-- with the cumulative redemption rate. Points leave a member first in, first out (the account spends the
-- soonest-expiring lots first, the oldest ones under a fixed expiry period); a redemption given back later
-- (its `refund` entry) is left out on both sides, as its points went back to the lots they came from.
WITH issued AS (
    SELECT
        program_id,
        external_id,
        month AS cohort,
        points,
        SUM(points) OVER (PARTITION BY program_id, external_id ORDER BY created_at, txn_id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto
    FROM ledger
    WHERE flow = 'issued' AND points > 0
),
given_back AS (
    SELECT DISTINCT program_id, redemption_id
    FROM ledger
    WHERE flow = 'refunded'
),
used AS (
    SELECT
        l.program_id,
        l.external_id,
        l.month,
        l.flow,
        -l.points AS points,
        SUM(-l.points) OVER (PARTITION BY l.program_id, l.external_id ORDER BY l.created_at, l.txn_id
                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto
    FROM ledger l
    LEFT JOIN given_back g ON g.program_id = l.program_id AND g.redemption_id = l.redemption_id
    WHERE l.points < 0 AND g.redemption_id IS NULL
),
allocated AS (
    SELECT
        i.program_id,
        i.cohort,
        (CAST(substr(u.month, 1, 4) AS integer) * 12 + CAST(substr(u.month, 6, 2) AS integer))
            - (CAST(substr(i.cohort, 1, 4) AS integer) * 12 + CAST(substr(i.cohort, 6, 2) AS integer)) AS age,
        u.flow,
        LEAST(i.upto, u.upto) - GREATEST(i.upto - i.points, u.upto - u.points) AS points
    FROM issued i
    JOIN used u ON u.program_id = i.program_id AND u.external_id = i.external_id
        AND u.upto - u.points < i.upto AND i.upto - i.points < u.upto
),
by_age AS (
    SELECT
        program_id,
        cohort,
        age,
        SUM(CASE WHEN flow = 'redeemed' THEN points ELSE 0 END) AS redeemed,
        SUM(CASE WHEN flow = 'expired' THEN points ELSE 0 END) AS expired,
        SUM(CASE WHEN flow = 'reversed' THEN points ELSE 0 END) AS reversed
    FROM allocated
    GROUP BY program_id, cohort, age
),
cohorts AS (
    SELECT program_id, cohort, SUM(points) AS issued, COUNT(DISTINCT external_id) AS members
    FROM issued
    GROUP BY program_id, cohort
)
SELECT
    c.program_id,
    c.cohort,
    c.issued,
    c.members,
    COALESCE(a.age, 0) AS age,
    COALESCE(a.redeemed, 0) AS redeemed,
    COALESCE(a.expired, 0) AS expired,
    COALESCE(a.reversed, 0) AS reversed,
    SUM(COALESCE(a.redeemed, 0)) OVER (PARTITION BY c.program_id, c.cohort ORDER BY a.age
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS redeemed_to_date,
    ROUND(CAST(SUM(COALESCE(a.redeemed, 0)) OVER (PARTITION BY c.program_id, c.cohort ORDER BY a.age
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS double)
          / c.issued, 4) AS redemption_rate
FROM cohorts c
LEFT JOIN by_age a ON a.program_id = c.program_id AND a.cohort = c.cohort
ORDER BY c.program_id, c.cohort, age
