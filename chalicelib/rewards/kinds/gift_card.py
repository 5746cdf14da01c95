"""A gift card's codes as its redemption holds them: sealed when fulfilled, opened only when shown.

Apart from the catalog so what opens a redemption's codes (its reward_delivered message, the
redemption's answer) does not import the catalog and everything a redeem needs.
"""
from chalicelib.core import db, vault


def scope_of(reward: db.RewardItem | db.RedemptionItem) -> vault.Scope:
    """The scope a reward's codes are sealed in (a redemption names its reward's)."""
    return vault.Scope(reward.org_id, reward.program_id, reward.reward_id)


def sealed_fulfillment(codes: list[db.CodeItem]) -> dict:
    """A gift card's fulfillment as stored: the codes as sealed (with their hashes), never in clear."""
    return {"type": "gift_card", "sealed": [[code.sk, code.sealed] for code in codes]}


def codes_of(redemption: db.RedemptionItem) -> list[str]:
    """The gift-card codes a redemption was fulfilled with, opened: for its admins and its member only."""
    sealed = (redemption.fulfillment or {}).get("sealed") or []
    scope = scope_of(redemption)
    return [vault.open_code(value, scope, hashed) for hashed, value in sealed]
