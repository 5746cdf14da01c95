"""The data subject's rights over everything Laurel holds about one member, across the areas below: access (one
export of it all, `export`) and erasure (`erasure`). See docs/privacy.md.

May import: core, webhooks, notices, members, earning, rewards, messaging, insight.
"""
