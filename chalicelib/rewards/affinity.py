"""The counts behind the recommended catalog order (rewards/recommend.py), kept from the change stream.

A redemption of a reward new to its member adds, in one transaction: the reward to the member's distinct
redeemed rewards (on the condition that the set is as it was read, so a redelivered record or a racing
redemption of the same member adds nothing twice), one to the reward's redeemers, and one to the pair
count of the reward with each reward the member redeemed before, in both rewards' items. A program's
counts are one Query: an item per reward, whatever the members.
"""
from pynamodb.attributes import NumberAttribute

from chalicelib.core import aws, db
from chalicelib.core.transact import ConditionFailed, Retry, Tx, with_retries
from chalicelib.rewards.recommend import Affinity

PAIR_PREFIX = "w_"
MAX_PAIRED = 40  # the most recent distinct rewards a new one is paired with (a transaction holds 100 items)


def _pair(reward_id: str) -> NumberAttribute:
    return NumberAttribute(attr_name=f"{PAIR_PREFIX}{reward_id}")


def count(program_id: str, external_id: str, reward_id: str) -> bool:
    """Count the member's redemption of the reward; False if the member had redeemed it before."""
    try:
        return with_retries(lambda: _count_once(program_id, external_id, reward_id))
    except ConditionFailed:
        return False


def _count_once(program_id: str, external_id: str, reward_id: str) -> bool:
    key = db.RedeemedItem.key(program_id, external_id)
    current = db.get(db.RedeemedItem, key)
    before = set(current.rewards or ()) if current else set()
    if reward_id in before:
        return False
    paired = sorted(before)[-MAX_PAIRED:]
    tx = Tx()
    unchanged = db.RedeemedItem.size.does_not_exist() if not before else db.RedeemedItem.size == len(before)
    tx.update("redeemed", db.RedeemedItem(*key), actions=[db.RedeemedItem.item_type.set(db.RedeemedItem),
                                                          db.RedeemedItem.rewards.add({reward_id}),
                                                          db.RedeemedItem.size.add(1)], condition=unchanged)
    tx.update("affinity", db.AffinityItem(*db.AffinityItem.key(program_id, reward_id)),
              actions=[db.AffinityItem.item_type.set(db.AffinityItem), db.AffinityItem.redeemers.add(1),
                       *(_pair(other).add(1) for other in paired)])
    for other in paired:
        tx.update(f"pair:{other}", db.AffinityItem(*db.AffinityItem.key(program_id, other)),
                  actions=[_pair(reward_id).add(1)])
    try:
        tx.commit()
    except ConditionFailed as failed:
        if failed.label == "redeemed":
            raise Retry() from failed  # another redemption of the member's changed the set first: read it again
        raise
    return True


def read(program_id: str) -> Affinity:
    """The program's counts: one Query (paged by DynamoDB) over an item per redeemed reward."""
    affinity = Affinity()
    client, start = aws.client("dynamodb"), None
    while True:
        page = client.query(TableName=db.Item.Meta.table_name, KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": f"AFF#{program_id}"}},
                            **({"ExclusiveStartKey": start} if start else {}))
        for item in page.get("Items", []):
            reward = item["sk"]["S"]
            affinity.redeemers[reward] = int(item.get("n", {}).get("N", "0"))
            affinity.together[reward] = {name[len(PAIR_PREFIX):]: int(value["N"]) for name, value in item.items()
                                         if name.startswith(PAIR_PREFIX)}
        start = page.get("LastEvaluatedKey")
        if not start:
            return affinity


def history(program_id: str, external_id: str) -> set[str]:
    item = db.get(db.RedeemedItem, db.RedeemedItem.key(program_id, external_id), consistent=False)
    return set(item.rewards or ()) if item else set()
