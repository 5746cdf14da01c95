"""The shapes of members' cash wallets and their payouts (a bank transfer or PayPal)."""
import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, field_validator

from chalicelib.core.wire import MAX_POINTS, Answer, Email, Request, Timestamp

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]


def iban_checksum_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, and mod 97 must be 1."""
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", iban):
        return False
    digits = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


class BankTransfer(Request):
    type: Literal["bank_transfer"]
    iban: Annotated[str, Field(min_length=15, max_length=34, examples=["DE89370400440532013000"])]
    account_name: Annotated[str, Field(min_length=1, max_length=140)]

    @field_validator("iban")
    @classmethod
    def _valid_iban(cls, value: str) -> str:
        value = value.replace(" ", "").upper()
        if not iban_checksum_ok(value):
            raise ValueError("not a valid IBAN (country, check digits and mod-97 checksum)")  # never the value
        return value


class PayPal(Request):
    type: Literal["paypal"]
    email: Email


PayoutMethod = Annotated[Union[BankTransfer, PayPal], Field(discriminator="type")]


class PayoutCreate(Request):
    amount: Annotated[int, Field(ge=1, le=MAX_POINTS * 100, description="Minor units (cents)")]
    currency: Currency
    method: PayoutMethod


class PayoutReject(Request):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class PayoutCancel(Request):
    reason: Optional[Annotated[str, Field(min_length=1, max_length=500)]] = None


class PayoutPaid(Request):
    external_reference: Optional[Annotated[str, Field(min_length=1, max_length=200)]] = None


class Payout(Answer):
    id: str
    member: str
    amount: int
    currency: str
    status: Literal["requested", "approved", "paid", "rejected", "cancelled"]
    method: dict[str, Any] = Field(description="In full to admins and the member's own session; masked to analysts")
    reason: Optional[str] = Field(None, description="Why it was rejected or cancelled")
    external_reference: Optional[str] = None
    created_at: Timestamp
    updated_at: Timestamp


class PayoutList(Answer):
    items: list[Payout]
    next_cursor: Optional[str]


class CashBalance(Answer):
    currency: str
    balance: int


class CashTransaction(Answer):
    id: str
    kind: Literal["credit", "payout_reserved", "payout_paid", "payout_returned"]
    amount: int
    currency: str
    balance_after: int
    redemption_id: Optional[str] = None
    payout_id: Optional[str] = None
    created_at: Timestamp


class CashWallet(Answer):
    balances: list[CashBalance]
    transactions: list[CashTransaction]
    next_cursor: Optional[str]
