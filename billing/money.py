"""Prices and formatting. Money is integer milli-credits (mc): 1 credit = 1000 mc."""

from __future__ import annotations

MC_PER_CREDIT = 1000
QUERY_PRICE_MC = 500  # each answered assistant message: 0.5 credit
CALL_SECOND_PRICE_MC = 1000  # each second of a call: 1 credit


def format_credits(mc: int) -> str:
    """1234500 -> '1,234.5'; 500 -> '0.5'; -500 -> '-0.5'. Exact: no floats involved."""
    sign = "-" if mc < 0 else ""
    whole, frac = divmod(abs(mc), MC_PER_CREDIT)
    text = f"{whole:,}"
    if frac:
        text += "." + f"{frac:03d}".rstrip("0")
    return sign + text


def credits_label(mc: int) -> str:
    return f"{format_credits(mc)} credit" + ("" if abs(mc) == MC_PER_CREDIT else "s")
