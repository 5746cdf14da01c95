"""Cashback: money, not points, credited to the member's cash wallet (cash.py) when fulfilled: the reward's value
times the quantity, in the same transaction as the status move, so once."""
from chalicelib.core import clock, db
from chalicelib.core.transact import Tx, with_retries
from chalicelib.rewards import cash, lifecycle
from chalicelib.rewards.kinds.base import Kind

KIND = "cashback"


class Cashback(Kind):
    name = KIND

    def fulfil(self, redemption: db.RedemptionItem) -> None:
        with_retries(lambda: credit(redemption))


def credit(redemption: db.RedemptionItem) -> bool:
    """Fulfil a pending cashback redemption by crediting the wallet; False if it had moved on.

    A cashback reward without a value credits nothing and is only marked fulfilled, as before wallets."""
    redemption.refresh(consistent_read=True)  # a retry after a lost race must see where it stands now
    if redemption.status != "pending":
        return False
    reward = db.get(db.RewardItem, db.RewardItem.key(redemption.program_id, redemption.reward_id))
    value = reward.value if reward is not None else None
    if not value:
        return lifecycle.mark_fulfilled(redemption, {"type": KIND})
    amount, currency = int(value["amount"]) * int(redemption.quantity), value["currency"]
    tx = Tx()
    cash.move(tx, redemption.org_id, redemption.program_id, redemption.external_id, currency, amount,
              scope="cashback", key=redemption.redemption_id, kind="credit", now_iso=clock.iso(clock.now()),
              redemption_id=redemption.redemption_id)
    return lifecycle.mark_fulfilled(redemption, {"type": KIND, "amount": amount, "currency": currency}, tx)
