"""Bad inputs to the C kernels raise TypeError or ValueError (never a crash), and a subject
list that does not inflate reaches the audit verifier as an altered list."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from dealvault import native
from dealvault.audit.service import EventIn, record
from dealvault.audit.store import register_log_key
from dealvault.flows import auditing
from dealvault.flows.context import AppStores
from tests.conftest import OP, start_store
from tests.native.support import HEAD, POSTS, PREFIX, C, batch, need_c

K = bytes(32)
ROW = (1, "s1", None, None, None, None)


def _seal(**over: Any) -> tuple[object, ...]:
    keys, columns, nonces = batch(2)
    args: dict[str, Any] = dict(
        keys=keys, head=HEAD, prefix=PREFIX, start=1, posts=POSTS, columns=columns, nonces=nonces
    )
    args.update(over)
    return tuple(args.values())


def _column(**over: Any) -> tuple[object, ...]:
    args: dict[str, Any] = dict(
        key=K,
        person=b"p",
        offsets=struct.pack("<3q", 0, 1, 3),
        data=b"abc",
        n=2,
        start=0,
        wide=True,
    )
    args.update(over)
    return tuple(args.values())


def _short_column() -> list[list[bytes | None]]:
    cols = batch(2)[1]
    cols[2] = cols[2][:1]
    return cols


BAD: dict[str, tuple[str, Callable[[], tuple[object, ...]], type[Exception]]] = {
    # seal_rows
    "seal: keys not bytes": ("seal_rows", lambda: _seal(keys="k" * 64), TypeError),
    "seal: keys not whole": ("seal_rows", lambda: _seal(keys=bytes(63)), ValueError),
    "seal: posts a list": ("seal_rows", lambda: _seal(posts=list(POSTS)), TypeError),
    "seal: a post not bytes": ("seal_rows", lambda: _seal(posts=("a", *POSTS[1:])), TypeError),
    "seal: columns a tuple": ("seal_rows", lambda: _seal(columns=tuple(batch(2)[1])), TypeError),
    "seal: a column missing": ("seal_rows", lambda: _seal(columns=batch(2)[1][:3]), ValueError),
    "seal: a column short": ("seal_rows", lambda: _seal(columns=_short_column()), ValueError),
    "seal: a column a tuple": (
        "seal_rows",
        lambda: _seal(columns=[tuple(c) for c in batch(2)[1]]),
        TypeError,
    ),
    "seal: a payload str": (
        "seal_rows",
        lambda: _seal(columns=[["x", "y"], *batch(2)[1][1:]]),
        TypeError,
    ),
    "seal: nonces short": ("seal_rows", lambda: _seal(nonces=bytes(12 * 8 - 1)), ValueError),
    "seal: start not int": ("seal_rows", lambda: _seal(start="1"), TypeError),
    "seal: too few arguments": ("seal_rows", lambda: _seal()[:6], TypeError),
    # open_rows
    "open: rows a tuple": ("open_rows", lambda: ((ROW,), [K], PREFIX, POSTS), TypeError),
    "open: keys a tuple": ("open_rows", lambda: ([ROW], (K,), PREFIX, POSTS), TypeError),
    "open: keys too few": ("open_rows", lambda: ([ROW, ROW], [K], PREFIX, POSTS), ValueError),
    "open: key of 31 bytes": ("open_rows", lambda: ([ROW], [bytes(31)], PREFIX, POSTS), ValueError),
    "open: key of 16 bytes": ("open_rows", lambda: ([ROW], [bytes(16)], PREFIX, POSTS), ValueError),
    "open: key a str": ("open_rows", lambda: ([ROW], ["k" * 32], PREFIX, POSTS), ValueError),
    "open: row too short": ("open_rows", lambda: ([ROW[:5]], [K], PREFIX, POSTS), ValueError),
    "open: row not a sequence": ("open_rows", lambda: ([7], [K], PREFIX, POSTS), TypeError),
    "open: record id a str": (
        "open_rows",
        lambda: ([("1", *ROW[1:])], [K], PREFIX, POSTS),
        TypeError,
    ),
    "open: envelope a str": (
        "open_rows",
        lambda: ([(1, "s", "DV", None, None, None)], [K], PREFIX, POSTS),
        TypeError,
    ),
    "open: suffixes a list": ("open_rows", lambda: ([ROW], [K], PREFIX, list(POSTS)), TypeError),
    "open: a suffix a str": ("open_rows", lambda: ([ROW], [K], PREFIX, ("a",)), TypeError),
    "open: prefix a str": ("open_rows", lambda: ([ROW], [K], "rec|7|", POSTS), TypeError),
    # blind_many
    "blind: key empty": ("blind_many", lambda: (b"", b"p", ["a"]), ValueError),
    "blind: key of 65 bytes": ("blind_many", lambda: (bytes(65), b"p", ["a"]), ValueError),
    "blind: person of 17 bytes": ("blind_many", lambda: (K, bytes(17), ["a"]), ValueError),
    "blind: values a tuple": ("blind_many", lambda: (K, b"p", ("a",)), TypeError),
    "blind: a value bytes": ("blind_many", lambda: (K, b"p", ["a", b"b"]), TypeError),
    "blind: a value int": ("blind_many", lambda: (K, b"p", [1]), TypeError),
    "blind: a lone surrogate": ("blind_many", lambda: (K, b"p", ["ok", "\ud800"]), ValueError),
    # blind_column (offsets of two values: b"a" and b"bc")
    "column: offsets a str": ("blind_column", lambda: _column(offsets="012"), TypeError),
    "column: key empty": ("blind_column", lambda: _column(key=b""), ValueError),
    "column: person of 17 bytes": ("blind_column", lambda: _column(person=bytes(17)), ValueError),
    "column: n negative": ("blind_column", lambda: _column(n=-1), ValueError),
    "column: start negative": ("blind_column", lambda: _column(start=-1), ValueError),
    "column: one value too many": ("blind_column", lambda: _column(n=3), ValueError),
    "column: start past the end": ("blind_column", lambda: _column(start=2), ValueError),
    "column: n of 2**61": ("blind_column", lambda: _column(n=2**61), ValueError),
    "column: start of 2**60": ("blind_column", lambda: _column(start=2**60), ValueError),
    "column: n beyond 64 bits": ("blind_column", lambda: _column(n=2**64), OverflowError),
    "column: a span past the data": ("blind_column", lambda: _column(data=b"ab"), ValueError),
    "column: spans out of order": (
        "blind_column",
        lambda: _column(offsets=struct.pack("<3q", 0, 3, 1)),
        ValueError,
    ),
    "column: a negative offset": (
        "blind_column",
        lambda: _column(offsets=struct.pack("<3q", -1, 1, 3)),
        ValueError,
    ),
    # leaf_hashes
    "leaves: items a tuple": ("leaf_hashes", lambda: ((b"a",),), TypeError),
    "leaves: an item str": ("leaf_hashes", lambda: ([b"a", "b"],), TypeError),
    "leaves: prefix a str": ("leaf_hashes", lambda: ([b"a"], "p"), TypeError),
    # merkle_root
    "root: no leaves": ("merkle_root", lambda: ([],), ValueError),
    "root: leaves a tuple": ("merkle_root", lambda: ((K,),), TypeError),
    "root: a leaf of 31 bytes": ("merkle_root", lambda: ([K, bytes(31)],), ValueError),
    "root: a leaf a str": ("merkle_root", lambda: (["x" * 32],), ValueError),
    # subject_digests
    "subjects: packs a tuple": ("subject_digests", lambda: ((b"a",),), TypeError),
    "subjects: a pack str": ("subject_digests", lambda: ([b"a", "b"],), TypeError),
    "subjects: does not inflate": ("subject_digests", lambda: ([b"a", b"xyz"],), ValueError),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_input_raises_and_the_kernel_still_works(case: str) -> None:
    c = need_c()
    name, make, error = BAD[case]
    with pytest.raises(error):
        getattr(c, name)(*make())
    # nothing was left half done: the same kernel works on good input right after
    assert c.leaf_hashes([b"a"]) == native.leaf_hashes_py([b"a"])
    assert c.merkle_root([K, K]) == native.merkle_root_py([K, K])


@pytest.mark.parametrize("start", [2**63, -(2**63) - 1, 2**63 - 1])
def test_record_ids_beyond_64_bits_are_refused_when_sealing(start: int) -> None:
    """2**63 - 1 with two customers: the second id would not fit in 64 bits (the Python
    twin would write it; the store could not hold it)."""
    c = need_c()
    with pytest.raises(OverflowError):
        c.seal_rows(*_seal(start=start))
    one = _seal(start=2**63 - 1, keys=bytes(32), columns=[[b"a"]] * 4, nonces=bytes(48))
    assert c.seal_rows(*one) == native.seal_rows_py(*one)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "pack",
    [
        b"x",
        b"xyz",
        zlib.compress(b"0a\n1b" * 200)[:-3],
        zlib.compress(b"0a")[:2],
        b"x\x9c" + bytes(9),
    ],
    ids=["x", "xyz", "cut-adler", "header-only", "zeros"],
)
def test_a_pack_that_does_not_inflate_raises_zlib_error(pack: bytes) -> None:
    with pytest.raises(zlib.error):
        native.subject_digests([b"0a", None, pack])
    with pytest.raises(zlib.error):
        native.subject_digests_py([b"0a", None, pack])
    if C is not None:
        with pytest.raises(ValueError, match="does not inflate"):
            C.subject_digests([pack])


def test_the_verifier_reports_a_list_that_does_not_inflate_as_altered(
    stores: AppStores,
) -> None:
    start_store(stores)
    with stores.unit_of_work() as uow:
        register_log_key(uow.records, stores.audit)
    long_list = [f"{i:024x}" for i in range(40)]  # more than 512 bytes: stored compressed
    with stores.unit_of_work() as uow:
        for subjects in (long_list, long_list[:3], long_list):
            record(
                uow.records,
                stores.audit,
                EventIn(action="notice.send", actor="steward@seller.example", subjects=subjects),
            )
    with stores.records_engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, packed FROM audit_event_subjects ORDER BY seq"))
        packed = {int(seq): bytes(p) for seq, p in rows}
    assert auditing.verify(stores, actor=OP).ok
    squeezed = [seq for seq, p in packed.items() if p[:1] == b"x"]
    target = squeezed[-1]
    bad = packed[target][:-6]  # a compressed list cut short: it no longer inflates
    with pytest.raises(zlib.error):
        native.subject_digests([bad])
    with stores.records_engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for (name,) in list(
                conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))
            ):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            conn.execute(text("ALTER TABLE audit_event_subjects DISABLE TRIGGER USER"))
        conn.execute(
            text("UPDATE audit_event_subjects SET packed = :p WHERE seq = :s"),
            {"p": bad, "s": target},
        )
    out = auditing.verify(stores, actor=OP)
    assert not out.ok and out.first_bad == target
    assert f"event {target}: its stored subject list was altered" in out.problems
