"""The impact assessment as a document (HTML; PDF through documents.py): GB/T 39335-2020's
steps with Chinese headings and English beside them, PIPL art. 56's three contents and the
sign-offs. Counts and names of organisations only, never a customer's personal value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import jinja2

from dealvault.compliance.pia_rating import LEVELS
from dealvault.compliance.pia_schemas import PiaOut

ENV: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("dealvault.compliance", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: the names of the exclusion reasons and categories, for a reader without the glossary
REASONS: Final = {"objecting": "objected (反对)", "opted_out": "opted out (退出)",
                  "shredded": "erased, keys destroyed (已删除)"}  # fmt: skip


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_html(out: PiaOut) -> str:
    """The assessment as one self-contained HTML page."""
    return ENV.get_template("pia.html.j2").render(
        p=out, i=out.inputs, b=out.inputs["basis"], c=out.inputs["controls"], when=_when,
        levels=LEVELS, reasons=REASONS,
    )  # fmt: skip
