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


def format_money(minor_units: int, currency: str) -> str:
    """Cents to a price: (1050, 'USD') -> '$10.50'; (999, 'EUR') -> '€9.99'."""
    symbols = {"USD": "$", "EUR": "€", "GBP": "£"}
    sign = "-" if minor_units < 0 else ""
    whole, cents = divmod(abs(minor_units), 100)
    symbol = symbols.get(currency.upper())
    amount = f"{whole:,}.{cents:02d}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency.upper()}"
