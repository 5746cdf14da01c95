"""Reports as CSV, the format a finance team opens: `?format=csv` on a report, and the answer that carries it.

Rows are written by Python's csv module (RFC 4180 quoting, CRLF line ends); a cell that a spreadsheet would run
as a formula (starting with = + - @, a tab or a carriage return) is prefixed with a quote, as OWASP advises
against CSV injection, since member names and reasons are free text.
"""
import csv
import io
from collections.abc import Iterable

from chalice import Response

from chalicelib.core.errors import ValidationFailed

FORMATS = ("json", "csv")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(query: dict) -> bool:
    """`format` is json (the default) or csv; 400 for anything else."""
    wanted = query.get("format", "json")
    if wanted not in FORMATS:
        raise ValidationFailed("format is json or csv.", {"field": "format"})
    return wanted == "csv"


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def table(rows: Iterable[Iterable]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def response(text: str, filename: str) -> Response:
    return Response(body=text, status_code=200, headers={
        "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
