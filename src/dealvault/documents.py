"""Documents for people: a self-contained HTML page typeset as PDF (WeasyPrint, with Pango
and the project's fonts), written whole or not at all with mode 0600."""

from __future__ import annotations

import importlib
from pathlib import Path

from dealvault.errors import Invalid
from dealvault.files import check_output_file, write_private
from dealvault.fonts import INSTALL_HINT, cjk_fonts, has_cjk


def pdf_from_html(html: str) -> bytes:
    """``html`` typeset as PDF; a clear error when WeasyPrint, Pango or a Chinese font (for a
    page holding Chinese text) is missing."""
    if has_cjk(html) and not cjk_fonts():
        raise Invalid("this document holds Chinese text and no Chinese font is installed: "
                      + INSTALL_HINT)  # fmt: skip
    try:
        weasyprint = importlib.import_module("weasyprint")
    except (ImportError, OSError) as exc:
        raise Invalid(f"PDF output needs WeasyPrint and Pango: {exc}") from exc
    pdf = weasyprint.HTML(string=html).write_pdf()
    if not isinstance(pdf, bytes):
        raise Invalid("WeasyPrint returned no PDF")
    return pdf


def write_document(path: Path, html: str, *, what: str = "report") -> str:
    """Write ``html`` to ``path``, as PDF when the name ends in ``.pdf``; the format written."""
    check_output_file(path, what=what)
    if path.suffix.lower() == ".pdf":
        write_private(path, pdf_from_html(html))
        return "pdf"
    write_private(path, html)
    return "html"


#: media types of the formats a report is served in
MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def render_as(html: str, fmt: str) -> bytes:
    """``html`` as the bytes of ``fmt`` (html or pdf)."""
    if fmt == "pdf":
        return pdf_from_html(html)
    if fmt == "html":
        return html.encode("utf-8")
    raise Invalid(f"a report is html or pdf, not {fmt!r}")
