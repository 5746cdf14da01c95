"""What every reward kind answers, so the catalog, redemptions, fulfilment and the review decisions ask the kind
(kinds.registry) instead of switching on its name: check and reserve when redeemed, fulfil and word the message
that tells it, give back when cancelled or returned. The defaults are a plain reward's: nothing to check or hold,
fulfilled at once."""
from chalicelib.core import db
from chalicelib.core.transact import Tx
from chalicelib.rewards import lifecycle


class Kind:
    name: str  # the reward type it serves: its module's KIND
    stock_is_codes = False  # its stock is the number of its codes (added, never set)

    def check_fields(self, reward_type: str, fields: dict) -> None:
        """Asked of a new reward's fields, or an update's, whatever its type: refuse this kind's own fields on a
        reward of another type (400), check them on its own."""

    def create_items(self, tx: Tx, reward: db.RewardItem) -> None:
        """Put, with a new reward of this kind, the items it keeps beside it."""

    def check(self, reward: db.RewardItem, request: dict) -> dict | None:
        """Asked of every reward redeemed, whatever its type: refuse this kind's own request fields on a reward of
        another type (400), check them on its own; the terms its redemption carries (None: none)."""
        return None

    def reserve(self, tx: Tx, reward: db.RewardItem, request: dict, quantity: int, terms: dict | None,
                key: str) -> dict | None:
        """Hold what the redemption takes beyond points, stock and budget, within its transaction (409 when it
        cannot); the terms it carries then. `key`: the redemption's idempotency key (which shard it takes from)."""
        return terms

    def check_approval(self, redemption: db.RedemptionItem) -> None:
        """409 when a redemption held for approval can no longer be approved."""

    def fulfil(self, redemption: db.RedemptionItem) -> None:
        """Move a pending redemption on as far as it goes now."""
        lifecycle.mark_fulfilled(redemption, {"type": self.name})

    def delivered(self, redemption: db.RedemptionItem) -> tuple[str, dict]:
        """The message that tells the member a fulfilled redemption: its kind (chalicelib.notices.message_kinds)
        and what its payload adds to the redemption's ids."""
        return "reward_delivered", {}

    def release(self, tx: Tx, redemption: db.RedemptionItem) -> None:
        """Give back, within the transaction that moves the redemption's status back, what `reserve` held."""
