"""CSV sniffing: text encoding, delimiter, header, and the slow exact locator of a bad row."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer

from dealvault.errors import InputError

SAMPLE_BYTES = 1 << 20
DELIMITERS = (",", ";", "\t", "|")
UTF8_BOM = b"\xef\xbb\xbf"
# Bytes that never occur inside a multi-byte character of UTF-8, GBK or GB18030
# (GB18030 uses 0x30-0x39 as 2nd/4th byte of 4-byte sequences), so a cut after one is safe.
SAFE_CUT = b"\n\r,;\t| \"'"
_ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf_8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf_8_sig": "utf-8-sig",
    "utf8-sig": "utf-8-sig",
    "gbk": "gbk",
    "cp936": "gbk",
    "gb2312": "gbk",
    "gb18030": "gb18030",
}


@dataclass(frozen=True)
class Encoding:
    """An encoding: ``label`` is reported, ``codec`` decodes, ``bom`` bytes are skipped."""

    label: str
    codec: str
    bom: int = 0


def safe_cut(data: bytes) -> int:
    """Length of the longest prefix of ``data`` that ends on a character boundary (0: none)."""
    nl = data.rfind(b"\n")
    if nl >= 0:
        return nl + 1
    return max(data.rfind(bytes([c])) for c in SAFE_CUT) + 1


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def resolve_encoding(*, name: str, file: str) -> Encoding:
    """Validate a user-given encoding name."""
    key = name.strip().lower()
    canonical = _ALIASES.get(key)
    if canonical is None:
        try:
            canonical = codecs.lookup(key).name
        except LookupError:
            raise InputError("unknown text encoding given", file=file) from None
    if canonical == "gbk":
        return Encoding(label="gbk", codec="gbk")
    if canonical == "utf-8-sig":
        return Encoding(label="utf-8-sig", codec="utf-8", bom=3)
    if not _ascii_compatible(canonical):
        raise InputError(
            "text encoding is not ASCII-compatible (UTF-16/32); re-save the file as UTF-8",
            file=file,
        )
    return Encoding(label=canonical, codec=canonical)


def _ascii_compatible(codec: str) -> bool:
    try:
        return "a,\n".encode(codec) == b"a,\n" and b"\n".decode(codec) == "\n"
    except (UnicodeError, LookupError):
        return False


def detect_encoding(*, sample: bytes, complete: bool, file: str) -> Encoding:
    """Pick UTF-8 (with or without BOM), GBK or GB18030 by strict decoding of the head sample."""
    if sample.startswith(UTF8_BOM):
        return Encoding(label="utf-8-sig", codec="utf-8", bom=3)
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("UTF-16 text is not supported; re-save the file as UTF-8", file=file)
    head = sample if complete else sample[: safe_cut(sample)]
    if _decodes(head, "utf-8"):
        return Encoding(label="utf-8", codec="utf-8")
    if _decodes(head, "gbk"):
        return Encoding(label="gbk", codec="gbk")
    if _decodes(head, "gb18030"):
        return Encoding(label="gb18030", codec="gb18030")
    # A few stray bad bytes must not hide the encoding: the reader then names their row.
    bad = {c: head.decode(c, errors="replace").count("\ufffd") for c in ("utf-8", "gbk", "gb18030")}
    codec = min(bad, key=lambda c: bad[c])
    if bad[codec] <= max(2, len(head) // 1000):
        return Encoding(label=codec, codec=codec)
    best = charset_normalizer.from_bytes(head).best()
    if best is not None and _ascii_compatible(best.encoding):
        return Encoding(label=best.encoding, codec=best.encoding)
    raise InputError(
        "could not detect the text encoding (not UTF-8, GBK or GB18030); give it explicitly",
        file=file,
    )


def detect_delimiter(*, text: str) -> str:
    """Choose among , ; tab | the delimiter that splits the first lines most consistently."""
    lines = text.splitlines(keepends=True)[:50]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # a truncated last line would skew the counts
    best, best_score = ",", (-1, -1, -1)
    for d in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO("".join(lines)), delimiter=d) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        consistent = sum(1 for r in rows if len(r) == width)
        score = (1 if width > 1 else 0, consistent, width)
        if score > best_score:
            best, best_score = d, score
    return best


def read_header(*, text: str, delimiter: str, complete: bool, file: str) -> list[str]:
    """The first non-blank record of the decoded sample (must end inside the sample)."""
    buf = io.StringIO(text)
    reader = csv.reader(buf, delimiter=delimiter)
    try:
        for rec in reader:
            if rec:
                if not complete and not text.endswith(("\n", "\r")):
                    raise InputError("header line is too long or has an unclosed quote", file=file)
                return rec
    except csv.Error:
        raise InputError("malformed CSV header", file=file, row=None) from None
    raise InputError("file is empty", file=file)


class _BadBytes(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


@dataclass(frozen=True)
class Problem:
    """Where a CSV file first goes wrong: reason, 1-based data row, physical line."""

    reason: str
    row: int
    line: int


def locate_problem(*, path: Path, encoding: Encoding, delimiter: str, width: int) -> Problem | None:
    """Re-scan the file with the csv module to find the first bad bytes or ragged row exactly.

    Slow (pure Python), only run after the fast reader failed.
    """
    codec = "gb18030" if encoding.codec == "gbk" else encoding.codec
    state = {"line": 0}

    def lines() -> Iterator[str]:
        with path.open("rb") as f:
            f.seek(encoding.bom)
            for raw in f:
                state["line"] += 1
                try:
                    yield raw.decode(codec)
                except UnicodeDecodeError:
                    raise _BadBytes(state["line"]) from None

    reader = csv.reader(lines(), delimiter=delimiter)
    row = -1  # the header is record 0
    start = 1
    try:
        for rec in reader:
            if rec:
                row += 1
                if row > 0 and len(rec) != width:
                    return Problem(f"row has {len(rec)} fields, expected {width}", row, start)
            start = reader.line_num + 1
    except _BadBytes as e:
        return Problem(f"bytes that are not valid {encoding.label} text", max(row + 1, 1), e.line)
    except csv.Error:
        return Problem("malformed CSV (unterminated quote?)", max(row + 1, 1), start)
    return None
