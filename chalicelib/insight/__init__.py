"""Insight: what a program's ledger and members add up to, per hour and per day, fed from the table's change
stream (functions/analytics.py) and read by the analytics endpoint: `deltas` turns one stream record into what it
adds (pure), `sketch` counts distinct members in mergeable bytes, `aggregates` writes each record's additions once
and reads a range back.

It reads the items of every area (ledger entries, accounts) from their stream images, so it sits at the top.

May import: core, webhooks, notices, members, earning, rewards, messaging.
"""
