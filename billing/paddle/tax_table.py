"""The simulated provider's tax table: illustrative consumer rates on digital services.

This table is for the simulated checkout only: it is not Paddle's calculation and not
tax advice. Live estimates come from Paddle's pricing preview. Rates are fractions in
basis points (2000 = 20 %); a US state comes from the ZIP code.
"""

from __future__ import annotations

from dataclasses import dataclass

import zipcodes

LABEL = "simulated tax table (illustrative rates, not Paddle's)"

# VAT / GST on electronically supplied services to consumers, in basis points.
COUNTRY_BP: dict[str, int] = {
    "AT": 2000,
    "AU": 1000,
    "BE": 2100,
    "BG": 2000,
    "CA": 500,
    "CH": 810,
    "CY": 1900,
    "CZ": 2100,
    "DE": 1900,
    "DK": 2500,
    "EE": 2200,
    "ES": 2100,
    "FI": 2550,
    "FR": 2000,
    "GB": 2000,
    "GR": 2400,
    "HR": 2500,
    "HU": 2700,
    "IE": 2300,
    "IN": 1800,
    "IS": 2400,
    "IT": 2200,
    "JP": 1000,
    "KR": 1000,
    "LT": 2100,
    "LU": 1700,
    "LV": 2100,
    "MT": 1800,
    "MX": 1600,
    "NL": 2100,
    "NO": 2500,
    "NZ": 1500,
    "PL": 2300,
    "PT": 2300,
    "RO": 1900,
    "SE": 2500,
    "SG": 900,
    "SI": 2200,
    "SK": 2300,
    "TR": 2000,
    "ZA": 1500,
}

# US states that tax SaaS / digital services (state rate only; local rates vary).
US_STATE_BP: dict[str, int] = {
    "AZ": 560,
    "CT": 100,
    "DC": 600,
    "HI": 400,
    "IA": 600,
    "KY": 600,
    "MS": 700,
    "NM": 488,
    "NY": 400,
    "OH": 575,
    "PA": 600,
    "RI": 700,
    "SC": 600,
    "SD": 420,
    "TN": 700,
    "TX": 625,
    "UT": 610,
    "WA": 650,
    "WV": 600,
}


@dataclass(frozen=True)
class TaxRate:
    basis_points: int
    where: str  # "GB", "US-NY", …

    @property
    def fraction(self) -> str:
        """As Paddle writes a tax rate: "0.2", "0.0625"."""
        value = f"{self.basis_points / 10_000:.4f}".rstrip("0").rstrip(".")
        return value or "0"


def load() -> None:
    """Load the ZIP code table now. The first lookup in a process reads 42,000 ZIP codes
    (about a second of CPU, holding the GIL even in a worker thread), so a server does
    it at start-up, before it serves anything, rather than on a buyer's request."""
    us_state("10001")


def us_state(postal_code: str | None) -> str | None:
    """The state of a US ZIP code (5 digits, or ZIP+4), or None when it is not real."""
    if not postal_code:
        return None
    zip5 = postal_code.strip()[:5]
    if len(zip5) != 5 or not zip5.isdigit():
        return None
    matches = zipcodes.matching(zip5)  # type: ignore[no-untyped-call]
    return str(matches[0]["state"]) if matches else None


def rate_for(country_code: str, region: str | None = None) -> TaxRate:
    country = country_code.upper()
    if country == "US":
        state = (region or "").upper()
        return TaxRate(US_STATE_BP.get(state, 0), f"US-{state}" if state else "US")
    return TaxRate(COUNTRY_BP.get(country, 0), country)


def tax_on(amount_cents: int, rate: TaxRate) -> int:
    """Tax on a tax-exclusive amount, rounded half up to the cent."""
    return (amount_cents * rate.basis_points + 5_000) // 10_000
