"""Laurel's domain and data layers, shared by the API and every event-driven function.

Areas, from the bottom up; each may import `core` and the areas below it, never one above
(tests/unit/test_layout.py keeps this, reading each area's "May import:" line):

    messaging   how a notice reaches a member: sending, records, preferences, templates, broadcasts
    rewards     the catalog, redemptions and their state machine, reward kinds, budgets, cash, payouts
    earning     events and what they earn: rules, campaigns, referrals, clawback, recognition
    members     programs, members, the account (balance, lots, tiers), segments, imports
    notices     what a member is told: kinds, templates, policy, publishing, announcements
    webhooks    outbound signed events to organisations' endpoints
    core        settings, the table, transactions, auth, the HTTP glue, errors: knows no area

See docs/architecture.md for the map and the way an earn and a redemption travel.
"""
