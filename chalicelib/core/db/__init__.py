"""The one DynamoDB table and every item type stored in it (pynamodb models).

Access patterns (pk / sk, and the overloaded indexes):

| item | pk | sk | indexes |
|---|---|---|---|
| organisation | `ORG#{org_id}` | `ORG` | |
| API key | `ORG#{org_id}` | `KEY#{key_id}` | keys of an org: query pk, sk begins_with `KEY#` |
| program | `ORG#{org_id}` | `PRG#{program_id}` | programs of an org: query pk, sk begins_with `PRG#` |
| member's account (balance; legacy: the profile of a member written before the split) | `MBR#{program_id}#{external_id}` | `MEMBER` | gsi2 `DUE#{day}#{shard}` while points wait to expire or to be released (the sooner); gsi3 `TIER#{day}#{shard}` on the day its tier may drop (`tier_review`) |
| member's profile (contact details, locale, attributes: chalicelib/members/profiles.py) | `MBR#{program_id}#{external_id}` | `PROFILE` | gsi3 `NAMES#{program_id}` / `{name, case-folded}` while named: the members by name prefix (chalicelib/members/directory.py) |
| member's directory entry (written once, with the member's creation: chalicelib/members/directory_keys.py) | `MBR#{program_id}#{external_id}` | `DIRECTORY` | gsi1 `MEMBERS#{program_id}` / `{created_at}#{external_id}`: a program's members, newest first; gsi2 `IDS#{program_id}` / `{external_id}`: by external id prefix |
| member lookup (keyed hash of an email or phone: chalicelib/members/lookups.py) | `LOOKUP#{program_id}#{email or phone}#{HMAC-SHA256 hex}` | `{external_id}` | the members with an email or phone: query pk |
| ledger entry | `LEDGER#{program_id}#{scope}#{idempotency key}` | `ENTRY` | gsi1 `MBR#{program_id}#{external_id}` / `{created_at}#{txn_id}`: a member's transactions, newest first (INCLUDE projection of the transaction fields); filtered on `kind` = `redeem`, a member's redemptions, newest first (their `redemption_id`s, then read by key) |
| referral code | `REFCODE#{program_id}#{code}` | `CODE` | |
| campaign budget | `CMP#{campaign_id}` | `BUDGET` | |
| counter shard (a slice of a stock, budget or slot's seats: core/shards.py) | its head's pk | `SHARD#{head's sk}#{nn}` | a counter's shards: query pk, sk begins_with `SHARD#{head's sk}#` |
| reward | `PRG#{program_id}` | `RWD#{reward_id}` | rewards of a program: query pk, sk begins_with `RWD#` |
| member import job (chalicelib/members/imports/) | `PRG#{program_id}` | `IMPORT#{import_id}` | imports of a program, newest first: query pk, sk begins_with `IMPORT#`, backwards (ids are time-ordered); one upload's: the same, filtered on `object_key` |
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
| member history month (`HistoryItem`) | `MBR#{program_id}#{external_id}` | `HIST#{L or W}#{YYYY-MM}` | a sealed month of the member's lots (L) or tier-window days (W): query pk, sk begins_with `HIST#` |
| tier change (history) | `MBR#{program_id}#{external_id}` | `TIER#{created_at}#{version}` | a member's tier history: query pk, sk begins_with `TIER#`, newest first |
| member's session revocation (chalicelib/core/auth.py) | `SESSIONS#{org_id}#{program_id}#{external_id}` | `REVOKED` | |
| job state | `JOB#{name}` | `STATE` | |
| webhook endpoint | `ORG#{org_id}` | `WHE#{endpoint_id}` | endpoints of an org: query pk, sk begins_with `WHE#` |
| webhook delivery | `WHE#{endpoint_id}` | `WHD#{delivery_id}` | an endpoint's deliveries, newest first: query pk backwards (ids are time-ordered) |

A ledger entry's key is its idempotency key, so appending an entry is conditional on the key being
new inside the same transaction that moves the balance: no separate idempotency round trip.

A program's members are listed and searched through the directory (chalicelib/members/directory.py): each member's
DirectoryItem, written in the transaction that creates the member (2 WCU there, plus 1 WCU in each of gsi1 and
gsi2, once), its profile's name keys and its lookup items, written with the profile (no extra write unless the email
or phone changes: then the profile write is a transaction, 2 WCU per KB, plus 2 WCU per lookup put or deleted). An
earn of an existing member writes none of them. The directory answers reads of a page, never a sweep: the two
rare sweeps of the members, a broadcast and
the tier review after a program's tiers change (chalicelib/members/tier_review.py, in parallel segments),
find them with a paginated Scan filtered to the program's members (with a cursor checkpointed in
the broadcast item, or handed on in the next message). That reads the whole table once per sweep,
which costs cents per million items, and in exchange they read the accounts and profiles whole (the
directory's index entries hold keys only: walking them would cost a read per member on top). Scan is granted to
those two functions only.
"""
from chalicelib.core.db.activity_items import ActivityItem, AffinityItem, ChurnModelItem, RedeemedItem  # noqa: F401
from chalicelib.core.db.counter_items import CampaignBudgetItem, ShardItem  # noqa: F401
from chalicelib.core.db.leaderboard_items import LeaderboardCountedItem, PlaceItem, StandingItem  # noqa: F401
from chalicelib.core.db.member_items import (  # noqa: F401
    DIRECTORY_SK,
    HISTORY_PREFIX,
    PROFILE_FIELDS,
    PROFILE_SK,
    DirectoryItem,
    EntryItem,
    HistoryItem,
    ImportJobItem,
    LookupItem,
    MemberItem,
    ProfileItem,
    ProgramItem,
    ReferralCodeItem,
    ReminderItem,
    TierChangeItem,
    attach_profile,
    entry_pk,
    has_legacy_profile,
    legacy_profile,
    lookup_pk,
    member_pk,
    profile_of,
)
from chalicelib.core.db.message_items import (  # noqa: F401
    BroadcastItem,
    BroadcastKeyItem,
    DeliveryItem,
    PhoneOptOutItem,
    PreferencesItem,
    TemplateItem,
    messages_pk,
)
from chalicelib.core.db.org_items import (  # noqa: F401
    ApiKeyItem,
    JobStateItem,
    OrgItem,
    SessionRevocationItem,
    WebhookDeliveryItem,
    WebhookEndpointItem,
)
from chalicelib.core.db.reward_items import (  # noqa: F401
    CashEntryItem,
    CashWalletItem,
    CharityItem,
    CodeItem,
    PayoutItem,
    ProgramBudgetItem,
    RedemptionItem,
    RewardItem,
    SlotItem,
)
from chalicelib.core.db.table import (  # noqa: F401
    SHARDS,
    TRANSACTION_FIELDS,
    Gsi1,
    Gsi2,
    Gsi3,
    Item,
    connection,
    filtered_index_page,
    get,
    get_many,
    index_keys,
    index_page,
    shard_of,
)
