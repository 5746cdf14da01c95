"""The one DynamoDB table and every item type stored in it (pynamodb models).

Access patterns (pk / sk, and the overloaded indexes):

| item | pk | sk | indexes |
|---|---|---|---|
| organisation | `ORG#{org_id}` | `ORG` | |
| API key | `ORG#{org_id}` | `KEY#{key_id}` | keys of an org: query pk, sk begins_with `KEY#` |
| program | `ORG#{org_id}` | `PRG#{program_id}` | programs of an org: query pk, sk begins_with `PRG#` |
| member (profile + balance) | `MBR#{program_id}#{external_id}` | `MEMBER` | gsi2 `DUE#{day}#{shard}` while points wait to expire or to be released (the sooner); gsi3 `TIER#{day}#{shard}` on the day its tier may drop (`tier_review`) |
| ledger entry | `LEDGER#{program_id}#{scope}#{idempotency key}` | `ENTRY` | gsi1 `MBR#{program_id}#{external_id}` / `{created_at}#{txn_id}`: a member's transactions, newest first (INCLUDE projection of the transaction fields); filtered on `kind` = `redeem`, a member's redemptions, newest first (their `redemption_id`s, then read by key) |
| referral code | `REFCODE#{program_id}#{code}` | `CODE` | |
| campaign budget | `CMP#{campaign_id}` | `BUDGET` | |
| reward | `PRG#{program_id}` | `RWD#{reward_id}` | rewards of a program: query pk, sk begins_with `RWD#` |
| member import job (chalicelib/members/imports/files.py) | `PRG#{program_id}` | `IMPORT#{import_id}` | imports of a program, newest first: query pk, sk begins_with `IMPORT#`, backwards (ids are time-ordered); one upload's: the same, filtered on `object_key` |
| gift-card code | `CODE#{reward_id}` | sha256(code) | gsi2 `CODEPOOL#{reward_id}` while the code is free |
| redemption | `RDM#{redemption_id}` | `REDEMPTION` | gsi2 `OUTBOX#{shard}` / `{created_at}` while pending (until fulfilled, failed or cancelled); gsi3 `APPROVAL#{program_id}` / `{created_at}#{redemption_id}` only while awaiting approval: a program's approval queue, oldest first (sparse: approving, rejecting or cancelling removes it); gsi3 `SHIP#{program_id}` / `{created_at}#{redemption_id}` only while merchandise is `processing`: what waits to ship, oldest first (sparse: set by the move to processing, removed by the move to shipped or by any way back) |
| member's cash wallet (money, per currency) | `MBR#{program_id}#{external_id}` | `CASH#{currency}` | the member's cash wallets: query pk, sk begins_with `CASH#` |
| cash ledger entry | `CASHLEDGER#{program_id}#{scope}#{key}` | `ENTRY` | gsi3 `CASHTX#{program_id}#{external_id}` / `{created_at}#{entry_id}`: a member's cash transactions, newest first |
| payout request | `PAYOUT#{payout_id}` | `PAYOUT` | gsi3 `PAYOUTS#{program_id}` / `{created_at}#{payout_id}` only while requested: a program's payouts awaiting approval, oldest first (sparse: approving, rejecting or cancelling removes it) |
| program's money budget (used, alerts sent) | `PRG#{program_id}` | `BUDGET` | |
| message delivery | `MSG#{program_id}#{external_id}` | `{subject}#{channel}` | gsi1 `MSG#{program_id}#{external_id}` / `{created_at}#{subject}#{channel}`: a member's messages, newest first (keys and `created_at` projected; the records are read by key) |
| member's message preferences | `MBR#{program_id}#{external_id}` | `PREFS` | |
| phone that replied STOP | `PHONE#{sha256(phone)}` | `OPTOUT` | |
| message template | `PRG#{program_id}` | `TPL#{kind}#{locale}` | a kind's templates: query pk, sk begins_with `TPL#{kind}#`; all: `TPL#` |
| broadcast | `PRG#{program_id}` | `BRD#{broadcast_id}` | |
| broadcast idempotency key | `PRG#{program_id}` | `BRDKEY#{Idempotency-Key}` | |
| expiry reminder sent | `MBR#{program_id}#{external_id}` | `REMIND#{day}` | |
| tier change (history) | `MBR#{program_id}#{external_id}` | `TIER#{created_at}#{version}` | a member's tier history: query pk, sk begins_with `TIER#`, newest first |
| job state | `JOB#{name}` | `STATE` | |
| webhook endpoint | `ORG#{org_id}` | `WHE#{endpoint_id}` | endpoints of an org: query pk, sk begins_with `WHE#` |
| webhook delivery | `WHE#{endpoint_id}` | `WHD#{delivery_id}` | an endpoint's deliveries, newest first: query pk backwards (ids are time-ordered) |

A ledger entry's key is its idempotency key, so appending an entry is conditional on the key being
new inside the same transaction that moves the balance: no separate idempotency round trip.

The members of a program have no index of their own: the two rare sweeps of them, a broadcast and
the tier review after a program's tiers change (chalicelib/members/tier_review.py, in parallel segments),
find them with a paginated Scan filtered to the program's members (with a cursor checkpointed in
the broadcast item, or handed on in the next message). That reads the whole table once per sweep,
which costs cents per million items, and in exchange member writes stay exactly as they are (an
index keyed by program would cost an index write per member write, or a write path that only some
creations take). Scan is granted to those two functions only.
"""
import hashlib
import os

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core import aws, settings

