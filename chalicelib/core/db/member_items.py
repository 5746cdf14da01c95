"""Item types of programs and their members: the member (its account and its profile), its ledger entries,
tier history, referral codes, expiry reminders and member import jobs."""

import json

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, VersionAttribute

from chalicelib.core.db.table import Item


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
    messaging = JSONAttribute(null=True)  # {"quiet_hours", "time_zone", "sms_max_segments"} (notices/policy.py)
    campaigns = JSONAttribute(null=True)  # [{"id", "name", "starts_at", "ends_at", "budget_points", "earn_rules"}]
    earn_rules = JSONAttribute(default=list)
    tiers = JSONAttribute(default=list)
    tier_policy = JSONAttribute(null=True)  # {"measure", "window_days", "grace_days", "downgrade", ...} (tiers.py)
    redemption_policy = JSONAttribute(null=True)  # {"approval_above_points"} (rewards/review.py)
    budget = JSONAttribute(null=True)  # {"amount", "currency", "alert_at_percent"}; its use: ProgramBudgetItem
    offboarding = JSONAttribute(null=True)  # {"forfeit_on_close"} (chalicelib/members/offboarding.py)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(org_id: str, program_id: str) -> tuple[str, str]:
        return f"ORG#{org_id}", f"PRG#{program_id}"


