"""Counters many writers race on (a reward's stock, a slot's seats, a budget), spread over shards so no
single item is hot, and still never past their limit (docs/counters.md).

A split counter is N shard items beside its head item (which says N), each holding a slice (`left`). An
operation takes from the shard its idempotency key hashes to, with a condition (`left >= amount`) inside its
own transaction: no read first, and concurrent operations land on different items. When that shard is
short, `make_room` reads every shard in one serializable read (TransactGetItems, the head with them): fewer
than `amount` in all is the exact "sold out" a single counter would have said at that instant; otherwise it
moves what the shard lacks from the others (each donor's move conditional on what it holds) and the
operation tries again. Moves keep the sum, so the shards never hold more in all than the counter does.

A small counter stays one item: splitting pays only where many operations' worth is left.
"""
import hashlib
from dataclasses import dataclass

from botocore.exceptions import ClientError

from chalicelib.core import aws, db
from chalicelib.core.transact import ConditionFailed, Retry, Tx, back_off, tally

MIN_SLICE = 8  # a shard starts with at least this many takes' worth
MAX_SHARDS = 16  # TransactGetItems reads a counter's head and shards at once (its limit is 100 items)
REFILL_ATTEMPTS = 4  # reads and moves of one refill before the operation itself is tried again
LABEL = "counter:"  # a shard's label in a transaction starts with it (`is_counter`)


# the arithmetic


