"""Events and what they earn: the earn path, the rule language and its evaluation, campaigns and their
budgets, referrals, clawback, recognition, order webhooks and partner event verification. It decides
the points; the member's account (`members`) applies them.

May import: core, webhooks, notices, members.
"""
