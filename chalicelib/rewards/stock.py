"""A reward's stock: the `stock` number on the reward item while it is small, shards once it holds many
redemptions' worth (core/shards.py), so a popular reward's redemptions do not all write one item.

A reward whose stock is split says so in `stock_shards`; its `stock` attribute then only says the stock is
limited (it is no longer written), and what is left is the sum of its shards. The first redemption that finds
a large stock on the reward item (created so, or before shards existed) splits it; a stock set by an admin is
cut into shards at once. Every way a stock comes back (a refund, a cancellation, codes added) goes where the
stock is: into a shard, or onto the reward item, on condition that it is still unsplit.
"""
from chalicelib.core import db, shards
from chalicelib.core.errors import Conflict
from chalicelib.core.transact import Retry, Tx

NAME = "stock"  # in a transaction's failures: shards.LABEL + NAME


def counter(reward: db.RewardItem) -> shards.Counter | None:
    """The reward's stock shards; None while its stock is one number on the item (or unlimited)."""
    if not reward.stock_shards:
        return None
    return shards.Counter(reward.pk, reward.sk, int(reward.stock_shards), "stock_shards", NAME)


def out_of_stock(reward_id: str, left: int) -> Conflict:
    return Conflict("This reward is out of stock.", {"reward_id": reward_id, "stock": left}, code="out_of_stock")


def take(tx: Tx, reward: db.RewardItem, quantity: int, key: str) -> None:
    """Reserve `quantity` within `tx` (nothing for unlimited stock); 409 out_of_stock when an unsplit stock is
    short. A split stock is taken from `key`'s shard: when that fails, `after_failure` decides."""
    if reward.stock is None:
        return
    split = counter(reward)
    if split is not None:
        shards.take(tx, split, key, quantity)
        return
    if reward.stock < quantity:
        raise out_of_stock(reward.reward_id, int(reward.stock))
    if shards.count_for(int(reward.stock), quantity) > 1:
        _split(reward, quantity)
        raise Retry()  # read it again, split
    tx.update(shards.LABEL + NAME, db.RewardItem(reward.pk, reward.sk), [db.RewardItem.stock.add(-quantity)],
              condition=(db.RewardItem.stock >= quantity) & (db.RewardItem.active == True)  # noqa: E712
              & db.RewardItem.stock_shards.does_not_exist())


def after_failure(reward: db.RewardItem, quantity: int, key: str) -> Exception:
    """What a failed take of `reward`'s stock means: 409 out_of_stock when the whole stock, read at one instant,
    is short of `quantity`; otherwise another try (the shard refilled, or the reward read anew)."""
    split = counter(reward)
    if split is None:
        return Retry()  # the unsplit stock moved on (or was split meanwhile): decide again on fresh data
    seen = shards.make_room(split, key, quantity)
    return out_of_stock(reward.reward_id, seen.left) if seen.left < quantity else Retry()


def _split(reward: db.RewardItem, quantity: int) -> None:
    """Cut the reward item's stock into shards, on condition nobody changed it meanwhile (then the caller's retry
    reads what they did)."""
    split = shards.Counter(reward.pk, reward.sk, shards.count_for(int(reward.stock), quantity), "stock_shards", NAME)
    shards.split(split, db.RewardItem(reward.pk, reward.sk), int(reward.stock), db.RewardItem.stock == reward.stock)


def give_back(tx: Tx, reward: db.RewardItem, quantity: int, key: str) -> None:
    """Return `quantity` to the stock within `tx` (a redemption given back: `key` is its id)."""
    if reward.stock is None:
        return
    split = counter(reward)
    if split is not None:
        shards.give(tx, split, key, quantity)
        return
    tx.update(shards.LABEL + NAME, db.RewardItem(reward.pk, reward.sk), [db.RewardItem.stock.add(quantity)],
              condition=db.RewardItem.stock_shards.does_not_exist())  # split meanwhile: a retry gives to a shard


def add(tx: Tx, reward: db.RewardItem, quantity: int, start: int) -> list:
    """Add `quantity` new units within `tx` (gift-card codes uploaded): spread over the shards from `start` when
    the stock is split; the reward item's actions otherwise."""
    split = counter(reward)
    if split is None:
        return [db.RewardItem.stock.add(quantity)]
    shards.add(tx, split, quantity, start)
    return []


def set_whole(tx: Tx, reward: db.RewardItem, stock: int | None) -> tuple[list, object]:
    """Set the stock to `stock` within `tx` (an admin's restock: what is left becomes exactly that, whatever
    redemptions took before it): cut into shards when it is large or already split (never into fewer), onto the
    item otherwise. The reward item's actions, and their condition: split or not as read."""
    had = int(reward.stock_shards or 0)
    as_read = db.RewardItem.stock_shards == had if had else db.RewardItem.stock_shards.does_not_exist()
    if stock is None:
        return [db.RewardItem.stock.remove(), db.RewardItem.stock_shards.remove()], as_read
    count = max(had, shards.count_for(stock))
    if count <= 1:
        return [db.RewardItem.stock.set(stock)], as_read
    shards.put_all(tx, shards.Counter(reward.pk, reward.sk, count, "stock_shards", NAME), stock, fresh=False)
    return [db.RewardItem.stock.set(stock), db.RewardItem.stock_shards.set(count)], as_read


def refresh(rewards: list[db.RewardItem]) -> None:
    """Put each split reward's live stock (the sum of its shards) in its `stock`, as read, for a view: one Query
    for them all (they are in one partition, keyed in reward order); nothing when none is split."""
    split = [reward for reward in rewards if reward.stock_shards]
    if not split:
        return
    sks = sorted(reward.sk for reward in split)
    found = shards.range_totals(split[0].pk, sks[0], sks[-1])
    for reward in split:
        reward.stock = found[reward.sk].left if reward.sk in found else 0