def count_for(left: int | None, per_take: int = 1) -> int:
    """How many shards a counter with `left` to give (None: unlimited) is cut into; 1 keeps it one item."""
    if left is None:
        return MAX_SHARDS
    return max(1, min(MAX_SHARDS, left // (max(1, per_take) * MIN_SLICE)))


def slices(total: int, count: int) -> list[int]:
    """`total` cut into `count` slices as even as they go (a deficit stays whole in the first)."""
    if total <= 0:
        return [total] + [0] * (count - 1)
    base, extra = divmod(total, count)
    return [base + (1 if index < extra else 0) for index in range(count)]


def index_for(key: str, count: int) -> int:
    """The shard an operation takes from: the same on every retry of it, spread across operations."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % count


def refill_moves(lefts: list[int], index: int, amount: int) -> dict[int, int] | None:
    """Signed moves between shards after which shard `index` holds `amount` (and an even share of the rest),
    richest donors first, none below zero; {} when it holds that already; None when all the shards together
    hold less than `amount`: sold out."""
    total = sum(lefts)
    if total < amount:
        return None
    need = amount + (total - amount) // len(lefts) - lefts[index]
    moves: dict[int, int] = {}
    for donor in sorted((j for j, left in enumerate(lefts) if j != index and left > 0), key=lambda j: -lefts[j]):
        if need <= 0:
            break
        given = min(lefts[donor], need)
        moves[donor], need = -given, need - given
    if moves:
        moves[index] = -sum(moves.values())
    return moves


# the items


@dataclass(frozen=True)
class Counter:
    """A split counter: its head's key, how many shards the head says it has, and the head's attribute that
    says so (a snapshot checks it, so a counter split again meanwhile is read whole)."""

    pk: str
    head_sk: str
    count: int
    count_attribute: str
    name: str  # what it counts, in its shards' transaction labels: "stock", "budget", "slot", ...

    @property
    def label(self) -> str:
        return f"{LABEL}{self.name}"

    def key(self, index: int) -> tuple[str, str]:
        return db.ShardItem.key(self.pk, self.head_sk, index)

    def shard(self, index: int) -> db.ShardItem:
        return db.ShardItem(*self.key(index))


def is_counter(label: str) -> bool:
    return label.startswith(LABEL)


@dataclass(frozen=True)
class Snapshot:
    """Every shard of a counter as one serializable read saw them."""

    lefts: list[int]
    taken: int
    limit: int | None

    @property
    def left(self) -> int:
        return sum(self.lefts)


def take(tx: Tx, counter: Counter, key: str, amount: int, *, limited: bool = True, limit: int | None = None) -> None:
    """Take `amount` from `key`'s shard within `tx`, on condition it holds that much (and was cut from `limit`,
    where given); a failure names `counter.label`. Unlimited, it only counts."""
    shard, item = db.ShardItem, counter.shard(index_for(key, counter.count))
    if not limited:
        tx.update(counter.label, item, [shard.taken.add(amount)], condition=shard.pk.exists())
        return
    condition = shard.left >= amount
    if limit is not None:
        condition &= shard.limit == limit
    tx.update(counter.label, item, [shard.left.add(-amount), shard.taken.add(amount)], condition=condition)


def give(tx: Tx, counter: Counter, key: str, amount: int) -> None:
    """Give back `amount` taken before (a refund, a cancellation) into `key`'s shard, within `tx`."""
    shard = db.ShardItem
    tx.update(counter.label, counter.shard(index_for(key, counter.count)),
              [shard.left.add(amount), shard.taken.add(-amount)], condition=shard.pk.exists())


def add(tx: Tx, counter: Counter, amount: int, start: int = 0) -> None:
    """Add `amount` new units (a restock), spread over the shards from `start`, within `tx`."""
    shard = db.ShardItem
    for offset, part in enumerate(slices(amount, counter.count)):
        if part:
            tx.update(counter.label, counter.shard((start + offset) % counter.count), [shard.left.add(part)],
                      condition=shard.pk.exists())


def put_all(tx: Tx, counter: Counter, left: int | None, taken: int = 0, limit: int | None = None,
            fresh: bool = True) -> None:
    """Put every shard of `counter` within `tx`, `left` and `taken` cut into slices (a split: `fresh`, on condition
    none exists yet; or a stock set whole, overwriting what they held)."""
    lefts = [None] * counter.count if left is None else slices(left, counter.count)
    for index, (part, part_taken) in enumerate(zip(lefts, slices(taken, counter.count))):
        item = db.ShardItem(*counter.key(index), left=part, taken=part_taken, limit=limit)
        tx.put(counter.label, item, condition=db.ShardItem.pk.does_not_exist() if fresh else None)


def split(counter: Counter, head, left: int, condition) -> None:
    """Cut `left` into `counter`'s shards and record their number on its head item `head`, on `condition` and
    on nobody having split it first (else the caller's retry reads what the other writer did)."""
    count = getattr(type(head), counter.count_attribute)
    tx = Tx()
    put_all(tx, counter, left)
    tx.update(counter.name, head, [count.set(counter.count)], condition=condition & count.does_not_exist())
    try:
        tx.commit()
    except ConditionFailed:
        pass


def snapshot(counter: Counter) -> Snapshot:
    """Read the head and every shard at one instant; a Retry if another transaction held them or the head no
    longer says `counter.count` shards (split again: the caller reads it anew)."""
    keys = [(counter.pk, counter.head_sk)] + [counter.key(index) for index in range(counter.count)]
    try:
        answer = aws.client("dynamodb").transact_get_items(TransactItems=[
            {"Get": {"TableName": db.Item.Meta.table_name, "Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}
            for pk, sk in keys])
    except ClientError as error:
        if error.response["Error"]["Code"] in ("TransactionCanceledException", "TransactionConflictException",
                                               "ThrottlingException", "ProvisionedThroughputExceededException"):
            raise Retry() from error
        raise
    head, *shards = [response.get("Item") for response in answer["Responses"]]
    if head is None or int(head.get(counter.count_attribute, {}).get("N", 0)) != counter.count or None in shards:
        raise Retry()
    lefts = [int(shard["left"]["N"]) if "left" in shard else 0 for shard in shards]
    taken = sum(int(shard["taken"]["N"]) for shard in shards)
    limit = int(shards[0]["limit"]["N"]) if "limit" in shards[0] else None
    return Snapshot(lefts, taken, limit)


def make_room(counter: Counter, key: str, amount: int, limit: int | None = None) -> Snapshot:
    """After a take from `key`'s shard failed: read the counter at one instant, bring its slices to `limit` if that
    changed, and move into that shard what it lacks. The snapshot says what was left: under `amount`, the counter
    is exhausted (exactly); otherwise the take is worth another try. A read or a move that met another refill (the
    shards moved, or a transaction held one) reads the counter again here, a few times, before the whole
    operation is tried again."""
    for number in range(REFILL_ATTEMPTS - 1):
        try:
            return _make_room(counter, key, amount, limit)
        except Retry:
            tally.count(retried=1)
            back_off(number)
    return _make_room(counter, key, amount, limit)


def _make_room(counter: Counter, key: str, amount: int, limit: int | None) -> Snapshot:
    seen = snapshot(counter)
    if limit is not None and seen.limit != limit:
        _relimit(counter, seen, limit)
        return snapshot(counter)
    moves = refill_moves(seen.lefts, index_for(key, counter.count), amount)
    if moves:
        tx = Tx()
        for index, units in moves.items():
            condition = db.ShardItem.left >= -units if units < 0 else db.ShardItem.pk.exists()
            tx.update(counter.label, counter.shard(index), [db.ShardItem.left.add(units)], condition=condition)
        _commit(tx)
    return seen


def _relimit(counter: Counter, seen: Snapshot, limit: int) -> None:
    """Cut the slices from a new limit: the difference goes to (or comes from) the first shard, and every shard
    says the new limit, on condition that each still says the old one."""
    tx = Tx()
    for index in range(counter.count):
        actions = [db.ShardItem.limit.set(limit)] + ([db.ShardItem.left.add(limit - seen.limit)] if index == 0 else [])
        tx.update(counter.label, counter.shard(index), actions, condition=db.ShardItem.limit == seen.limit)
    _commit(tx)


def _commit(tx: Tx) -> None:
    try:
        tx.commit()
    except ConditionFailed as failed:  # another writer moved the shards first: the caller reads them again
        raise Retry() from failed


def totals(counters: list[Counter]) -> dict[tuple[str, str], Snapshot]:
    """What each counter holds, keyed by its head's key, in as few BatchGetItems as its shards need (a view:
    each shard as read, not one instant)."""
    keys = [counter.key(index) for counter in counters for index in range(counter.count)]
    found: dict = {}
    for start in range(0, len(keys), 100):
        found.update(db.get_many(*keys[start:start + 100]))
    answer = {}
    for counter in counters:
        shards = [found.get(counter.key(index)) for index in range(counter.count)]
        answer[counter.pk, counter.head_sk] = _summed([shard for shard in shards if shard is not None])
    return answer


def range_totals(pk: str, first_head_sk: str, last_head_sk: str) -> dict[str, Snapshot]:
    """What the counters of heads in a partition whose sort keys run from `first_head_sk` to `last_head_sk` hold,
    keyed by head sort key, in one Query (a page of a catalog)."""
    grouped: dict[str, list[db.ShardItem]] = {}
    shard = db.ShardItem
    for item in shard.query(pk, shard.sk.between(f"SHARD#{first_head_sk}#", f"SHARD#{last_head_sk}#~")):
        grouped.setdefault(item.sk.removeprefix("SHARD#").rpartition("#")[0], []).append(item)
    return {head_sk: _summed(items) for head_sk, items in grouped.items()}


def _summed(shards: list[db.ShardItem]) -> Snapshot:
    return Snapshot([int(shard.left or 0) for shard in shards], sum(int(shard.taken or 0) for shard in shards),
                    int(shards[0].limit) if shards and shards[0].limit is not None else None)
