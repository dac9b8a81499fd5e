"""Check the searchable columns of stored audit events (at, actor, action, deal, decision)
against the signed event body, so an edited column cannot hide an event from filters."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from dealvault.audit.verify import VerifyReport

COLUMNS = ("at", "actor", "action", "deal", "decision")
_SQLITE_AT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00")
POSTGRES_AT = "to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
"""PostgreSQL renders ``at`` in the body's form itself (milliseconds truncated, as the body)."""


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def stamp_of(value: object, *, postgres: bool) -> bytes:
    """The body's ``at`` (``YYYY-MM-DDTHH:MM:SS.mmmZ``) that a stored ``at`` column denotes,
    or b"" when the column is not in its canonical stored form (SQLite:
    ``YYYY-MM-DD HH:MM:SS[.ffffff]+00:00``, the text the log writes; a time written any
    other way would sort differently in searches)."""
    if type(value) is not str:
        return b""
    if postgres:
        return value.encode("ascii", "replace")
    if len(value) == 32 and value[19] == "." and value[10] == " " and value[26:] == "+00:00":
        return (value[:10] + "T" + value[11:23] + "Z").encode("ascii", "replace")
    m = _SQLITE_AT.fullmatch(value)
    if m is None:
        return b""
    return (value[:10] + "T" + value[11:19] + (m.group(1) or ".000")[:4] + "Z").encode("ascii")


def mismatched(body: bytes, row: Sequence[Any], *, postgres: bool) -> list[str]:
    """Which of the columns (at, actor, action, deal, decision) differ from the body."""
    try:
        doc = json.loads(body)
    except ValueError:
        return list(COLUMNS)
    if not isinstance(doc, dict):
        return list(COLUMNS)
    out = []
    if stamp_of(row[0], postgres=postgres) != str(doc.get("at")).encode("utf-8"):
        out.append("at")
    for name, value in zip(COLUMNS[1:], row[1:], strict=True):
        if value != doc.get(name):
            out.append(name)
    return out


class _Heads(dict[tuple[Any, Any], bytes]):
    """``{"action":…,"actor":…,"at":"`` of each (action, actor) pair, built on first use."""

    def __missing__(self, key: tuple[Any, Any]) -> bytes:
        got = self[key] = b'{"action":' + _json(key[0]) + b',"actor":' + _json(key[1]) + b',"at":"'
        return got


class _Mids(dict[tuple[Any, Any], bytes]):
    """``},"deal":…,"decision":…,"objects":`` of each (deal, decision) pair."""

    def __missing__(self, key: tuple[Any, Any]) -> bytes:
        got = self[key] = (
            b'},"deal":' + _json(key[0]) + b',"decision":' + _json(key[1]) + b',"objects":'
        )
        return got


def _suspects(
    chunk: Sequence[Sequence[Any]], heads: _Heads, mids: _Mids, postgres: bool
) -> Sequence[Sequence[Any]]:
    """Rows whose columns may differ from the body (the exact check follows for those)."""
    try:
        if postgres:  # ``at`` comes in the body's form (see POSTGRES_AT)
            return [
                r
                for r in chunk
                if not (
                    r[1].startswith(h := heads[r[5], r[4]])
                    and r[1][len(h) : len(h) + 24] == r[3].encode()
                    and mids[r[6], r[7]] in r[1]
                )
            ]
        return [  # SQLite: ``at`` as written, YYYY-MM-DD HH:MM:SS.ffffff+00:00
            r
            for r in chunk
            if not (
                r[1].startswith(h := heads[r[5], r[4]])
                and len(a := r[3]) == 32
                and a[10] == " "
                and a[26:] == "+00:00"
                and r[1][len(h) : len(h) + 24] == (a[:10] + "T" + a[11:23] + "Z").encode()
                and mids[r[6], r[7]] in r[1]
            )
        ]
    except (TypeError, AttributeError, UnicodeError):  # a column of another type (tampered)
        return chunk


def checked(
    chunks: Iterable[Sequence[Sequence[Any]]], report: VerifyReport, *, postgres: bool
) -> Iterator[Sequence[Sequence[Any]]]:
    """Pass each chunk of rows (seq, body, packed, at, actor, action, deal, decision) on to
    the verifier, reporting events whose columns disagree with their body.

    In RFC 8785 key order a body starts with ``{"action":…,"actor":…,"at":"…"``, and goes on
    with ``},"deal":…,"decision":…,"objects":`` after ``counts``, which holds integers only
    (no string value can contain ``,"deal":`` unescaped). The expected bytes of the few
    distinct (action, actor) and (deal, decision) pairs are built once; the check per event
    is a prefix comparison, a 24-byte slice and a substring search, in bulk. Rows that fail
    it (or hold a value the fast check cannot take) are checked exactly."""
    heads, mids = _Heads(), _Mids()
    for chunk in chunks:
        for r in _suspects(chunk, heads, mids, postgres):
            wrong = mismatched(r[1], r[3:8], postgres=postgres)
            if wrong:
                report.fail(
                    f"event {r[0]}: its {', '.join(wrong)} column(s) differ from the signed "
                    "event (edited to hide it from searches)",
                    r[0] if isinstance(r[0], int) else None,
                )
        yield chunk