class CompactJSONAttribute(JSONAttribute):
    """JSON without spaces: on an item written with every change, each byte is paid for."""

    def serialize(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"))


def member_pk(program_id: str, external_id: str) -> str:
    return f"MBR#{program_id}#{external_id}"


class MemberItem(Item, discriminator="member"):
    """A member's account: its balance, moved together with each ledger entry (its profile: ProfileItem)."""

    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    # Legacy: the profile of a member written before the split, moved to its ProfileItem on the member's next
    # change (chalicelib/members/profiles.py). Read a member's profile with `profile_of`, never from these.
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
    lots = JSONAttribute(null=True)  # before monthly pieces: every lot, [[expires_at, points], ...] oldest first
    holds = JSONAttribute(null=True)  # pending points: [[release_at, points, event_id, expires_at], ...] (members/lots.py)
    earned = JSONAttribute(null=True)  # before monthly pieces: {day: points} for the rolling tier window
    # Lots and tier-window days in monthly pieces (chalicelib/members/history.py): the detail of the months on
    # the account, and the totals of the months sealed in a HistoryItem each.
    lot_days = CompactJSONAttribute(null=True, attr_name="ld")
    lot_months = CompactJSONAttribute(null=True, attr_name="lm")
    window_days = CompactJSONAttribute(null=True, attr_name="wd")
    window_months = CompactJSONAttribute(null=True, attr_name="wm")
    rule_counters = JSONAttribute(null=True, attr_name="rc")  # per-rule caps and first-time use (rules.py)
    tier = UnicodeAttribute(null=True)
    tier_below_since = UnicodeAttribute(null=True, attr_name="tbs")  # the day its measure fell below its tier
    tier_review = UnicodeAttribute(null=True, attr_name="trv")  # the day its tier may next fall (gsi3)
    tiers_reached = JSONAttribute(null=True, attr_name="trc")  # tier names ever reached (bonuses paid once)
    given = JSONAttribute(null=True)  # recognition allowance used: {"YYYY-MM": points}, this month only
    referred_by = UnicodeAttribute(null=True)  # the referrer's external_id
    referral = UnicodeAttribute(null=True)  # "pending" until the qualifying event rewards it, then "rewarded"
    # Offboarding and blocking (chalicelib/members/offboarding.py): absent while active (no byte on an earn).
    status = UnicodeAttribute(null=True, attr_name="st")  # "closed" or "blocked"
    status_detail = CompactJSONAttribute(null=True, attr_name="sd")  # {"reason", "at", "forfeited", "erased_at"}
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()

    @staticmethod
    def key(program_id: str, external_id: str) -> tuple[str, str]:
        return member_pk(program_id, external_id), "MEMBER"


PROFILE_FIELDS = ("email", "phone", "name", "locale", "attributes")  # what PUT member sets


class ProfileItem(Item, discriminator="profile"):
    """A member's profile (contact details, locale, attributes) beside its account, so that a change of balance
    never rewrites it. Written by PUT member and imports (chalicelib/members/profiles.py); a member enrolled by
    an event has none until a profile field is set."""

    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    attributes = JSONAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()

    @staticmethod
    def key(program_id: str, external_id: str) -> tuple[str, str]:
        return member_pk(program_id, external_id), PROFILE_SK


PROFILE_SK = "PROFILE"  # beside its account, in the member's partition
DIRECTORY_SK = "DIRECTORY"


class DirectoryItem(Item, discriminator="directory"):
    """A member's entry in its program's directory (chalicelib/members/directory.py), written once with the member's
    first write (whichever creates it: an event, PUT member or an import) and never again: gsi1
    `MEMBERS#{program_id}` / `{created_at}#{external_id}` (newest first) and gsi2 `IDS#{program_id}` /
    `{external_id}` (id prefix). An item of its own, so an earn never rewrites it."""

    @staticmethod
    def key(program_id: str, external_id: str) -> tuple[str, str]:
        return member_pk(program_id, external_id), DIRECTORY_SK


class LookupItem(Item, discriminator="lookup"):
    """A member found by its email or phone: pk `LOOKUP#{program_id}#{kind}#{HMAC of the normalised value}`, sk
    the external_id (several members may share one). Written in the transaction of the profile write that sets
    the value, deleted in the one that changes it (chalicelib/members/lookups.py); the plain value is nowhere in it."""

    @staticmethod
    def key(program_id: str, kind: str, digest: str, external_id: str) -> tuple[str, str]:
        return lookup_pk(program_id, kind, digest), external_id


def lookup_pk(program_id: str, kind: str, digest: str) -> str:
    return f"LOOKUP#{program_id}#{kind}#{digest}"


def has_legacy_profile(member: MemberItem) -> bool:
    """Whether the member item still carries the profile it had before the split."""
    return any(getattr(member, name) is not None for name in PROFILE_FIELDS)


def legacy_profile(member: MemberItem) -> ProfileItem:
    """The profile a member item carries in its legacy fields (none: an empty one), as an unsaved ProfileItem."""
    return ProfileItem(*ProfileItem.key(member.program_id, member.external_id), org_id=member.org_id,
                       program_id=member.program_id, external_id=member.external_id,
                       created_at=member.created_at, updated_at=member.updated_at,
                       **{name: getattr(member, name) for name in PROFILE_FIELDS})


def attach_profile(member: MemberItem, profile: ProfileItem | None) -> MemberItem:
    """Keep with the member the profile read with it (None: it has no ProfileItem), for `profile_of`."""
    member._profile = profile if isinstance(profile, ProfileItem) else legacy_profile(member)
    return member


def profile_of(member: MemberItem) -> ProfileItem:
    """The member's profile: the one read with it (`attach_profile`: read both in one BatchGetItem where the
    profile is needed), else its legacy fields (a member written before the split, or never stored), else its
    ProfileItem read now, one GetItem. A member without a profile has an empty, unsaved one."""
    profile = getattr(member, "_profile", None)
    if profile is None:
        stored = None
        if member.version is not None and not has_legacy_profile(member):
            try:
                stored = ProfileItem.get(*ProfileItem.key(member.program_id, member.external_id), consistent_read=True)
            except ProfileItem.DoesNotExist:
                stored = None
        profile = attach_profile(member, stored)._profile
    return profile


class HistoryItem(Item, discriminator="history"):
    """One sealed month of a member's lots (`L`) or tier-window days (`W`) (chalicelib/members/history.py),
    written in the transaction of the member whose account holds the month's total; `stamp` is the member's
    version after that write, so a reader that raced a newer writer knows to read again."""

    days = CompactJSONAttribute()
    stamp = NumberAttribute()

    @staticmethod
    def key(program_id: str, external_id: str, series: str, month: str) -> tuple[str, str]:
        return member_pk(program_id, external_id), f"{HISTORY_PREFIX}{series}#{month}"


HISTORY_PREFIX = "HIST#"


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
    campaign_points = JSONAttribute(null=True)  # an earn's points that running campaigns gave: {campaign_id: points}
    created_at = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    snapshot = CompactJSONAttribute(null=True)  # what the first answer held beyond these fields (the balance then)


class ReferralCodeItem(Item, discriminator="refcode"):
    """Which member a referral code belongs to (the code itself is derived, not stored per member)."""

    external_id = UnicodeAttribute()

    @staticmethod
    def key(program_id: str, code: str) -> tuple[str, str]:
        return f"REFCODE#{program_id}#{code}", "CODE"


class ReminderItem(Item, discriminator="reminder"):
    """Marks that a member was told its points expire on a date, so a job's next run skips it."""

    ttl = TTLAttribute(null=True)

    @staticmethod
    def key(program_id: str, external_id: str, day: str) -> tuple[str, str]:
        return member_pk(program_id, external_id), f"REMIND#{day}"


class ImportJobItem(Item, discriminator="import"):
    """One import of one S3 object (chalicelib/members/imports/), at `PRG#{program_id}` / `IMPORT#{import_id}`:
    a program's imports are a query on pk with sk begins_with `IMPORT#`, newest first backwards (ids are
    time-ordered)."""

    COUNTS = ("rows", "created", "updated", "unchanged", "rejected")

    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    import_id = UnicodeAttribute()
    file_name = UnicodeAttribute()  # the key below imports/{org_id}/{program_id}/
    bucket = UnicodeAttribute()
    object_key = UnicodeAttribute()
    version_id = UnicodeAttribute(null=True)
    etag = UnicodeAttribute()
    size = NumberAttribute()
    file_format = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # running | done | failed
    error = JSONAttribute(null=True)  # {"code", "message"}: why the file as a whole was refused
    last_error = UnicodeAttribute(null=True)  # the last transient failure while running
    offset = NumberAttribute(default=0)  # checkpoint: the byte where the next row starts
    next_line = NumberAttribute(default=1)  # checkpoint: that row's line number
    header = JSONAttribute(null=True)  # CSV: the columns, for continuations that start mid-file
    rows = NumberAttribute(default=0)
    created = NumberAttribute(default=0)
    updated = NumberAttribute(default=0)
    unchanged = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    parts = JSONAttribute(default=list)  # [start offset, writer's token] of checkpointed segments with rejected rows
    lease = UnicodeAttribute(null=True)  # fencing token of the worker holding the job
    lease_message = UnicodeAttribute(null=True)  # the queue message that worker handles
    lease_until = UnicodeAttribute(null=True)
    report_key = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    ttl = TTLAttribute(null=True)

    @staticmethod
    def key(program_id: str, import_id: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"IMPORT#{import_id}"

    def counts(self) -> dict[str, int]:
        """Its rows so far, by outcome."""
        return {name: int(getattr(self, name)) for name in self.COUNTS}
