"""What the account pages' forms post, as pydantic models (`Annotated[Model, Form()]`).

Every field is text with a default, as browsers post it: an absent or empty field is
"" and the flows (accounts/flows.py, teams.py) say what is wrong with it, beside the
field. The models bound only what no person types (`MAX_FIELD` characters); a form
outside them is a 400 page (core/web/routes.py). Checkboxes post "yes" when ticked.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

MAX_FIELD = 4096
Text = Annotated[str, Field(max_length=MAX_FIELD)]


class _Form(BaseModel):
    def shown(self) -> dict[str, Any]:
        """The values to show back on the page: never the password."""
        return self.model_dump(exclude={"password"})


class SignupFields(_Form):
    name: Text = ""
    email: Text = ""
    password: Text = ""
    mobile: Text = ""
    country: Text = ""  # ISO region a national mobile number is read in ("US", "GB")
    age: Text = ""  # "yes": 18 or over and authorised to accept the terms
    terms: Text = ""  # "yes": accepts the terms
    terms_version: Text | None = None  # the version the page showed
    invite: Text | None = None


class OAuthSignupFields(_Form):
    """The sign-up form after Google/Meta: the email comes from the provider (in the
    signed cookie), never from here; there is no password."""

    name: Text = ""
    mobile: Text = ""
    country: Text = ""
    age: Text = ""
    terms: Text = ""
    terms_version: Text | None = None


class LoginFields(_Form):
    email: Text = ""
    password: Text = ""
    next: Text | None = None


class CodeFields(_Form):
    code: Text = ""


class ResetFields(_Form):
    email: Text = ""


class NewPasswordFields(_Form):
    code: Text = ""
    password: Text = ""


class TermsFields(_Form):
    version: Text | None = None


class InviteFields(_Form):
    email: Text = ""
    mobile: Text = ""
    role: Text = "rep"


class TimeZoneFields(_Form):
    time_zone: Text = ""


class RoleFields(_Form):
    role: Text = ""


class FormView:
    """Lets templates read submitted values (the checkboxes as booleans)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = {k: v for k, v in data.items() if k != "password"}

    def __getattr__(self, name: str) -> Any:
        value = self._data.get(name, "")
        value = "" if value is None else value
        return value == "yes" if name in ("age", "terms") else value
