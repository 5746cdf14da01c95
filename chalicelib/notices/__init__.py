"""What a member is told: the kinds of message, the templates (built in and the template language),
composing one in the member's language, a program's messaging policy (quiet hours, SMS length,
announcements), publishing a notice to the notifications topic, and the notices of tier changes.
How a notice then reaches the member (channels, preferences, records) is `messaging`'s.

May import: core, webhooks.
"""
