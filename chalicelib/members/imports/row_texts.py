"""A file's bytes as rows of text: physical lines with their byte offsets (where a checkpoint may resume),
joined into one CSV row while a quoted field is open, with limits on a row's size, so a file that is
not what it claims is refused row by row instead of being held in memory."""
from __future__ import annotations

import csv
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Optional

MAX_RECORD_BYTES = 64 * 1024  # a longer row is rejected (a profile is far smaller)
MAX_RECORD_LINES = 20  # a quoted CSV field may span lines, but not more than this many


@dataclass
class Line:
    number: int
    start: int  # byte offset in the object
    end: int  # byte offset of the next line
    data: bytes  # with its line ending; empty when too long
    too_long: bool = False


def lines(blocks: Iterable[bytes], start: int, number: int) -> Iterator[Line]:
    """Physical lines with their byte offsets; an over-long line is skipped, never held in memory."""
    pending, dropped, too_long, line_start = bytearray(), 0, False, start
    for block in blocks:
        position = 0
        while position < len(block):
            newline = block.find(b"\n", position)
            end = len(block) if newline < 0 else newline + 1
            if too_long:
                dropped += end - position
            else:
                pending += block[position:end]
                if len(pending) > MAX_RECORD_BYTES:
                    too_long, dropped, pending = True, len(pending), bytearray()
            position = end
            if newline >= 0:
                length = dropped if too_long else len(pending)
                yield Line(number, line_start, line_start + length, bytes(pending), too_long)
                line_start, number = line_start + length, number + 1
                pending, dropped, too_long = bytearray(), 0, False
    if pending or too_long:
        length = dropped if too_long else len(pending)
        yield Line(number, line_start, line_start + length, bytes(pending), too_long)


def problem(field_name: str, message: str) -> list[dict]:
    """Why a row is rejected, as the report gives it: the field and what is wrong, never the value."""
    return [{"field": field_name, "message": message}]


ROW_TOO_LONG = problem("row", f"is longer than {MAX_RECORD_BYTES} bytes")
UNTERMINATED = problem("row", "has a quote that opens a field but does not close it")
NOT_UTF8 = problem("row", "is not UTF-8 text")


@dataclass
class Text:
    """A logical row's text (a CSV row may span lines inside quotes), or why it has none."""

    line: int
    end: int
    next_line: int
    text: Optional[str]
    errors: Optional[list[dict]] = None


def _decode(data: bytes, at_start: bool) -> Optional[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if at_start:
        text = text.removeprefix("\ufeff")  # spreadsheets start UTF-8 files with a byte-order mark
    return text.rstrip("\r\n")


def jsonl_texts(source: Iterator[Line]) -> Iterator[Text]:
    for line in source:
        if line.too_long:
            yield Text(line.number, line.end, line.number + 1, None, ROW_TOO_LONG)
            continue
        text = _decode(line.data, line.start == 0)
        yield Text(line.number, line.end, line.number + 1, text, None if text is not None else NOT_UTF8)


def _field_count(text: str) -> int:
    try:
        return len(next(csv.reader([text]), []))
    except csv.Error:
        return -1


def csv_texts(source: Iterator[Line], expected_fields: Callable[[], Optional[int]]) -> Iterator[Text]:
    """Lines joined while a quoted field is open (an odd number of quotes so far), within bounds.

    A stray quote would open a field that runs to the next quote in the file, so lines joined are
    one row only if they make as many fields as the header; otherwise the first line alone is
    refused and reading goes on from the line after it."""
    pushed_back: deque[Line] = deque()

    def take() -> Optional[Line]:
        return pushed_back.popleft() if pushed_back else next(source, None)

    while (first := take()) is not None:
        if first.too_long:
            yield Text(first.number, first.end, first.number + 1, None, ROW_TOO_LONG)
            continue
        parts, quotes = [first], first.data.count(b'"')
        while quotes % 2 and len(parts) < MAX_RECORD_LINES:
            more = take()
            if more is None:
                break
            if more.too_long:
                pushed_back.appendleft(more)
                break
            parts.append(more)
            quotes += more.data.count(b'"')
        text = _decode(b"".join(part.data for part in parts), first.start == 0)
        if quotes % 2 or (len(parts) > 1 and (text is None or (
                expected_fields() is not None and _field_count(text) != expected_fields()))):
            pushed_back.extendleft(reversed(parts[1:]))  # refuse the first line alone, read on from the next
            yield Text(first.number, first.end, first.number + 1, None, UNTERMINATED)
            continue
        yield Text(first.number, parts[-1].end, parts[-1].number + 1, text, None if text is not None else NOT_UTF8)
