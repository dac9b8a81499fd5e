"""Legal notices of an incident (PIPL art. 57 in Chinese, GDPR art. 33 and 34 in English):
the fields each article requires, filled from the store's facts and the team's answers file,
what is missing, and the text rendered as HTML or PDF."""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from dealvault.errors import InputError, Invalid
from dealvault.fonts import INSTALL_HINT, cjk_fonts, has_cjk
from dealvault.incidents.clocks import NOTICE_KINDS
from dealvault.incidents.templating import ENV


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    source: str  # "facts" (the store) or "answers" (the team)
    article: str


_ZH: Final = "PIPL 第五十七条"
PIPL_FIELDS: Final = (
    Field("handler", "个人信息处理者", "answers", _ZH),
    Field("categories", "发生或者可能发生泄露的信息种类", "facts", _ZH + "（一）"),
    Field("cause", "原因", "answers", _ZH + "（一）"),
    Field("harm", "可能造成的危害", "answers", _ZH + "（一）"),
    Field("measures_taken", "个人信息处理者采取的补救措施", "answers", _ZH + "（二）"),
    Field("individual_steps", "个人可以采取的减轻危害的措施", "answers", _ZH + "（二）"),
    Field("contact", "个人信息处理者的联系方式", "answers", _ZH + "（三）"),
)
_GDPR_AUTHORITY: Final = (
    Field("controller", "Controller", "answers", "GDPR art. 33(3)(b)"),
    Field("nature", "Nature of the personal data breach", "answers", "GDPR art. 33(3)(a)"),
    Field("categories", "Categories of personal data concerned", "facts", "GDPR art. 33(3)(a)"),
    Field("data_subjects", "Approximate number of data subjects", "facts", "GDPR art. 33(3)(a)"),
    Field("records", "Approximate number of personal data records", "facts", "GDPR art. 33(3)(a)"),
    Field(
        "dpo_contact",
        "Data protection officer or other contact point",
        "answers",
        "GDPR art. 33(3)(b)",
    ),
    Field("consequences", "Likely consequences", "answers", "GDPR art. 33(3)(c)"),
    Field("measures", "Measures taken or proposed", "answers", "GDPR art. 33(3)(d)"),
)
_DELAY: Final = Field("delay_reasons", "Reasons for the delay", "answers", "GDPR art. 33(1)")
_GDPR_SUBJECTS: Final = (
    Field("controller", "Who we are", "answers", "GDPR art. 34(2)"),
    Field("nature", "What happened", "answers", "GDPR art. 34(2)"),
    Field("categories", "Which of your data", "facts", "GDPR art. 34(2)"),
    Field("dpo_contact", "Whom to contact", "answers", "GDPR art. 34(2), 33(3)(b)"),
    Field("consequences", "What this may mean for you", "answers", "GDPR art. 34(2), 33(3)(c)"),
    Field("measures", "What we have done and will do", "answers", "GDPR art. 34(2), 33(3)(d)"),
    Field("individual_steps", "What you can do", "answers", "GDPR art. 34(2)"),
)
#: what the team may write in an answers file (every answers field of every kind)
ANSWER_KEYS: Final = frozenset(
    f.key
    for f in (*PIPL_FIELDS, *_GDPR_AUTHORITY, _DELAY, *_GDPR_SUBJECTS)
    if f.source == "answers"
)
TITLES: Final = {
    "pipl-authority": "个人信息安全事件报告（致履行个人信息保护职责的部门）",
    "pipl-customers": "个人信息安全事件告知书",
    "gdpr-authority": "Notification of a personal data breach to the supervisory authority",
    "gdpr-subjects": "Communication of a personal data breach to you",
}
GDPR_HOURS: Final = 72
_KEY: Final = re.compile(r"[a-z][a-z_]{0,39}")


def language(kind: str) -> str:
    return "zh" if kind.startswith("pipl") else "en"


