"""What the buy page's forms post (`Annotated[Model, Form()]`): text as browsers post
it; billing/purchases.py says what is wrong with a value (a form outside these bounds
is a 400 page, core/web/routes.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

Text = Annotated[str, Field(max_length=200)]


class EstimateFields(BaseModel):
    package: Text = ""
    country: Text = ""
    postal_code: Text = ""


class CheckoutFields(BaseModel):
    package: Text = ""
