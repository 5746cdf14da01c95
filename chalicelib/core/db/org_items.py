"""Item types of organisations and what hangs off them directly: API keys, webhook endpoints and
deliveries, and the scheduled jobs' state."""

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.core.db.table import Item


class OrgItem(Item, discriminator="org"):
    org_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UnicodeAttribute()

    @staticmethod
    def key(org_id: str) -> tuple[str, str]:
        return f"ORG#{org_id}", "ORG"


class ApiKeyItem(Item, discriminator="key"):
    org_id = UnicodeAttribute()
    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    salt = UnicodeAttribute()
    created_at = UnicodeAttribute()
    revoked_at = UnicodeAttribute(null=True)
    program_id = UnicodeAttribute(null=True)  # the one program the key reaches (None: every program)
    expires_at = UnicodeAttribute(null=True)
    allowed_sources = JSONAttribute(null=True)  # CIDRs the key may be used from (None: any address)

    @staticmethod
    def key(org_id: str, key_id: str) -> tuple[str, str]:
        return f"ORG#{org_id}", f"KEY#{key_id}"


class SessionRevocationItem(Item, discriminator="session_revocation"):
    """A member's sessions made before `revoked_before` (epoch milliseconds) no longer authenticate."""

    revoked_before = NumberAttribute()

    @staticmethod
    def key(org_id: str, program_id: str, external_id: str) -> tuple[str, str]:
        return f"SESSIONS#{org_id}#{program_id}#{external_id}", "REVOKED"


class WebhookEndpointItem(Item, discriminator="webhook_endpoint"):
    """Where an organisation wants events sent. Its signing secret is derived from `salt`, never stored;
    after a rotation the previous salt still signs until `previous_salt_expires_at`."""

    org_id = UnicodeAttribute()
    endpoint_id = UnicodeAttribute()
    url = UnicodeAttribute()
    kinds = JSONAttribute()
    program_id = UnicodeAttribute(null=True)  # None: every program of the organisation
    description = UnicodeAttribute(null=True)
    enabled = BooleanAttribute()
    salt = UnicodeAttribute()
    previous_salt = UnicodeAttribute(null=True)
    previous_salt_expires_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(org_id: str, endpoint_id: str) -> tuple[str, str]:
        return f"ORG#{org_id}", f"WHE#{endpoint_id}"


class WebhookDeliveryItem(Item, discriminator="webhook_delivery"):
    """One event for one endpoint: the exact body sent, and how its tries went (chalicelib/webhooks)."""

    delivery_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    endpoint_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    body = UnicodeAttribute()
    status = UnicodeAttribute()  # pending, retrying, delivered or failed
    attempts = NumberAttribute(default=0)  # every try, replays included
    tries = NumberAttribute(default=0)  # tries of the current round
    replays = NumberAttribute(default=0)  # rounds started by a replay
    claim = UnicodeAttribute(null=True)  # the SQS message that made the current try
    last_status_code = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    ttl = TTLAttribute(null=True)

    @staticmethod
    def key(endpoint_id: str, delivery_id: str) -> tuple[str, str]:
        return f"WHE#{endpoint_id}", f"WHD#{delivery_id}"


class JobStateItem(Item, discriminator="job"):
    last_day = UnicodeAttribute()

    @staticmethod
    def key(name: str) -> tuple[str, str]:
        return f"JOB#{name}", "STATE"