SHARDS = 8  # write-spreading for the "falls due" partitions of gsi2/gsi3


def shard_of(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % SHARDS


class _Meta:
    table_name = settings.table_name()
    region = settings.region()
    host = os.environ.get("AWS_ENDPOINT_URL") or None
    max_retry_attempts = 3
    connect_timeout_seconds = 2
    read_timeout_seconds = 5


def connection() -> Connection:
    """The table's own connection (one botocore client per process), for transactions."""
    return Item._get_connection().connection


TRANSACTION_FIELDS = ["_t", "txn_id", "kind", "points", "balance_after", "event_id", "redemption_id", "reason",
                      "created_at", "expires_at", "reverses", "available_at"]


class Gsi1(GlobalSecondaryIndex):
    """A member's transactions: only what a transaction shows is copied, so each entry's index write stays small."""

    class Meta(_Meta):
        index_name = "gsi1"
        projection = IncludeProjection(TRANSACTION_FIELDS)

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex):
    class Meta(_Meta):
        index_name = "gsi2"
        projection = KeysOnlyProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(GlobalSecondaryIndex):
    class Meta(_Meta):
        index_name = "gsi3"
        projection = KeysOnlyProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Item(Model):
    """Every item of the table; `_t` says which kind it is."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    item_type = DiscriminatorAttribute(attr_name="_t")
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()


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

    @staticmethod
    def key(org_id: str, key_id: str) -> tuple[str, str]:
        return f"ORG#{org_id}", f"KEY#{key_id}"


class ProgramItem(Item, discriminator="program"):
    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    name = UnicodeAttribute()
    currency_name = UnicodeAttribute()
    locale = UnicodeAttribute()
    points_expiry_days = NumberAttribute(null=True)
    clawback = JSONAttribute(null=True)  # {"event_types", "amount_property", "allow_debt"}
    referral = JSONAttribute(null=True)  # {"qualifying_event", "referrer_points", "referee_points"}
    recognition = JSONAttribute(null=True)  # {"monthly_allowance", "max_per_gift"}
    messaging = JSONAttribute(null=True)  # {"quiet_hours", "time_zone", "sms_max_segments"} (messaging.py)
    campaigns = JSONAttribute(null=True)  # [{"id", "name", "starts_at", "ends_at", "budget_points", "earn_rules"}]
    earn_rules = JSONAttribute(default=list)
    tiers = JSONAttribute(default=list)
    tier_policy = JSONAttribute(null=True)  # {"measure", "window_days", "grace_days", "downgrade", ...} (tiers.py)
    redemption_policy = JSONAttribute(null=True)  # {"approval_above_points"} (redemption_review.py)
    budget = JSONAttribute(null=True)  # {"amount", "currency", "alert_at_percent"}; its use: ProgramBudgetItem
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(org_id: str, program_id: str) -> tuple[str, str]:
        return f"ORG#{org_id}", f"PRG#{program_id}"


def member_pk(program_id: str, external_id: str) -> str:
    return f"MBR#{program_id}#{external_id}"


class MemberItem(Item, discriminator="member"):
    """A member's profile and its balance, moved together with each ledger entry."""

    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    attributes = JSONAttribute(null=True)
    available = NumberAttribute(default=0)
    pending = NumberAttribute(default=0)
    lifetime_earned = NumberAttribute(default=0)
    lifetime_spent = NumberAttribute(default=0)
    debt = NumberAttribute(default=0)
    lots = JSONAttribute(default=list)  # [[expires_at, points], ...] oldest first
    holds = JSONAttribute(null=True)  # pending points: [[release_at, points, event_id, expires_at], ...] (wallet.py)
    earned = JSONAttribute(default=dict)  # {day: points} for the rolling tier window
    rule_counters = JSONAttribute(null=True, attr_name="rc")  # per-rule caps and first-time use (rules.py)
    tier = UnicodeAttribute(null=True)
    tier_below_since = UnicodeAttribute(null=True, attr_name="tbs")  # the day its measure fell below its tier
    tier_review = UnicodeAttribute(null=True, attr_name="trv")  # the day its tier may next fall (gsi3)
    tiers_reached = JSONAttribute(null=True, attr_name="trc")  # tier names ever reached (bonuses paid once)
    given = JSONAttribute(null=True)  # recognition allowance used: {"YYYY-MM": points}, this month only
    referred_by = UnicodeAttribute(null=True)  # the referrer's external_id
    referral = UnicodeAttribute(null=True)  # "pending" until the qualifying event rewards it, then "rewarded"
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()

    @staticmethod
    def key(program_id: str, external_id: str) -> tuple[str, str]:
        return member_pk(program_id, external_id), "MEMBER"


