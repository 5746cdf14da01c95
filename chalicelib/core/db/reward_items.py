"""Item types of the rewards side: rewards, slots, charities, gift-card codes, redemptions, a program's
money budget, cash wallets, cash entries and payouts."""
import hashlib

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)

from chalicelib.core.db.member_items import member_pk
from chalicelib.core.db.table import Item


class ProgramBudgetItem(Item, discriminator="program_budget"):
    """What a program's money budget has paid for: raised in each redemption's transaction, never past the
    amount, lowered once by a refund, rejection or cancellation (budgets.py); split into shards (`shards`)
    once it holds many redemptions' worth, `used` then counts only what was used before."""

    used = NumberAttribute(default=0)  # minor units of the budget's currency
    alerted = UnicodeSetAttribute(null=True)  # {"{amount}:{percent}"}: threshold alerts sent for that amount
    shards = NumberAttribute(null=True)  # once split (core/shards.py): what was used since is in its shards

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
    stock = NumberAttribute(null=True)  # None: unlimited; once split (`stock_shards`), only says it is limited
    stock_shards = NumberAttribute(null=True)  # the shards that hold what is left (rewards/stock.py); None: `stock`
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
    lowered once by the status move that gives the booking back (rewards/kinds/experience.py). Split into
    shards (`shards`) when many bookings' worth is free, `booked` then counts only the bookings before."""

    capacity = NumberAttribute()
    booked = NumberAttribute(default=0)
    shards = NumberAttribute(null=True)

    @staticmethod
    def key(program_id: str, reward_id: str, slot_id: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"SLOT#{reward_id}#{slot_id}"


class CharityItem(Item, discriminator="charity"):
    """A charity's donations in a program: raised by the status move that fulfils each (rewards/kinds/donation.py)."""

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
    value = JSONAttribute(null=True)  # the reward's money value per unit when redeemed, {amount, currency} (analytics)
    budget_shards = NumberAttribute(null=True)  # the budget's shards it was taken from (None: the budget item)
    sent_at = UnicodeAttribute(null=True)  # when a transfer was first sent to the provider: no longer cancellable
    notified = BooleanAttribute(default=False)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(redemption_id: str) -> tuple[str, str]:
        return f"RDM#{redemption_id}", "REDEMPTION"


class CashWalletItem(Item, discriminator="cash_wallet"):
    """A member's money (minor units of one currency), credited by cashback and reserved by payouts
    (rewards/cash.py); the version makes concurrent writers retry, so the balance never goes negative."""

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
