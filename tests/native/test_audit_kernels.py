"""The audit verifier's native kernels (body tails, chunk checks, the SQLite aggregate) give
what their Python twins give, on intact and on damaged events."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from hashlib import sha256
from typing import Any

import pytest

from dealvault import native
from dealvault.audit.service import EventIn, event_body, pack_subjects

C: Any = native._C
needs_c = pytest.mark.skipif(C is None, reason="the C kernels are not in use")

Row = tuple[Any, ...]
AT = "2026-12-07 21:19:43.531168+00:00"


def _row(
    seq: int, *, subjects: int = 1, session: str | None = None, actor: str = "a@x.example"
) -> Row:
    """An event row as SQLite stores it: (seq, body, packed, at, actor, action, deal, decision)."""
    ids = [f"{seq:08x}{i:024x}" for i in range(subjects)]
    ev = EventIn(
        action="disclose",
        actor=actor,
        deal="d1",
        objects={"dataset": "crm"},
        decision="allow",
        subjects=ids,
        session=session,
    )
    packed: bytes | None = None
    digest = None
    if ids:
        count, dig, packed = pack_subjects(ids)
        digest = (count, dig)
    body = event_body(seq, "2026-12-07T21:19:43.531Z", ev, digest)
    return (seq, body, packed, AT, actor, "disclose", "d1", "allow")


def _rows(start: int, n: int) -> list[Row]:
    return [
        _row(start + i, subjects=(0, 1, 3, 40)[i % 4], session="s-1" if i % 3 == 0 else None)
        for i in range(n)
    ]


# ---- body tails --------------------------------------------------------------------------

TAILS = [
    b'{"x":1,"seq":0,"subjects":null,"v":2}',
    b'{"seq":12,"session":"tok:abc","subjects":null,"v":2}',
    b'{"seq":7,"subjects":{"count":3,"digest":"sha256:' + b"ab" * 32 + b'"},"v":1}',
    b'"seq":01,"subjects":null,"v":2}',  # leading zero: no match
    b'"seq":,"subjects":null,"v":2}',
    b'"seq":5,"subjects":null,"v":}',
    b'"seq":5,"subjects":null,"v":2',
    b'"seq":5,"session":"' + b"s" * 80 + b'","subjects":null,"v":2}',
    b'"seq":5,"session":"' + b"s" * 81 + b'","subjects":null,"v":2}',
    b'"seq":5,"session":"a\\"b","subjects":null,"v":2}',
    b'"seq":5,"session":"a\nb","subjects":null,"v":2}',
    b'"seq":5,"subjects":{"count":3,"digest":"sha256:' + b"AB" * 32 + b'"},"v":1}',
    b'"seq":5,"subjects":{"count":3,"digest":"sha256:' + b"ab" * 31 + b'"},"v":1}',
    b'"seq":5,"subjects":{"count":,"digest":"sha256:' + b"ab" * 32 + b'"},"v":1}',
    b'"seq":99999999999999999999999,"subjects":null,"v":2}',
    b'"seq":1,"seq":2,"subjects":null,"v":2}',  # the second "seq" matches
    b'"seq":3,"subjects":null,"v":2}"seq":4,"subjects":null,"v":2}',  # the first one
    b"x" * 400 + b'"seq":3,"subjects":null,"v":2}',
    b'"seq":3,"subjects":null,"v":2}' + b"x" * 300,  # starts before the search window
    b'"seq":3,"subjects":null,"v":2}' + b"x" * 289,  # just inside it
    b"",
    b'"seq":',
    b'"seq":0',
]


def _mutations(body: bytes, rng: random.Random, n: int) -> list[bytes]:
    """Damaged copies of a body: bytes of its tail changed, dropped or doubled."""
    out = []
    alphabet = b'"0123456789abcdefABx,:{}\\ \n'
    for _ in range(n):
        b = bytearray(body)
        for _ in range(rng.randint(1, 3)):
            if not b:
                break
            i = rng.randrange(max(0, len(b) - 330), len(b))
            op = rng.randrange(3)
            if op == 0:
                b[i] = rng.choice(alphabet)
            elif op == 1:
                del b[i]
            else:
                b.insert(i, b[i])
        out.append(bytes(b))
    return out


def _regex(bodies: list[bytes]) -> list[native.Tail | None]:
    got: list[native.Tail | None] = []
    for b in bodies:
        m = native.TAIL.search(b, len(b) - native.TAIL_BYTES)
        got.append(None if m is None else (int(m[1]), m[2]))
    return got


def _tail_cases() -> list[bytes]:
    rng = random.Random(21)
    bodies = list(TAILS) + [r[1] for r in _rows(0, 12)]
    return bodies + [m for b in list(bodies) for m in _mutations(b, rng, 40)]


def test_the_python_tails_are_the_regex() -> None:
    cases = _tail_cases()
    assert native.body_tails_py(cases) == _regex(cases)


@needs_c
def test_the_native_tails_accept_and_reject_what_the_regex_does() -> None:
    cases = _tail_cases()
    want = _regex(cases)
    assert C.body_tails(cases) == want
    assert sum(w is None for w in want) > 100 and sum(w is not None for w in want) > 100
    assert want[TAILS.index(b'"seq":1,"seq":2,"subjects":null,"v":2}')] == (2, None)
    assert want[TAILS.index(b'"seq":99999999999999999999999,"subjects":null,"v":2}')] == (
        99999999999999999999999,
        None,
    )


@needs_c
def test_native_tails_refuse_what_is_not_bytes() -> None:
    with pytest.raises(TypeError):
        C.body_tails(["text"])


# ---- chunk checks ------------------------------------------------------------------------


def _leaves(rows: Sequence[Row]) -> bytes:
    return b"".join(sha256(b"\x00" + r[1]).digest() for r in rows)


def _damaged(rows: list[Row]) -> list[tuple[str, int, Row]]:
    """One column of one row changed: (what, index, the new row)."""
    r = rows[5]
    seq, body, packed, at, actor, action, deal, decision = r
    other = rows[6][2] if rows[6][2] is not None else rows[7][2]
    cases: list[tuple[str, Row]] = [
        ("seq", (seq + 1, *r[1:])),
        ("seq as text", (str(seq), *r[1:])),
        ("body as text", (seq, body.decode(), *r[2:])),
        ("body seq", (seq, body.replace(b'"seq":%d,' % seq, b'"seq":%d,' % (seq + 1)), *r[2:])),
        ("no tail", (seq, body[:-3], *r[2:])),
        ("subjects deleted", (seq, body, None, *r[3:])),
        ("subjects swapped", (seq, body, other, *r[3:])),
        ("subjects empty", (seq, body, b"", *r[3:])),
        ("subjects not zlib", (seq, body, b"x\x9c-not-zlib", *r[3:])),
        ("at", (seq, body, packed, AT.replace("21:19", "21:18"), *r[4:])),
        ("at form", (seq, body, packed, "2026-12-07T21:19:43.531Z", *r[4:])),
        ("at not text", (seq, body, packed, 5, *r[4:])),
        ("at not ascii", (seq, body, packed, AT[:-7] + "\u00e9+00:00", *r[4:])),
        ("actor", (seq, body, packed, at, "b@x.example", *r[5:])),
        ("actor null", (seq, body, packed, at, None, *r[5:])),
        ("actor escaped", (seq, body, packed, at, 'a"@x.example', *r[5:])),
        ("action", (seq, body, packed, at, actor, "export", deal, decision)),
        ("deal", (seq, body, packed, at, actor, action, "d2", decision)),
        ("deal null", (seq, body, packed, at, actor, action, None, decision)),
        ("decision", (seq, body, packed, at, actor, action, deal, "deny")),
        ("decision number", (seq, body, packed, at, actor, action, deal, 1)),
        ("short row", r[:7]),
    ]
    return [(what, 5, row) for what, row in cases]


def test_the_python_chunk_check_passes_an_intact_chunk() -> None:
    rows = _rows(40, 30)
    assert native.audit_chunk_py(40, rows) == _leaves(rows)
    assert native.audit_chunk_py(41, rows) is None
    assert native.audit_chunk_py(0, []) == b""


@pytest.mark.parametrize("what,i,row", _damaged(_rows(40, 30)), ids=lambda x: str(x)[:20])
def test_a_damaged_row_sends_the_chunk_to_the_exact_path(what: str, i: int, row: Row) -> None:
    rows = _rows(40, 30)
    rows[i] = row
    if what == "short row":
        with pytest.raises(TypeError):
            native.audit_chunk_py(40, rows)
        if C is not None:
            with pytest.raises(TypeError):
                C.audit_chunk(40, rows)
        return
    assert native.audit_chunk_py(40, rows) is None
    if C is not None:
        assert C.audit_chunk(40, rows) is None


@needs_c
def test_the_native_chunk_check_is_the_python_one() -> None:
    rng = random.Random(5)
    rows = _rows(0, 50)
    assert C.audit_chunk(0, rows) == native.audit_chunk_py(0, rows) == _leaves(rows)
    for _ in range(300):  # random damage to bodies, subject lists and columns
        damaged = list(rows)
        i = rng.randrange(len(rows))
        r = list(damaged[i])
        k = rng.choice([1, 1, 2, 3, 4, 6])
        if k == 1:
            r[1] = rng.choice(_mutations(r[1], rng, 1))
        elif k == 2:
            r[2] = r[2] and bytes(b ^ (rng.random() < 0.1) for b in r[2])
        else:
            s = r[k]
            j = rng.randrange(len(s))
            r[k] = s[:j] + rng.choice(["x", "", "\n", '"', "\u00e9"]) + s[j + 1 :]
        damaged[i] = tuple(r)
        assert C.audit_chunk(0, damaged) == native.audit_chunk_py(0, damaged)


def test_a_subject_list_with_bytes_after_its_stream_is_judged_alike() -> None:
    rows = _rows(0, 8)
    r = rows[3]  # 40 subjects: compressed
    assert r[2] is not None and r[2][:1] == b"x"
    rows[3] = (*r[:2], r[2] + b"tail", *r[3:])
    want = native.audit_chunk_py(0, rows)
    if C is not None:
        assert C.audit_chunk(0, rows) == want


# ---- inside SQLite -----------------------------------------------------------------------


def _table(rows: Sequence[Row]) -> sqlite3.Connection:
    assert native.sqlite_register()
    con = sqlite3.connect(":memory:")
    con.execute(
        "CREATE TABLE audit_events (seq INTEGER PRIMARY KEY, at, actor, action, deal, "
        "decision, body)"
    )
    con.execute("CREATE TABLE audit_event_subjects (seq INTEGER PRIMARY KEY, packed)")
    for r in rows:
        con.execute("INSERT INTO audit_events VALUES (?,?,?,?,?,?,?)", (r[0], *r[3:], r[1]))
        if r[2] is not None:
            con.execute("INSERT INTO audit_event_subjects VALUES (?,?)", (r[0], r[2]))
    return con


def _aggregate(con: sqlite3.Connection, start: int, end: int) -> bytes | None:
    got: bytes | None = con.execute(
        "SELECT dv_audit_leaves(?, e.seq, e.body, s.packed, e.at, e.actor, e.action, e.deal, "
        "e.decision) FROM audit_events e LEFT JOIN audit_event_subjects s ON s.seq = e.seq "
        "WHERE e.seq >= ? AND e.seq < ?",
        (start, start, end),
    ).fetchone()[0]
    return got


@needs_c
def test_the_sqlite_aggregate_is_the_chunk_check() -> None:
    rows = _rows(0, 60)
    con = _table(rows)
    assert _aggregate(con, 0, 60) == _leaves(rows)
    assert _aggregate(con, 20, 40) == _leaves(rows[20:40])
    assert _aggregate(con, 50, 90) == _leaves(rows[50:])  # the end of the log
    assert _aggregate(con, 60, 90) == b""
    assert _aggregate(con, 1, 30) is not None  # a chunk may start anywhere
    for what, i, row in _damaged(rows):
        if what in ("short row", "seq", "seq as text"):  # not rows SQLite can hold
            continue
        changed = list(rows)
        changed[i] = row
        con = _table(changed)
        assert _aggregate(con, 0, 60) is None, what
        assert native.audit_chunk_py(0, changed) is None
    con = _table(rows[:10] + rows[11:])  # a gap
    assert _aggregate(con, 0, 60) is None


def test_merkle_root_takes_packed_leaves() -> None:
    leaves = [sha256(b"%d" % i).digest() for i in range(13)]
    want = native.merkle_root_py(leaves)
    assert native.merkle_root_py(b"".join(leaves)) == want
    assert native.merkle_root(b"".join(leaves)) == want
    with pytest.raises(ValueError):
        native.merkle_root(b"\x00" * 33)
    with pytest.raises(ValueError):
        native.merkle_root(b"")
    with pytest.raises(ValueError):
        native.merkle_root_py(b"\x00" * 33)