class TierChangeItem(Item, discriminator="tierchange"):
    """One move of a member's tier, written in the same transaction as the member: its tier history."""

    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    change = UnicodeAttribute()  # "up" or "down"
    from_tier = UnicodeAttribute(null=True)
    to_tier = UnicodeAttribute(null=True)
    qualifying = NumberAttribute()
    created_at = UnicodeAttribute()

    @staticmethod
    def key(program_id: str, external_id: str, created_at: str, version: int) -> tuple[str, str]:
        return member_pk(program_id, external_id), f"TIER#{created_at}#{version:08d}"


def entry_pk(program_id: str, scope: str, idempotency_key: str) -> str:
    return f"LEDGER#{program_id}#{scope}#{idempotency_key}"


class EntryItem(Item, discriminator="entry"):
    """One ledger entry: immutable once written, keyed by its idempotency key."""

    txn_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    points = NumberAttribute()
    balance_after = NumberAttribute()
    event_id = UnicodeAttribute(null=True)
    redemption_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    expires_at = UnicodeAttribute(null=True)
    reverses = UnicodeAttribute(null=True)  # the event whose points a `reverse` entry takes back
    available_at = UnicodeAttribute(null=True)  # an earn held pending: when its points become available
    basis = NumberAttribute(null=True)  # an earn's amount, for proportional reversal of a partial refund
    reversed = NumberAttribute(null=True)  # points of this earn reversed so far (never above `points`)
    settled = NumberAttribute(null=True)  # debt paid from this credit, in a `reverse` entry of its own
    created_at = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    snapshot = JSONAttribute(null=True)  # what the first answer held beyond these fields (the balance then)


class ReferralCodeItem(Item, discriminator="refcode"):
    """Which member a referral code belongs to (the code itself is derived, not stored per member)."""

    external_id = UnicodeAttribute()

    @staticmethod
    def key(program_id: str, code: str) -> tuple[str, str]:
        return f"REFCODE#{program_id}#{code}", "CODE"


class CampaignBudgetItem(Item, discriminator="budget"):
    """A campaign's points budget and what it has given: raised in each award's transaction, never past it."""

    budget = NumberAttribute(null=True)  # None: unlimited
    spent = NumberAttribute(default=0)

    @staticmethod
    def key(campaign_id: str) -> tuple[str, str]:
        return f"CMP#{campaign_id}", "BUDGET"


