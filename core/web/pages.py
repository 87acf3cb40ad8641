"""The one way a server-rendered page is made.

Each domain keeps its templates in `<domain>/templates/` and extends core's
`base.html`; `templates_for(__file__)` gives its Jinja environment (compiled
templates are kept in it; they are all compiled when it is made, at import). A handler receives a
`Page` bound to its request and the domain's defaults (from the domain's own
dependency, e.g. accounts/deps.py `AccountPage`) and calls it:
`page("login.html", 401, message=...)` or `page.message(404, "Not found", "...")`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from core.templates import TEMPLATES_DIR


def compiled(templates: Jinja2Templates) -> Jinja2Templates:
    """`templates` with every template compiled now (at import), so that no request
    compiles one on the event loop."""
    for name in templates.env.list_templates(extensions=["html"]):
        templates.get_template(name)
    return templates


def templates_for(module_file: str) -> Jinja2Templates:
    """The templates of the package `module_file` is in, then core's (base.html,
    message.html), compiled."""
    here = Path(module_file).resolve().with_name("templates")
    return compiled(Jinja2Templates(directory=[str(here), str(TEMPLATES_DIR)]))


CORE_TEMPLATES = compiled(Jinja2Templates(directory=str(TEMPLATES_DIR)))


@dataclass(frozen=True)
class Page:
    """Renders `request`'s pages; `defaults` fill what a call does not give."""

    templates: Jinja2Templates
    request: Request
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        context = {**self.defaults, **ctx}
        return self.templates.TemplateResponse(self.request, name, context, status_code=status)

    def message(
        self,
        status: int,
        heading: str,
        message: str,
        *,
        link: str | None = None,
        link_label: str | None = None,
        **ctx: Any,
    ) -> HTMLResponse:
        """A page with a heading, one sentence and (optionally) a link onwards."""
        return self(
            "message.html",
            status,
            heading=heading,
            message=message,
            link=link,
            link_label=link_label,
            **ctx,
        )
