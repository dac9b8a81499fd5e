"""Check the searchable columns of stored audit events (at, actor, action, deal, decision)
against the signed event body, so an edited column cannot hide an event from filters."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from dealvault.audit.verify import Row, VerifyReport

COLUMNS = ("at", "actor", "action", "deal", "decision")


def _json(value: str | None) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def column_stamp(value: object) -> str | None:
    """The body's ``at`` form (UTC, milliseconds) of a stored ``at`` column value."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    at = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class _Expected:
    """The body bytes the columns imply, cached: in RFC 8785 order a body starts with
    ``{"action":…,"actor":…,"at":"…","counts":{…}`` and goes on with
    ``,"deal":…,"decision":…,"objects":``. ``counts`` holds integers only, so ``},"deal":``
    can only be where counts end, and no string value can contain ``,"deal":`` unescaped."""

    def __init__(self) -> None:
        self._stamps: dict[object, str | None] = {}
        self._heads: dict[tuple[Any, ...], bytes | None] = {}
        self._mids: dict[tuple[Any, ...], bytes] = {}

    def head(self, at: object, actor: str | None, action: str) -> bytes | None:
        key = (at, actor, action)
        got = self._heads.get(key, b"")
        if got == b"":
            stamp = self._stamps.get(at, "")
            if stamp == "":
                stamp = self._stamps[at] = column_stamp(at)
            got = None
            if stamp is not None:
                got = (
                    b'{"action":' + _json(action) + b',"actor":' + _json(actor)
                    + b',"at":"' + stamp.encode("ascii") + b'","counts":'
                )  # fmt: skip
            self._heads[key] = got
        return got

    def mid(self, deal: str | None, decision: str | None) -> bytes:
        key = (deal, decision)
        got = self._mids.get(key)
        if got is None:
            got = self._mids[key] = (
                b'},"deal":' + _json(deal) + b',"decision":' + _json(decision) + b',"objects":'
            )
        return got


def mismatched(body: bytes, row: Sequence[Any]) -> list[str]:
    """Which of the columns (at, actor, action, deal, decision) differ from the body."""
    try:
        doc = json.loads(body)
    except ValueError:
        return list(COLUMNS)
    if not isinstance(doc, dict):
        return list(COLUMNS)
    at, actor, action, deal, decision = row
    out = []
    if column_stamp(at) != doc.get("at"):
        out.append("at")
    for name, value in (("actor", actor), ("action", action), ("deal", deal)):
        if value != doc.get(name):
            out.append(name)
    if decision != doc.get("decision"):
        out.append("decision")
    return out


def checked(chunks: Iterable[Sequence[Sequence[Any]]], report: VerifyReport) -> Iterator[list[Row]]:
    """Pass (seq, body, packed) on to the verifier, reporting events whose columns
    (seq, body, packed, at, actor, action, deal, decision) disagree with their body."""
    expected = _Expected()
    for chunk in chunks:
        for row in chunk:
            body = row[1]
            head = expected.head(row[3], row[4], row[5])
            if (
                head is None
                or not body.startswith(head)
                or expected.mid(row[6], row[7]) not in body
            ):
                wrong = mismatched(body, row[3:8])
                if wrong:
                    seq = row[0] if isinstance(row[0], int) else None
                    report.fail(
                        f"event {row[0]}: its {', '.join(wrong)} column(s) differ from the "
                        "signed event (edited to hide it from searches)",
                        seq,
                    )
        yield [(row[0], row[1], row[2]) for row in chunk]