class ProgramBudgetItem(Item, discriminator="program_budget"):
    """What a program's money budget has paid for: raised in each redemption's transaction, never past the
    amount, lowered once by a refund, rejection or cancellation (budgets.py)."""

    used = NumberAttribute(default=0)  # minor units of the budget's currency
    alerted = UnicodeSetAttribute(null=True)  # {"{amount}:{percent}"}: threshold alerts sent for that amount

    @staticmethod
    def key(program_id: str) -> tuple[str, str]:
        return f"PRG#{program_id}", "BUDGET"


class RewardItem(Item, discriminator="reward"):
    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    reward_id = UnicodeAttribute()
    reward_type = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    cost = NumberAttribute()
    value = JSONAttribute(null=True)
    stock = NumberAttribute(null=True)  # None: unlimited
    active = BooleanAttribute(default=True)
    low_stock_threshold = NumberAttribute(null=True)  # None: catalog.LOW_STOCK_THRESHOLD
    low_stock_since = UnicodeAttribute(null=True)  # set when low stock was announced, cleared by a restock
    tiers = JSONAttribute(null=True)  # tier names whose members alone may redeem it (None: everyone)
    segment = JSONAttribute(null=True)  # the members' segment alone may redeem it (segments.py; None: everyone)
    translations = JSONAttribute(null=True)  # {locale: {"name"?, "description"?}} (locales.py)
    slots = JSONAttribute(null=True)  # an experience's sessions [{id, starts_at, capacity}]; seats in SlotItem
    cancel_cutoff_hours = NumberAttribute(null=True)
    charities = JSONAttribute(null=True)  # a donation's charities [{id, name}]; totals in CharityItem
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(program_id: str, reward_id: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"RWD#{reward_id}"


class SlotItem(Item, discriminator="slot"):
    """An experience slot's seats: `booked` raised in each booking's transaction, never past `capacity`,
    lowered once by the status move that gives the booking back (bookings.py)."""

    capacity = NumberAttribute()
    booked = NumberAttribute(default=0)

    @staticmethod
    def key(program_id: str, reward_id: str, slot_id: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"SLOT#{reward_id}#{slot_id}"


class CharityItem(Item, discriminator="charity"):
    """A charity's donations in a program: raised by the status move that fulfils each (donations.py)."""

    charity_id = UnicodeAttribute()
    name = UnicodeAttribute()
    points = NumberAttribute(default=0)
    donations = NumberAttribute(default=0)

    @staticmethod
    def key(program_id: str, charity_id: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"CHARITY#{charity_id}"


class CodeItem(Item, discriminator="code"):
    """A gift-card code, sealed (chalicelib/core/vault.py): the table holds its hash and ciphertext only."""

    reward_id = UnicodeAttribute()
    sealed = UnicodeAttribute()
    redemption_id = UnicodeAttribute(null=True)
    added_at = UnicodeAttribute()

    @staticmethod
    def key(reward_id: str, code: str) -> tuple[str, str]:
        return f"CODE#{reward_id}", hashlib.sha256(code.encode()).hexdigest()


class RedemptionItem(Item, discriminator="redemption"):
    redemption_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    reward_id = UnicodeAttribute()
    reward_type = UnicodeAttribute()
    reward_name = UnicodeAttribute()  # as the member reads it (its locale's translation): what messages say
    quantity = NumberAttribute()
    points = NumberAttribute()
    status = UnicodeAttribute()
    delivery = JSONAttribute(null=True)
    terms = JSONAttribute(null=True)  # what the reward promised when redeemed (a transfer's partner and rate)
    fulfillment = JSONAttribute(null=True)
    consumed = JSONAttribute(default=list)  # the lots the points came from, restored on refund
    failure_reason = UnicodeAttribute(null=True)  # why it failed, was rejected or cancelled
    budget_cost = NumberAttribute(null=True)  # minor units taken from the program's budget, given back on refund
    sent_at = UnicodeAttribute(null=True)  # when a transfer was first sent to the provider: no longer cancellable
    notified = BooleanAttribute(default=False)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(redemption_id: str) -> tuple[str, str]:
        return f"RDM#{redemption_id}", "REDEMPTION"


class CashWalletItem(Item, discriminator="cash_wallet"):
    """A member's money (minor units of one currency), credited by cashback and reserved by payouts
    (cash_wallet.py); the version makes concurrent writers retry, so the balance never goes negative."""

    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    balance = NumberAttribute(default=0)
    updated_at = UnicodeAttribute()
    version = VersionAttribute()

    @staticmethod
    def key(program_id: str, external_id: str, currency: str) -> tuple[str, str]:
        return member_pk(program_id, external_id), f"CASH#{currency}"


class CashEntryItem(Item, discriminator="cash_entry"):
    """One move of a cash wallet, keyed by what made it (a redemption, a payout's step): written once."""

    entry_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # credit, payout_reserved, payout_paid, payout_returned
    amount = NumberAttribute()  # signed minor units (0 for a payout paid: its money left when reserved)
    currency = UnicodeAttribute()
    balance_after = NumberAttribute()
    redemption_id = UnicodeAttribute(null=True)
    payout_id = UnicodeAttribute(null=True)
    fingerprint = UnicodeAttribute(null=True)  # a payout request's, to tell a replay from another request
    created_at = UnicodeAttribute()

    @staticmethod
    def key(program_id: str, scope: str, key: str) -> tuple[str, str]:
        return f"CASHLEDGER#{program_id}#{scope}#{key}", "ENTRY"


class PayoutItem(Item, discriminator="payout"):
    """A request to pay a member's cash out; its method (bank account or email) is sealed (payouts.py)."""

    payout_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    method_type = UnicodeAttribute()
    method_sealed = UnicodeAttribute()
    method_hash = UnicodeAttribute()
    status = UnicodeAttribute()  # requested, approved, paid, rejected, cancelled
    reason = UnicodeAttribute(null=True)
    external_reference = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(payout_id: str) -> tuple[str, str]:
        return f"PAYOUT#{payout_id}", "PAYOUT"


def messages_pk(program_id: str, external_id: str) -> str:
    return f"MSG#{program_id}#{external_id}"


class DeliveryItem(Item, discriminator="delivery"):
    """One message to one member on one channel: sent once however often it is asked for.

    `subject` names what the message is about (message_kinds.Kind.subject). `status`: `sending`
    (claimed by a delivery function), `queued` (to be tried again), `deferred` (quiet hours, until
    `deferred_until`), `sent`, `suppressed` or `failed` (with `reason`).
    """

    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    subject = UnicodeAttribute()
    channel = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    deferred_until = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    ttl = TTLAttribute(null=True)

    @staticmethod
    def key(program_id: str, external_id: str, subject: str, channel: str) -> tuple[str, str]:
        return messages_pk(program_id, external_id), f"{subject}#{channel}"


class PreferencesItem(Item, discriminator="prefs"):
    """What a member wants to receive, per channel and category; unset means the default (preferences.py)."""

    email_transactional = BooleanAttribute(null=True)
    email_marketing = BooleanAttribute(null=True)
    sms_transactional = BooleanAttribute(null=True)
    sms_marketing = BooleanAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    @staticmethod
    def key(program_id: str, external_id: str) -> tuple[str, str]:
        return member_pk(program_id, external_id), "PREFS"


class PhoneOptOutItem(Item, discriminator="optout"):
    """A phone number that replied STOP: no SMS reaches it until it replies START."""

    opted_out_at = UnicodeAttribute()

    @staticmethod
    def key(phone: str) -> tuple[str, str]:
        return f"PHONE#{hashlib.sha256(phone.encode()).hexdigest()}", "OPTOUT"


class TemplateItem(Item, discriminator="template"):
    """A program's own template for one kind and locale: `email` {subject, html, text}, `sms` {text}."""

    program_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    locale = UnicodeAttribute()
    email = JSONAttribute(null=True)
    sms = JSONAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(program_id: str, kind: str, locale: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"TPL#{kind}#{locale}"


class BroadcastItem(Item, discriminator="broadcast"):
    """A message to a segment of a program's members, sent a slice at a time (broadcasts.py)."""

    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    broadcast_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    content = JSONAttribute(null=True)  # {locale: {"title", "body"}}
    segment = JSONAttribute(null=True)  # {"tiers", "attributes", "active_within_days"}
    channels = JSONAttribute()
    status = UnicodeAttribute()  # queued, running, done
    slice = NumberAttribute(default=0)  # the slice the next worker message must name
    cursor = JSONAttribute(null=True)  # where the members' scan goes on
    members = NumberAttribute(default=0)
    targeted = NumberAttribute(default=0)
    sent = NumberAttribute(default=0)
    suppressed = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    fingerprint = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)

    @staticmethod
    def key(program_id: str, broadcast_id: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"BRD#{broadcast_id}"


class BroadcastKeyItem(Item, discriminator="broadcast_key"):
    """Which broadcast an Idempotency-Key made, so a repeated POST starts nothing new."""

    broadcast_id = UnicodeAttribute()

    @staticmethod
    def key(program_id: str, idempotency_key: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"BRDKEY#{idempotency_key}"


class ReminderItem(Item, discriminator="reminder"):
    """Marks that a member was told its points expire on a date, so a job's next run skips it."""

    ttl = TTLAttribute(null=True)

    @staticmethod
    def key(program_id: str, external_id: str, day: str) -> tuple[str, str]:
        return member_pk(program_id, external_id), f"REMIND#{day}"


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


def get(model: type, key: tuple[str, str], consistent: bool = True):
    """One GetItem; None when absent or of another kind."""
    try:
        item = Item.get(*key, consistent_read=consistent)
    except Item.DoesNotExist:
        return None
    return item if isinstance(item, model) else None


def index_keys(index: str, partition: str, limit: int, sort_before: str | None = None) -> list[tuple[str, str]]:
    """Table keys from a KEYS_ONLY index (pynamodb's own query would filter on the unprojected `_t`)."""
    condition, values = f"{index}pk = :p", {":p": {"S": partition}}
    if sort_before is not None:
        condition += f" AND {index}sk < :s"
        values[":s"] = {"S": sort_before}
    keys, start = [], None
    while len(keys) < limit:
        page = aws.client("dynamodb").query(
            TableName=_Meta.table_name, IndexName=index, KeyConditionExpression=condition,
            ExpressionAttributeValues=values, Limit=limit - len(keys), **({"ExclusiveStartKey": start} if start else {}))
        keys += [(item["pk"]["S"], item["sk"]["S"]) for item in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return keys


def index_page(index: str, partition: str, limit: int, start: dict | None,
               newest_first: bool = False) -> tuple[list[tuple[str, str]], dict | None]:
    """One page of table keys from a KEYS_ONLY index partition, and where the next page starts (None: done)."""
    page = aws.client("dynamodb").query(
        TableName=_Meta.table_name, IndexName=index, KeyConditionExpression=f"{index}pk = :p",
        ExpressionAttributeValues={":p": {"S": partition}}, Limit=limit, ScanIndexForward=not newest_first,
        **({"ExclusiveStartKey": start} if start else {}))
    return [(item["pk"]["S"], item["sk"]["S"]) for item in page.get("Items", [])], page.get("LastEvaluatedKey")


FILTERED_READS, FILTERED_READ_SIZE = 5, 100  # Queries one filtered page may make, and entries each reads


def filtered_index_page(index: str, partition: str, attribute: str, value: str, wanted: int, start: dict | None,
                        newest_first: bool = False) -> tuple[list[dict], dict | None]:
    """Up to `wanted` items (raw attribute maps) of an index partition whose `attribute` is `value`, and where
    the next page starts (None: done). DynamoDB filters after it reads, and charges for every entry it reads:
    each Query reads up to FILTERED_READ_SIZE entries, at most FILTERED_READS are made, so a page of a partition
    where few items match stops short, with a cursor, instead of reading the whole partition."""
    found: list[dict] = []
    for _ in range(FILTERED_READS):
        page = aws.client("dynamodb").query(
            TableName=_Meta.table_name, IndexName=index, KeyConditionExpression=f"{index}pk = :p",
            FilterExpression="#a = :v", ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues={":p": {"S": partition}, ":v": {"S": value}}, Limit=FILTERED_READ_SIZE,
            ScanIndexForward=not newest_first, **({"ExclusiveStartKey": start} if start else {}))
        for item in page.get("Items", []):
            found.append(item)
            if len(found) == wanted:  # full: the next page starts after this item
                return found, {name: item[name] for name in ("pk", "sk", f"{index}pk", f"{index}sk")}
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    return found, start


def get_many(*keys: tuple[str, str]) -> dict[tuple[str, str], Item]:
    """One BatchGetItem for several items of any kind, keyed by (pk, sk)."""
    found = Item.batch_get(list(keys), consistent_read=True)
    return {(item.pk, item.sk): item for item in found}
