"""The files the data pages serve: a disclosure written as ``dealvault disclose`` writes it
(CSV, XLSX, Parquet: the level, recipient and time in its metadata, the recipient's canary
customers in its rows, formulas neutralised, a visible watermark in XLSX), and a records page
as a PDF with a visible watermark on every page."""

from __future__ import annotations

import importlib
import json
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote

import polars as pl
from fastapi import Query
from fastapi.responses import Response

from dealvault.deidentify.writers import watermark_text, write_disclosure
from dealvault.errors import Invalid
from dealvault.flows.disclosure import Disclosure
from dealvault.flows.entry import EntryOut
from dealvault.fonts import INSTALL_HINT, cjk_fonts, has_cjk
from dealvault.web.i18n import when
from dealvault.web.render import TEMPLATES, Viewer, environment

Format = Literal["csv", "xlsx", "parquet", "pdf"]
MEDIA: Final = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "pdf": "application/pdf",
}
#: what every disclosure the pages make is recorded for (the purpose of the audit event)
PURPOSE_AGGREGATES: Final = "web data room: safe aggregates"
PURPOSE_RECORDS: Final = "web data room: records"
PURPOSE_DOWNLOAD: Final = "web data room: download"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: the style of a records page's PDF
PDF_STYLE: Final = TEMPLATES / "data" / "records_pdf.css"
#: query parameters of the data pages (names and choices, never a personal value)
DatasetQ = Annotated[str | None, Query(max_length=200)]
ChoiceQ = Annotated[str | None, Query(max_length=100)]


def chosen_dataset(entry: EntryOut, dataset: str | None) -> str | None:
    """The dataset a page shows: the one asked for, else the deal's first (None: none yet;
    a name that is not the deal's is left to the flow, which refuses it)."""
    if dataset:
        return dataset
    return entry.datasets[0] if entry.datasets else None


def attachment(name: str) -> str:
    """A Content-Disposition for ``name``: an ASCII file name, and the UTF-8 one (RFC 6266)."""
    plain = _UNSAFE.sub("_", name).strip("_") or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_name(result: Disclosure, suffix: str, fmt: str) -> str:
    meta = result.meta
    return f"{meta['deal']}-{meta['dataset']}-{meta['level']}{suffix}.{fmt}"


def serve_disclosure(result: Disclosure, *, fmt: str, suffix: str = "") -> Response:
    """``result`` as a CSV, XLSX or Parquet file, written by ``write_disclosure``."""
    if fmt not in ("csv", "xlsx", "parquet"):
        raise Invalid("a download is CSV, XLSX, Parquet or (a records page) PDF")
    with tempfile.TemporaryDirectory(prefix="dealvault-web-") as tmp:
        path = Path(tmp) / f"disclosure.{fmt}"
        write_disclosure(result.frame, path=path, fmt=fmt, meta=result.meta)  # type: ignore[arg-type]
        body = path.read_bytes()
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": attachment(file_name(result, suffix, fmt))},
    )


def shown_watermark(meta: dict[str, Any], viewer: Viewer) -> tuple[str, str, str]:
    """The watermark of a records page: who took it, for which organisation, when (in the
    viewer's time zone), from the release's own metadata."""
    name = str(meta.get("generated_by_name") or meta.get("generated_by") or "")
    at = when(meta.get("generated_at"), language=viewer.language, tz=viewer.tz)
    return name, str(meta.get("recipient") or ""), at


def rows_of(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    """The rows of one page (50 at most) as the templates show them."""
    return frame.rows()


def serve_pdf(viewer: Viewer, result: Disclosure, *, page: int) -> Response:
    """One records page as a PDF: the page's rows, the release's metadata, and the watermark
    (name, organisation, time) repeated over every page and in its running header; the
    recipient and the release's metadata also in the PDF's own metadata."""
    name, org, at = shown_watermark(result.meta, viewer)
    meta_text = json.dumps(result.meta, ensure_ascii=False, sort_keys=True, default=str)
    html = (
        environment(viewer.language)
        .get_template("data/records_pdf.html")
        .render(
            viewer=viewer,
            lang=viewer.language,
            meta=result.meta,
            report=result.meta.get("report") or {},
            columns=result.frame.columns,
            rows=rows_of(result.frame),
            page=page,
            mark=(name, org, at),
            mark_text=watermark_text(result.meta),
            meta_text=meta_text,
        )
    )
    if has_cjk(html) and not cjk_fonts():
        raise Invalid(
            "this page holds Chinese text and no Chinese font is installed: " + INSTALL_HINT
        )
    try:
        weasyprint = importlib.import_module("weasyprint")
    except (ImportError, OSError) as exc:  # pragma: no cover - a dependency
        raise Invalid(f"PDF output needs WeasyPrint and Pango: {exc}") from exc
    # its style from a file beside the template (a page's style never comes inline); nothing
    # else is fetched: the page has no external resource
    css = weasyprint.CSS(filename=str(PDF_STYLE))
    pdf = weasyprint.HTML(string=html).write_pdf(stylesheets=[css])
    return Response(
        pdf,
        media_type=MEDIA["pdf"],
        headers={"Content-Disposition": attachment(file_name(result, f"-page{page}", "pdf"))},
    )
