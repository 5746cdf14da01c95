"""A member's catalog in the order the member is likely to want it: what similar members redeemed, weighed by
how nearly the member can afford it. Pure: the caller reads the counts.

Similar members are those who redeemed the same rewards (item-to-item collaborative filtering, as stores
recommend "bought together"): a reward scores the cosine of its redeemers with those of each reward the
member redeemed before, plus a small share of its popularity, so a member with no history sees what
most members redeem. A reward the member cannot afford yet counts less the further away it is, and one
within reach of the member's balance counts in full.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

POPULARITY_WEIGHT = 0.1  # how much what everyone redeems adds to what similar members redeemed
UNSEEN = 1e-6  # a reward nobody redeemed yet still ranks by reach, below every redeemed one


@dataclass
class Affinity:
    """A program's redemption counts: members who redeemed each reward, and each pair of rewards."""

    redeemers: dict[str, int] = field(default_factory=dict)
    together: dict[str, dict[str, int]] = field(default_factory=dict)  # reward -> {other reward: members of both}

    def add_member(self, rewards: Iterable[str]) -> None:
        """Count one member's distinct redeemed rewards (what the stream does one redemption at a time)."""
        distinct = sorted(set(rewards))
        for reward in distinct:
            self.redeemers[reward] = self.redeemers.get(reward, 0) + 1
            for other in distinct:
                if other != reward:
                    row = self.together.setdefault(reward, {})
                    row[other] = row.get(other, 0) + 1

    def similarity(self, first: str, second: str) -> float:
        both = self.together.get(first, {}).get(second, 0)
        return both / math.sqrt(self.redeemers[first] * self.redeemers[second]) if both else 0.0


def reach(cost: int, balance: int) -> float:
    """1 within the balance; beyond it, the share of the cost the balance covers, squared."""
    if cost <= balance or cost <= 0:
        return 1.0
    return (max(balance, 0) / cost) ** 2


def interest(reward: str, history: set[str], affinity: Affinity) -> float:
    most = max(affinity.redeemers.values(), default=0)
    if not affinity.redeemers.get(reward):
        return UNSEEN
    similar = sum(affinity.similarity(past, reward) for past in history if past != reward and past in affinity.redeemers)
    return similar + POPULARITY_WEIGHT * affinity.redeemers[reward] / most


def ranked(candidates: dict[str, int], history: set[str], balance: int, affinity: Affinity) -> list[str]:
    """The candidate rewards (id -> cost) best first; ties by lower cost, then id, so the order is stable."""
    return sorted(candidates, key=lambda reward: (-interest(reward, history, affinity) * reach(candidates[reward], balance),
                                                  candidates[reward], reward))
