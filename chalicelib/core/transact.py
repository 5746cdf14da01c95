"""DynamoDB transactions that say which item's condition failed, and the retry loop around them.

Contention is retried, never passed on while there is time: a transaction DynamoDB cancels because
another held one of its items (TransactionConflict) or because an item was written too fast
(throttling) is read, recomputed and committed again under `with_retries`; a single conditional write
that met a transaction in flight on its item (TransactionConflictException, which the SDK does not
retry) is sent again by `update_if`/`save_if`, as nothing was written. Both back off exponentially with
full jitter, capped, for a bounded number of attempts; only then does the caller get a 503 "busy". A
throttled single write is retried by the SDK itself (standard mode, with its own backoff), then a 503.
"""
import random
import threading
import time
from typing import Any, Callable

from pynamodb.exceptions import PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.core import db
from chalicelib.core.errors import Contention

ATTEMPTS = 20  # with capped, jittered backoff: ~5 s at most, well inside the API's 10 s timeout
BACKOFF_CAP_SECONDS = 0.5
BACKOFF_BASE_SECONDS = 0.01
WRITE_ATTEMPTS = 8  # a single write refused by a transaction in flight: at most ~1.6 s of backoff in all


class RetryTally:
    """How many attempts this process retried, and how many changes ran out of attempts (a 503 each):
    the figures behind a contention report."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.retried = 0
        self.exhausted = 0

    def count(self, retried: int = 0, exhausted: int = 0) -> None:
        with self._lock:
            self.retried += retried
            self.exhausted += exhausted

    def take(self) -> dict[str, int]:
        """The counts so far, and start again from zero."""
        with self._lock:
            counts = {"retried": self.retried, "exhausted": self.exhausted}
            self.retried = self.exhausted = 0
            return counts


tally = RetryTally()


class Retry(Contention):
    """Another writer changed an item first: read again and recompute (503 if it ever escapes)."""

    def __init__(self, message: str = "Too many concurrent changes; try again."):
        super().__init__(message)


class Replayed(Exception):
    """The idempotency key was used before; carries the entry the first call wrote."""

    def __init__(self, entry: db.EntryItem):
        super().__init__(entry.pk)
        self.entry = entry


class ConditionFailed(Exception):
    """A condition on one of the extra items failed (stock ran out, a status moved on)."""

    def __init__(self, label: str):
        super().__init__(label)
        self.label = label


class Tx:
    """A pynamodb TransactWrite whose failures say which item's condition failed."""

    def __init__(self):
        self._ops: dict[str, list] = {"check": [], "delete": [], "put": [], "update": []}
        self._after: list[Callable[[], None]] = []

    def after(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the transaction has committed (never if it fails): for prompt side
        effects whose own outbox entry is in the transaction, so a crash before it loses nothing."""
        self._after.append(callback)

    def put(self, label: str, model, condition=None, return_old: bool = False) -> None:
        """`label` names the item in failures: "member" (a version race: retry), "entry:<pk>" (the
        request's own idempotency key: a replay), anything else (a condition of the caller's)."""
        self._ops["put"].append((label, lambda tx: tx.save(model, condition=condition,
                                                           return_values="ALL_OLD" if return_old else None)))

    def update(self, label: str, model, actions: list, condition=None) -> None:
        self._ops["update"].append((label, lambda tx: tx.update(model, actions=actions, condition=condition)))

    def check(self, label: str, model, condition) -> None:
        """Write nothing to `model`, but commit only if `condition` holds on it."""
        self._ops["check"].append((label, lambda tx: tx.condition_check(type(model), model.pk, model.sk,
                                                                        condition=condition)))

    def delete(self, label: str, model, condition=None) -> None:
        self._ops["delete"].append((label, lambda tx: tx.delete(model, condition=condition)))

    def commit(self) -> None:
        order = self._ops["check"] + self._ops["delete"] + self._ops["put"] + self._ops["update"]
        try:
            with TransactWrite(connection=db.connection()) as tx:
                for _, add in order:
                    add(tx)
        except TransactWriteError as error:
            # A conflict, throttling or a timeout is retried (the entry's key makes a re-run safe); a request
            # DynamoDB refuses for good (invalid, an item too large) is raised as it is: the API's logged 500,
            # at once rather than after every attempt as a 503.
            code = error_code(error)
            if code != "TransactionCanceledException":
                if code in RETRYABLE_CODES:
                    raise Retry() from error
                raise
            reasons = error.cancellation_reasons or []
            codes = [reason.code for reason in reasons if reason]
            if "TransactionConflict" in codes:
                raise Retry() from error
            failed = [(label, reason) for (label, _), reason in zip(order, reasons)
                      if reason and reason.code == "ConditionalCheckFailed"]
            # The idempotency key decides first: a replay fails every condition, the key's is the one that counts.
            failed.sort(key=lambda pair: (not pair[0].startswith("entry:"), pair[0] != "member"))
            if failed:
                raise _failed(*failed[0]) from error
            if set(codes) <= RETRYABLE_REASONS:
                raise Retry() from error
            raise
        for callback in self._after:
            callback()


def _failed(label: str, reason) -> Exception:
    if label == "member":
        return Retry()
    if label.startswith("entry:"):
        entry = db.EntryItem.from_raw_data(reason.raw_item) if reason.raw_item else None
        if entry is None:
            pk = label[len("entry:"):]
            entry = db.get(db.EntryItem, (pk, "ENTRY"))
        return Replayed(entry) if entry is not None else Retry()
    return ConditionFailed(label)


def with_retries(attempt: Callable[[], Any]) -> Any:
    """Run read-compute-write until no other writer got in between (bounded, with jitter)."""
    for number in range(ATTEMPTS):
        try:
            return attempt()
        except Retry:
            tally.count(retried=1)
            back_off(number)
    tally.count(exhausted=1)
    raise Contention("Too many concurrent changes; try again.")


def back_off(number: int) -> None:
    """Full jitter: a random pause up to an exponentially growing, capped bound."""
    time.sleep(random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** number)))


def error_code(error) -> str | None:
    """DynamoDB's error code behind a pynamodb error, or None for a timeout or a lost connection.

    (pynamodb's own `cause_response_code` raises when the cause carries no response.)
    """
    response = getattr(error.cause, "response", None) or {}
    return response.get("Error", {}).get("Code")


TRANSIENT_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                   "InternalServerError", None}  # None: a timeout or a lost connection


# A transaction is also worth another try when another one held its items.
RETRYABLE_CODES = TRANSIENT_CODES | {"TransactionConflictException", "TransactionInProgressException"}
# Cancellation reasons that may pass on another try; any other (ValidationError, ItemCollectionSizeLimitExceeded)
# will not.
RETRYABLE_REASONS = {"TransactionConflict", "ProvisionedThroughputExceeded", "ThrottlingError"}


def is_transient(error: Exception) -> bool:
    """A DynamoDB failure that may succeed if tried again later (throttled reads included, and a write that
    met a transaction in flight on its item)."""
    return isinstance(error, PynamoDBException) and (error_code(error) in TRANSIENT_CODES
                                                     or error_code(error) == "TransactionConflictException")


def _conditional_write(write: Callable[[], None], failure: type[PynamoDBException]) -> bool:
    """Run one conditional write: False when its condition fails, True once written. Refused because a
    transaction holds the item (nothing written), it is sent again after a pause, and a 503 once
    WRITE_ATTEMPTS are spent; any other failure is raised."""
    for number in range(WRITE_ATTEMPTS):
        try:
            write()
            return True
        except failure as error:
            code = error_code(error)
            if code == "ConditionalCheckFailedException":
                return False
            if code != "TransactionConflictException":
                raise
        tally.count(retried=1)
        back_off(number)
    tally.count(exhausted=1)
    raise Contention("Too many concurrent changes; try again.")


def update_if(item, actions: list, condition) -> bool:
    """Apply `actions` to `item` if `condition` holds on it: False when it does not (the caller says what
    that means), True once written; any other failure is raised."""
    return _conditional_write(lambda: item.update(actions=actions, condition=condition), UpdateError)


def save_if(item, condition) -> bool:
    """Put `item` if `condition` holds: False when it does not, True once written; any other failure is raised."""
    return _conditional_write(lambda: item.save(condition=condition), PutError)


def save_or_retry(item, condition=None) -> None:
    """Put an item whose version (or `condition`) guards it; a lost race becomes a Retry."""
    if not save_if(item, condition):
        raise Retry()
