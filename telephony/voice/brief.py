"""What the rep asks the voice agent to do on one call (stored on the call row)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from core.errors import KloseError

VoicemailAction = Literal["leave", "hang_up"]
MAX_FIELD_CHARS = 500
MAX_TALKING_POINTS = 8


class BriefError(KloseError, ValueError):
    pass


def _clean(value: str | None, what: str, *, required: bool = False) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise BriefError(f"The call brief needs a {what}.")
    if len(text) > MAX_FIELD_CHARS:
        raise BriefError(f"The brief's {what} is too long (at most {MAX_FIELD_CHARS} characters).")
    return text


@dataclass(frozen=True)
class CallBrief:
    """Who calls whom, for what. `rep_name` and `company_name` come from the account,
    never from the model; the rest from the rep."""

    rep_name: str
    company_name: str
    contact_name: str
    purpose: str
    talking_points: tuple[str, ...] = ()
    goal: str = "book a short follow-up call"
    voicemail_message: str = ""
    on_voicemail: VoicemailAction = "leave"
    contact_company: str | None = None
    notes: str = field(default="", repr=False)

    @classmethod
    def build(
        cls,
        *,
        rep_name: str,
        company_name: str,
        contact_name: str,
        purpose: str,
        talking_points: list[str] | tuple[str, ...] | None = None,
        goal: str | None = None,
        voicemail_message: str | None = None,
        on_voicemail: str = "leave",
        contact_company: str | None = None,
    ) -> CallBrief:
        points = tuple(p for p in (_clean(t, "talking point") for t in (talking_points or ())) if p)
        if len(points) > MAX_TALKING_POINTS:
            raise BriefError(f"At most {MAX_TALKING_POINTS} talking points, please.")
        if on_voicemail not in ("leave", "hang_up"):
            raise BriefError("on_voicemail must be 'leave' or 'hang_up'.")
        return cls(
            rep_name=_clean(rep_name, "rep name", required=True),
            company_name=_clean(company_name, "company name", required=True),
            contact_name=_clean(contact_name, "contact name", required=True),
            purpose=_clean(purpose, "purpose", required=True),
            talking_points=points,
            goal=_clean(goal, "goal") or "book a short follow-up call",
            voicemail_message=_clean(voicemail_message, "voicemail message"),
            on_voicemail=on_voicemail,  # type: ignore[arg-type]
            contact_company=_clean(contact_company, "contact company") or None,
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["talking_points"] = list(self.talking_points)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallBrief:
        return cls(
            rep_name=str(data.get("rep_name", "")),
            company_name=str(data.get("company_name", "")),
            contact_name=str(data.get("contact_name", "")),
            purpose=str(data.get("purpose", "")),
            talking_points=tuple(str(p) for p in data.get("talking_points", ())),
            goal=str(data.get("goal") or "book a short follow-up call"),
            voicemail_message=str(data.get("voicemail_message", "")),
            on_voicemail="hang_up" if data.get("on_voicemail") == "hang_up" else "leave",
            contact_company=data.get("contact_company"),
        )

    def disclosure(self) -> str:
        """The first words of every call: who, on whose behalf, AI, recorded."""
        first = self.contact_name.split()[0] if self.contact_name else "there"
        return (
            f"Hi {first}, this is an AI assistant calling on behalf of {self.rep_name} "
            f"at {self.company_name}. This call is recorded."
        )
