"""Programs and their members: membership and profile, the account (balance, lots, pending points, the
tier window and standing, written through one owner), the ledger, tiers and their review, segments,
manual adjustments, points expiry, and member imports (`imports/`).

May import: core, webhooks, notices.
"""
