"""Rendering a page: one Jinja2 environment per language (autoescaping everywhere, the
gettext calls bound to that language's catalogue), and the context every page gets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dealvault import __version__
from dealvault.web import i18n

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page and how it is shown: language, time zone, the CSRF token its
    forms carry (None before sign-in) and the signed-in e-mail (None before sign-in)."""

    language: str
    tz: ZoneInfo
    csrf: str | None = None
    email: str | None = None
    #: the signed-in person's name and organisation (the watermark of record pages)
    name: str | None = None
    organization: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def shared(first: Iterable[str], second: Iterable[str]) -> list[str]:
    """The items of ``first`` that are in ``second`` (a person's roles among those asked)."""
    wanted = set(second)
    return [x for x in first if x in wanted]


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    catalogue = i18n.translations(language)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    #: a message from a flow (a refusal's reason): translated where the catalogue has it,
    #: else shown as the CLI shows it (never formatted: it may hold a percent sign)
    env.globals["tr"] = partial(i18n.translate, language=language)
    env.globals["shared"] = shared
    return env


def render(
    request: Request,
    viewer: Viewer,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` in the viewer's language."""
    env = environment(viewer.language)

    def when(value: datetime | str | None) -> str:
        return i18n.when(value, language=viewer.language, tz=viewer.tz)

    html = env.get_template(template).render(
        request=request,
        viewer=viewer,
        lang=viewer.language,
        when=when,
        version=__version__,
        path=request.url.path,
        min_length=request.app.state.dealvault.rules.password_min,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=headers)
