"""Gift cards: codes uploaded to the reward's pool (its stock is their number), taken from it by fulfilment,
and kept sealed: the redemption holds their ciphertexts, opened only when shown or sent.

What opens a redemption's codes (its reward_delivered message, the redemption's answer) imports this module
alone, not the catalog and everything a redeem needs.
"""
import secrets

from chalicelib.core import aws, db, vault
from chalicelib.core.errors import Contention
from chalicelib.core.transact import Tx, with_retries
from chalicelib.rewards import lifecycle
from chalicelib.rewards.kinds.base import Kind

KIND = "gift_card"


class CodesMissing(Contention):
    """Fewer free codes than reserved: the index may lag; if it lasts, the redemption is refunded (not restocked:
    the codes behind that stock are what went missing)."""


class GiftCard(Kind):
    name = KIND
    stock_is_codes = True

    def fulfil(self, redemption: db.RedemptionItem) -> None:
        with_retries(lambda: assign_codes(redemption))


def pool_key(reward_id: str) -> str:
    """The gsi2 partition of a reward's free codes."""
    return f"CODEPOOL#{reward_id}"


def assign_codes(redemption: db.RedemptionItem) -> bool:
    """Take `quantity` free codes and fulfil with them, atomically; a code taken meanwhile means retry."""
    needed = int(redemption.quantity)
    free = free_codes(redemption.reward_id, needed, secrets.token_hex(32))
    if len(free) < needed:
        raise CodesMissing(f"Only {len(free)} free codes for {needed} reserved.")
    codes = db.get_many(*free)
    tx = Tx()
    for (_, sk), code in codes.items():
        tx.update(f"code:{sk}", code, [db.CodeItem.redemption_id.set(redemption.redemption_id),
                                       db.CodeItem.gsi2pk.remove(), db.CodeItem.gsi2sk.remove()],
                  condition=db.CodeItem.gsi2pk.exists())
    return lifecycle.mark_fulfilled(redemption, sealed_fulfillment(list(codes.values())), tx)


def free_codes(reward_id: str, needed: int, start: str) -> list[tuple[str, str]]:
    """Up to `needed` free codes of the pool, the first from `start` on (wrapping round to the pool's beginning).

    A code's place in the pool is its hash, so a random `start` spreads concurrent fulfilments over the pool
    instead of all claiming its first codes (and all but one retrying): no code is a hot item."""
    client, partition = aws.client("dynamodb"), pool_key(reward_id)
    found: list[tuple[str, str]] = []
    for condition, values in (("gsi2sk >= :s", {":s": {"S": start}}), ("gsi2sk < :s", {":s": {"S": start}})):
        query = {"TableName": db.Item.Meta.table_name, "IndexName": "gsi2",
                 "KeyConditionExpression": f"gsi2pk = :p AND {condition}",
                 "ExpressionAttributeValues": {":p": {"S": partition}, **values}}
        while len(found) < needed:
            page = client.query(**query, Limit=needed - len(found))
            found += [(item["pk"]["S"], item["sk"]["S"]) for item in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if len(found) == needed:
            break
    return found


def scope_of(reward: db.RewardItem | db.RedemptionItem) -> vault.Scope:
    """The scope a reward's codes are sealed in (a redemption names its reward's)."""
    return vault.Scope(reward.org_id, reward.program_id, reward.reward_id)


def sealed_fulfillment(codes: list[db.CodeItem]) -> dict:
    """A gift card's fulfillment as stored: the codes as sealed (with their hashes), never in clear."""
    return {"type": KIND, "sealed": [[code.sk, code.sealed] for code in codes]}


def codes_of(redemption: db.RedemptionItem) -> list[str]:
    """The gift-card codes a redemption was fulfilled with, opened: for its admins and its member only."""
    sealed = (redemption.fulfillment or {}).get("sealed") or []
    scope = scope_of(redemption)
    return [vault.open_code(value, scope, hashed) for hashed, value in sealed]
