"""A slice of a counter that many writers race on (core/shards.py): one item of N, so concurrent takes
land on different items and none of them is hot."""
from pynamodb.attributes import NumberAttribute

from chalicelib.core.db.table import Item


class ShardItem(Item, discriminator="shard"):
    """One slice of a counter: what it still holds (`left`) and what was taken from it (`taken`).

    The counter's head item (a reward, a slot, a budget) says how many shards it has; the shards live in
    the head's partition, keyed after it, so a counter is read with one request."""

    left = NumberAttribute(null=True)  # None: an unlimited counter, which only counts what it gave
    taken = NumberAttribute(default=0)
    limit = NumberAttribute(null=True)  # the limit its slices were cut from, where that limit can change

    @staticmethod
    def key(pk: str, head_sk: str, index: int) -> tuple[str, str]:
        return pk, f"SHARD#{head_sk}#{index:02d}"


class CampaignBudgetItem(Item, discriminator="budget"):
    """A campaign's points budget and what it has given: raised in each award's transaction, never past it.
    Once split (`shards` set, campaigns.py), what it gave is counted in its shards instead."""

    budget = NumberAttribute(null=True)  # None: unlimited
    spent = NumberAttribute(default=0)
    shards = NumberAttribute(null=True)  # None: the item alone counts (as campaigns created before shards do)

    @staticmethod
    def key(campaign_id: str) -> tuple[str, str]:
        return f"CMP#{campaign_id}", "BUDGET"
