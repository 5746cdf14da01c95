"""Rewards and what is paid out: the catalog, eligibility, redemptions and the one state machine that
writes their status, one module per reward kind (`kinds/`) behind one interface, budgets, members'
cash wallets and payouts, and the outside providers that deliver (`providers/`).

May import: core, webhooks, notices, members, earning.
"""
