"""A row as `PUT .../members/{external_id}` takes it: the same `MemberUpsert` body and `external_id` rules,
so an import can do nothing the API would refuse. A CSV row is read against the file's header (its
columns: external_id, the profile fields, attr.<name>); a JSON line is the PUT body plus its external_id."""
from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

from chalicelib.core import ids
from chalicelib.members.imports.row_texts import Line, csv_texts, jsonl_texts, problem

EXTERNAL_ID_MESSAGE = "external_id must be 1-128 characters of A-Z a-z 0-9 . _ - : @"
ATTRIBUTE_COLUMN = "attr."


@functools.cache
def _upsert():
    """PUT member's body model and pydantic's error, loaded on first use: pydantic is most of what
    importing the import function costs, and a cold start only needs it once rows come."""
    from pydantic import ValidationError

    from chalicelib.members.shapes import MemberUpsert

    return MemberUpsert, ValidationError


def profile_fields() -> tuple[str, ...]:
    """The fields PUT member sets (email, phone, name, locale, attributes)."""
    return tuple(_upsert()[0].model_fields)


def csv_fields() -> tuple[str, ...]:
    return tuple(name for name in profile_fields() if name != "attributes")


class FileRefused(Exception):
    """The file as a whole cannot be imported (its format, its program, its header)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Record:
    """One row as read: where it ends, and either its member's changes or why it was refused."""

    line: int
    end: int  # byte offset where the next row starts
    next_line: int  # the line number there
    external_id: Optional[str] = None
    changes: Optional[dict] = None
    errors: Optional[list[dict]] = None


def _validation_problems(error) -> list[dict]:
    """Each offending field and what is wrong with it, never the value (it may be personal data)."""
    return [{"field": ".".join(str(part) for part in issue["loc"]) or "row", "message": issue["msg"]}
            for issue in error.errors(include_input=False, include_url=False)]


def validate(external_id: Any, fields: dict) -> tuple[Optional[str], Optional[dict], Optional[list[dict]]]:
    """(external_id if valid, the changes as PUT member would apply them, or the problems)."""
    problems = []
    valid_id = external_id if isinstance(external_id, str) and ids.EXTERNAL_ID.fullmatch(external_id) else None
    if valid_id is None:
        problems += problem("external_id", EXTERNAL_ID_MESSAGE)
    model, validation_error = _upsert()
    try:
        changes = model.model_validate(fields).model_dump(exclude_unset=True)
    except validation_error as error:
        problems += _validation_problems(error)
        changes = None
    return valid_id, (changes if not problems else None), (problems or None)


def parse_header(text: str) -> list[str]:
    """The CSV header's columns: external_id, the profile fields, attr.<name>; nothing unknown, no repeats."""
    try:
        columns = [column.strip() for column in next(csv.reader([text]), [])]
    except csv.Error:
        raise FileRefused("bad_header", "The header row is not valid CSV.") from None
    fixed = ("external_id", *csv_fields())
    columns = [column.lower() if column.lower() in fixed else column for column in columns]
    unknown = [column for column in columns if column not in fixed
               and not (column.startswith(ATTRIBUTE_COLUMN) and 0 < len(column) - len(ATTRIBUTE_COLUMN) <= 64)]
    if unknown:
        allowed = ", ".join((*fixed, "attr.<name>"))
        raise FileRefused("bad_header", f"Unknown column(s) {', '.join(unknown[:5])!s:.300}; the columns are {allowed}.")
    if "external_id" not in columns:
        raise FileRefused("bad_header", "The header has no external_id column.")
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise FileRefused("bad_header", f"Column(s) {', '.join(repeated[:5])!s:.300} appear more than once.")
    return columns


def csv_row(columns: list[str], text: str) -> tuple[Optional[str], Optional[dict], Optional[list[dict]]]:
    """A CSV row: an empty cell leaves the field as it is (JSON lines can clear a field with null)."""
    try:
        cells = next(csv.reader([text]), [])
    except csv.Error:
        return None, None, problem("row", "is not valid CSV")
    if len(cells) != len(columns):
        return None, None, problem("row", f"has {len(cells)} fields where the header has {len(columns)}")
    fields: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    external_id = None
    for column, cell in zip(columns, cells):
        value = cell.strip()
        if column == "external_id":
            external_id = value
        elif value and column.startswith(ATTRIBUTE_COLUMN):
            attributes[column[len(ATTRIBUTE_COLUMN):]] = value
        elif value:
            fields[column] = value
    if attributes:
        fields["attributes"] = attributes
    return validate(external_id, fields)


def jsonl_row(text: str) -> tuple[Optional[str], Optional[dict], Optional[list[dict]]]:
    """A JSON line: {"external_id", ...the PUT member body}; as there, null clears a field."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return None, None, problem("row", "is not a JSON object")
    external_id = value.pop("external_id", None)
    return validate(external_id, value)


def records(source: Iterator[Line], kind: str, header: Optional[list[str]],
            on_header: Callable[[list[str]], None]) -> Iterator[Record]:
    """Every row of the file from where `source` starts; blank rows come as blank records."""
    texts = csv_texts(source, lambda: len(header) if header else None) if kind == "csv" else jsonl_texts(source)
    for text in texts:
        record = Record(text.line, text.end, text.next_line)
        if text.errors and kind == "csv" and header is None:
            raise FileRefused("bad_header", f"The header row {text.errors[0]['message']}.")
        if text.errors:
            record.errors = text.errors
        elif not text.text.strip():
            pass
        elif kind == "csv" and header is None:
            header = parse_header(text.text)
            on_header(header)
        else:
            parsed = csv_row(header, text.text) if kind == "csv" else jsonl_row(text.text)
            record.external_id, record.changes, record.errors = parsed
        yield record
