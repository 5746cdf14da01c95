"""Deployment settings, read from the environment when used (never cached at import)."""
import hashlib
import os


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"setting {name} is not configured")
    return value


def table_name() -> str:
    return os.environ.get("LAUREL_TABLE", "laurel")


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def root_key_hash() -> str:
    """The root key's SHA-256: deployments give only the hash; the local stack may give the key."""
    if os.environ.get("LAUREL_ROOT_KEY_HASH"):
        return os.environ["LAUREL_ROOT_KEY_HASH"]
    if os.environ.get("LAUREL_ROOT_KEY"):
        return hashlib.sha256(os.environ["LAUREL_ROOT_KEY"].encode()).hexdigest()
    return ""


def signing_key() -> bytes:
    return _required("LAUREL_SIGNING_KEY").encode()


def codes_key_id() -> str:
    """The KMS key whose data keys seal gift-card codes (chalicelib/core/vault.py)."""
    return _required("CODES_KEY_ID")


def partner_events_queue_url() -> str:
    return os.environ.get("PARTNER_EVENTS_QUEUE_URL", "")


def partner_events_dlq_url() -> str:
    return os.environ.get("PARTNER_EVENTS_DLQ_URL", "")


def partner_events_max_receives() -> int:
    return int(os.environ.get("PARTNER_EVENTS_MAX_RECEIVES", "5"))


def imports_bucket() -> str:
    """Where member files are dropped ("" when not configured: the import function then takes any bucket's)."""
    return os.environ.get("IMPORTS_BUCKET", "")


def imports_queue_url() -> str:
    return _required("IMPORTS_QUEUE_URL")


def imports_dlq_url() -> str:
    return os.environ.get("IMPORTS_DLQ_URL", "")


def fulfilment_queue_url() -> str:
    return _required("FULFILMENT_QUEUE_URL")


def fulfilment_max_receives() -> int:
    return int(os.environ.get("FULFILMENT_MAX_RECEIVES", "5"))


def tier_review_queue_url() -> str:
    return _required("TIER_REVIEW_QUEUE_URL")


def notifications_topic_arn() -> str:
    return _required("NOTIFICATIONS_TOPIC_ARN")


def email_sender() -> str:
    return os.environ.get("EMAIL_SENDER", "rewards@example.com")


def webhooks_queue_url() -> str:
    return _required("WEBHOOKS_QUEUE_URL")


def webhooks_dlq_url() -> str:
    return _required("WEBHOOKS_DLQ_URL")


def webhooks_max_receives() -> int:
    return int(os.environ.get("WEBHOOKS_MAX_RECEIVES", "5"))


def webhooks_backoff_scale() -> float:
    """Multiplies every webhook retry delay: 1 deployed, 0 in tests that want the retries at once."""
    return float(os.environ.get("WEBHOOKS_BACKOFF_SCALE", "1"))


def local_webhooks() -> bool:
    """Local stack and tests only: webhook endpoints may be plain http and on private or loopback addresses."""
    return os.environ.get("LAUREL_LOCAL_WEBHOOKS") == "1"


def notifications_max_receives() -> int:
    """maxReceiveCount of the email and SMS queues: the delivery recognises its last try by it."""
    return int(os.environ.get("NOTIFICATIONS_MAX_RECEIVES", "5"))


def delivery_queue_url(channel: str) -> str:
    """The channel's own queue, where a message deferred by quiet hours goes back with a delay."""
    return _required("EMAIL_QUEUE_URL" if channel == "email" else "SMS_QUEUE_URL")


def public_api_url() -> str:
    """The API's public base URL, for the unsubscribe links in emails ("" when not configured)."""
    return os.environ.get("PUBLIC_API_URL", "").rstrip("/")


def broadcast_queue_url() -> str:
    return _required("BROADCAST_QUEUE_URL")


def broadcast_sends_per_second() -> float:
    """Members a broadcast publishes to per second: at most this many sends per second on each channel."""
    return float(os.environ.get("BROADCAST_SENDS_PER_SECOND", "10"))


def provider_base_url() -> str:
    """The reward provider's API (Tremendous's, or its sandbox): orders for points transfers go there."""
    return _required("PROVIDER_BASE_URL")


def provider_api_key() -> str:
    return _required("PROVIDER_API_KEY")


def provider_timeout_seconds() -> float:
    return float(os.environ.get("PROVIDER_TIMEOUT_SECONDS", "5"))