def fields(kind: str, *, late: bool) -> tuple[Field, ...]:
    """The fields a notice of ``kind`` must hold (``late``: a GDPR authority notice after 72
    hours from awareness, which must give the reasons for the delay)."""
    if kind not in NOTICE_KINDS:
        raise Invalid(f"unknown notice kind {kind!r} (one of {', '.join(NOTICE_KINDS)})")
    if kind.startswith("pipl"):
        return PIPL_FIELDS
    if kind == "gdpr-authority":
        return (*_GDPR_AUTHORITY, _DELAY) if late else _GDPR_AUTHORITY
    return _GDPR_SUBJECTS


def parse_answers(text: str, *, file: str) -> dict[str, str]:
    """The team's answers (TOML, one text per key): an unknown key or a value that is not
    text is refused naming the file and key, never the value."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"not valid TOML (line {getattr(exc, 'lineno', '?')})", file=file
        ) from None
    out: dict[str, str] = {}
    for key, value in doc.items():
        if key not in ANSWER_KEYS:
            shown = key if _KEY.fullmatch(key) else None  # an odd key may be a value pasted
            raise InputError(
                f"{'unknown key' if shown else 'a key that is no field'} "
                f"(one of {', '.join(sorted(ANSWER_KEYS))})",
                file=file,
                column=shown,
            )
        if not isinstance(value, str):
            raise InputError("must be text", file=file, column=key)
        if value.strip():
            out[key] = value.strip()
    return out


def facts_of(impact: Mapping[str, Any], *, kind: str) -> dict[str, str]:
    """What the store knows, as text in the notice's language: the categories, counts,
    minors and window of the impact analysis (empty when it found no customer)."""
    customers = int(impact.get("customers", 0))
    if customers == 0:
        return {}
    by_cat: Mapping[str, int] = impact.get("by_category", {})
    minors = impact.get("minors")
    zh = language(kind) == "zh"
    sensitive = int(impact.get("by_sensitivity", {}).get("sensitive", 0))
    minors_text = str(minors) if minors is not None else f"≤ {impact.get('minors_at_most', 0)}"
    if zh:
        cats = "；".join(f"{c}（{n} 人）" for c, n in by_cat.items())
        cats += (
            f"。涉及个人 {customers} 人，其中敏感个人信息 {sensitive} 人，未成年人 {minors_text} 人"
        )
    else:
        cats = "; ".join(f"{c} ({n} people)" for c, n in by_cat.items())
        cats += f"; sensitive personal data of {sensitive}; minors: {minors_text}"
    return {
        "categories": cats,
        "data_subjects": str(customers),
        "records": str(sum(by_cat.values())) + ("" if zh else " (person × category)"),
    }


def missing(
    kind: str, *, facts: Mapping[str, str], answers: Mapping[str, str], late: bool
) -> list[str]:
    """The required fields with no content, by key."""
    have = {**facts, **answers}
    return [f.key for f in fields(kind, late=late) if not have.get(f.key, "").strip()]


def render_html(
    *,
    kind: str,
    incident: int,
    deal: str,
    facts: Mapping[str, str],
    answers: Mapping[str, str],
    late: bool,
    aware_at: datetime,
    at: datetime,
    draft: bool,
) -> str:
    """The notice as one HTML page: every required field (a missing one marked), in the
    notice's language."""
    have = {**facts, **answers}
    rows = [
        {"label": f.label, "article": f.article, "text": have.get(f.key, ""), "key": f.key}
        for f in fields(kind, late=late)
    ]
    return ENV.get_template("legal_notice.html.j2").render(
        lang=language(kind),
        title=TITLES[kind],
        kind=kind,
        incident=incident,
        deal=deal,
        rows=rows,
        aware_at=aware_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        at=at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        draft=draft,
    )


def html_to_pdf(html: str) -> bytes:
    """The HTML typeset by WeasyPrint, as the audit report is (audit/report.py)."""
    if has_cjk(html) and not cjk_fonts():
        raise Invalid(
            "this notice holds Chinese text and no Chinese font is installed: " + INSTALL_HINT
        )
    try:
        weasyprint = importlib.import_module("weasyprint")
    except (ImportError, OSError) as exc:
        raise Invalid(f"PDF output needs WeasyPrint and Pango: {exc}") from exc
    pdf = weasyprint.HTML(string=html).write_pdf()
    if not isinstance(pdf, bytes):
        raise Invalid("WeasyPrint returned no PDF")
    return pdf
