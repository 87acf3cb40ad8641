"""chainlit.md (the chat's "Readme") describes what the product does today, for a
sales rep: no promises of later releases, and the prices and rules it states are the
ones the code applies."""

from __future__ import annotations

from pathlib import Path

from billing.money import QUERY_PRICE_MC, format_credits

README = (Path(__file__).resolve().parents[2] / "chainlit.md").read_text(encoding="utf-8")


def test_it_describes_today_not_later_releases() -> None:
    lowered = README.lower()
    for promise in ("next release", "coming soon", "arrive in the next", "will be available"):
        assert promise not in lowered
    for today in (
        "calls",
        "transcript",
        "summary",
        "search",
        "analytics",
        "recording",
        "import these contacts",
        "do-not-call",
        "consent",
        "balance",
    ):
        assert today in lowered, today


def test_its_prices_are_the_ones_charged() -> None:
    assert f"**{format_credits(QUERY_PRICE_MC)} credit**" in README
    assert "**1 credit per second**" in README
    assert "that the caller is an AI" in README and "recorded" in README
    assert "may be inaccurate" in README
