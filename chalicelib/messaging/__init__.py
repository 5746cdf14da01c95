"""How a notice reaches a member: sending it on one channel (email or SMS) once, the record of every
message, the member's preferences and opt-outs, a program's own templates, and broadcasts to a segment.

May import: core, webhooks, notices, members, earning, rewards.
"""
