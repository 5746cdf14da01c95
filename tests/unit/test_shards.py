"""The slicing and refill arithmetic of split counters (core/shards.py), driven by random operations against
one plain number: never below zero, never more than the limit in all, sold out only when it is."""
import random

import pytest

from chalicelib.core import shards


@pytest.mark.parametrize("total,count", [(0, 4), (7, 4), (16, 16), (100, 7), (-5, 3)])
def test_slices_add_up_to_the_whole(total, count):
    parts = shards.slices(total, count)
    assert len(parts) == count and sum(parts) == total
    assert max(parts) - min(parts) <= 1 or total <= 0


def test_a_small_counter_stays_one_item_and_a_large_one_is_cut_up_to_the_most():
    assert shards.count_for(10) == 1 and shards.count_for(15) == 1
    assert shards.count_for(16) == 2 and shards.count_for(10**6) == shards.MAX_SHARDS
    assert shards.count_for(400, per_take=25) == 2 and shards.count_for(None) == shards.MAX_SHARDS


def test_an_operation_keeps_its_shard_across_retries_and_operations_spread():
    assert shards.index_for("evt-1", 16) == shards.index_for("evt-1", 16)
    assert len({shards.index_for(f"evt-{n}", 16) for n in range(200)}) == 16


@pytest.mark.parametrize("seed", range(40))
def test_random_takes_gives_and_refills_match_one_counter(seed):
    rng = random.Random(seed)
    limit = rng.randint(0, 400)
    count = rng.randint(1, 16)
    lefts, single = shards.slices(limit, count), limit  # the shards, and the one number they stand for
    for _ in range(300):
        amount, index = rng.randint(1, 12), rng.randrange(count)
        if rng.random() < 0.2 and single < limit:  # a give back of something taken
            back = min(amount, limit - single)
            lefts[index] += back
            single += back
        elif lefts[index] >= amount:  # the take's condition holds on its shard
            lefts[index] -= amount
            single -= amount
        else:  # the take failed: the whole counter decides
            moves = shards.refill_moves(lefts, index, amount)
            if moves is None:
                assert single < amount  # "sold out" exactly when the one counter would say it
                continue
            assert sum(moves.values()) == 0 and all(lefts[j] + units >= 0 for j, units in moves.items())
            for j, units in moves.items():
                lefts[j] += units
            assert lefts[index] >= amount  # the retry's take now holds
            lefts[index] -= amount
            single -= amount
        assert min(lefts) >= 0 and sum(lefts) == single and 0 <= single <= limit


def test_a_refill_needs_nothing_when_the_shard_holds_enough():
    assert shards.refill_moves([5, 0, 0], 0, 3) == {}
    assert shards.refill_moves([0, 1, 1], 0, 3) is None
    assert shards.refill_moves([-4, 10, 0], 0, 2) == {1: -7, 0: 7}  # a lowered limit's deficit is made up first
