"""Every reward kind, found by its name (a reward's `reward_type`): the one place a new kind is added besides its
own module. Its order is the order each kind is asked to check a reward or a redemption, so a request wrong in
two ways is refused for the same one first."""
from chalicelib.core import db
from chalicelib.core.transact import Tx
from chalicelib.rewards.kinds.base import Kind
from chalicelib.rewards.kinds.cashback import Cashback
from chalicelib.rewards.kinds.donation import Donation
from chalicelib.rewards.kinds.experience import Experience
from chalicelib.rewards.kinds.gift_card import GiftCard
from chalicelib.rewards.kinds.merchandise import Merchandise
from chalicelib.rewards.kinds.points_transfer import PointsTransfer

KINDS: tuple[Kind, ...] = (PointsTransfer(), Experience(), Donation(), Merchandise(), GiftCard(), Cashback())
BY_NAME = {kind.name: kind for kind in KINDS}


def of(reward_type: str) -> Kind:
    return BY_NAME[reward_type]


def check_fields(reward_type: str, fields: dict) -> None:
    """A new reward's fields or an update's, asked of every kind (each refuses its own on another type)."""
    for kind in KINDS:
        kind.check_fields(reward_type, fields)


def check(reward: db.RewardItem, request: dict) -> dict | None:
    """A redemption's request, asked of every kind (each refuses its own fields on another type); the terms the
    redemption carries (its reward's kind's)."""
    terms = [kind.check(reward, request) for kind in KINDS]
    return next((each for each in terms if each), None)


def delivered(redemption: db.RedemptionItem) -> tuple[str, dict]:
    """The message that tells the member its redemption was fulfilled, as its kind words it (lifecycle.tell's
    `delivered`)."""
    return of(redemption.reward_type).delivered(redemption)


def release(tx: Tx, redemption: db.RedemptionItem) -> None:
    """What the redemption's kind held, given back within `tx` (lifecycle.give_back's `release`)."""
    of(redemption.reward_type).release(tx, redemption)
