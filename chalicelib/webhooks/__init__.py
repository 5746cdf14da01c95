"""Outbound webhooks: organisations register HTTPS endpoints and get signed events, retried until delivered.

- `events.emit` is the one function the domain calls when something happened;
- `endpoints`: registration, the kinds each endpoint wants, its derived signing secret;
- `deliveries`: one item per event and endpoint, its tries, replays, and the try itself;
- `signing`: the `Laurel-Signature` header, and `verify` as a receiver should check it;
- `transport`: the HTTP POST, to public addresses only.

May import: core.

See docs/webhooks.md. This module holds only the kinds' names, so the shapes can name them cheaply.
"""

# The kinds an endpoint may subscribe to (a ping, `webhook.ping`, goes to one endpoint on request).
KINDS = ("redemption.status_changed", "tier.changed", "points.expiring", "reward.low_stock",
         "budget.threshold", "payout.status_changed", "member.status_changed")
PING = "webhook.ping"
