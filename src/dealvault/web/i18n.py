"""The pages' languages: Babel catalogues (one .po file per area under ``locale/zh``, merged
at start; English is the source language), the choice of a request's language, and dates
shown in the person's time zone."""

from __future__ import annotations

import io
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("zh", "en")
DEFAULT = "zh"
_BABEL = {"zh": "zh_Hans_CN", "en": "en_GB"}


def po_files(language: str) -> list[Path]:
    return sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))


@cache
def translations(language: str) -> NullTranslations:
    """Every catalogue of ``language`` merged (English: the messages as written)."""
    merged: NullTranslations = NullTranslations()
    for path in po_files(language):
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=_BABEL[language])
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        part = Translations(buf)
        if isinstance(merged, Translations):
            merged.merge(part)
        else:
            merged = part
    return merged


_FIELD = re.compile(r"\{([a-z_]+)\}")
#: fields that may hold a list of their own, joined by "; "
_WIDE = frozenset({"hint", "summary"})


def _pattern(msgid: str) -> re.Pattern[str]:
    """``msgid`` with ``{name}`` fields as a regular expression matching a whole message."""
    parts, last = [], 0
    for m in _FIELD.finditer(msgid):
        parts.append(re.escape(msgid[last : m.start()]))
        # a value never holds "; " (it joins reasons), but a hint or summary may
        wide = m.group(1) in _WIDE
        parts.append(f"(?P<{m.group(1)}>{'.+?' if wide else '[^;]+?'})")
        last = m.end()
    parts.append(re.escape(msgid[last:]))
    return re.compile("".join(parts) + r"\Z", re.S)


@cache
def patterns(language: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """The catalogue entries whose message has ``{name}`` fields (a reason a flow words
    with a value in it: a count, a level, a date), as (pattern, translation)."""
    out = []
    for path in po_files(language):
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=_BABEL[language])
        for msg in catalog:
            if isinstance(msg.id, str) and msg.string and _FIELD.search(msg.id):
                out.append((_pattern(msg.id), str(msg.string)))
    # the longest first: a specific wording wins over a general one
    return tuple(sorted(out, key=lambda p: -len(p[0].pattern)))


def _fill(target: str, values: dict[str, str]) -> str:
    return _FIELD.sub(lambda f: values.get(f.group(1)) or "", target)


def translate(message: str, *, language: str) -> str:
    """A message from a flow in ``language``: its catalogue entry, else the first entry with
    fields that matches it whole (the values kept as they are); a refusal that joins several
    reasons (``access denied: A; B``) is translated reason by reason; else as it is."""
    if language == "en" or not message:
        return message
    head, sep, rest = message.partition(": ")
    if sep and head == "access denied":
        parts = (_one(part, language) or part for part in rest.split("; "))
        return (_one(head, language) or head) + "：" + "；".join(parts)
    whole = _one(message, language)
    if whole is not None:
        return whole
    if "; " in message:
        return "；".join(_one(part, language) or part for part in message.split("; "))
    return message


def _one(message: str, language: str) -> str | None:
    exact = translations(language).gettext(message)
    if exact != message:
        return exact
    for pattern, target in patterns(language):
        m = pattern.match(message)
        if m:
            return _fill(target, m.groupdict())
    return None


def negotiate(*, chosen: str | None, accept: str | None) -> str:
    """The request's language: the person's (or the switcher's) choice, else the best of the
    browser's Accept-Language, else Chinese."""
    if chosen in LANGUAGES:
        assert chosen is not None
        return chosen
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return DEFAULT


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def when(value: datetime | str | None, *, language: str, tz: ZoneInfo) -> str:
    """A time as the person reads it: their zone, their language's medium format."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return text
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return str(format_datetime(value, "medium", tzinfo=tz, locale=Locale.parse(_BABEL[language])))
