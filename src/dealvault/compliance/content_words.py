"""The word list of the content review: loaded, validated (errors name the file and line),
versioned and hashed, so each review records which list it used."""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from dealvault.errors import InputError
from dealvault.files import read_text_file

SHIPPED: Final = "content_words.toml"
_ID: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
_VERSION: Final = re.compile(r"[A-Za-z0-9._-]{1,40}")
_LINE: Final = re.compile(r"\(at (?:line (\d+), column \d+|end of document)\)")


@dataclass(frozen=True)
class WordList:
    """Categories of words (each folded: NFKC, lower case), the list's version and the
    SHA-256 of its file."""

    version: str
    sha256: str
    titles: dict[str, str]
    words: dict[str, tuple[str, ...]]


def fold(text: str) -> str:
    """The form words and notes are compared in: NFKC (full-width letters, digits), lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def _line_of(text: str, needle: str) -> int | None:
    """The first line of ``text`` holding ``needle`` (1-based), if any."""
    for n, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return n
    return None


def _bad(where: str, message: str, line: int | None) -> InputError:
    return InputError(f"{message}" if line is None else f"line {line}: {message}", file=where)


def parse_words(text: str, *, where: str) -> WordList:
    """The word list in ``text`` (TOML, see the shipped file), validated; InputError naming
    ``where`` and the line otherwise."""
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _LINE.search(str(exc))
        reason = _LINE.sub("", str(exc)).strip()
        line = (int(m.group(1)) if m.group(1) else max(1, len(text.splitlines()))) if m else None
        raise _bad(where, f"not valid TOML ({reason})", line) from None
    unknown = sorted(set(doc) - {"version", "categories"})
    if unknown:
        raise _bad(where, f"unknown key {unknown[0]!r}", _line_of(text, unknown[0]))
    version = doc.get("version")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise _bad(where, "version must be 1-40 letters, digits, '.', '-' or '_'",
                   _line_of(text, "version"))  # fmt: skip
    cats = doc.get("categories")
    if not isinstance(cats, dict) or not cats:
        raise _bad(where, "no [categories.<id>] table: the list has no words", None)
    titles: dict[str, str] = {}
    words: dict[str, tuple[str, ...]] = {}
    for cid, body in cats.items():
        line = _line_of(text, f"categories.{cid}")
        if not _ID.fullmatch(cid):
            raise _bad(where, f"category id {cid!r} must be lower-case letters, digits, '_'", line)
        if not isinstance(body, dict) or set(body) - {"title", "words"}:
            raise _bad(where, f"[categories.{cid}] takes a title and words only", line)
        title, listed = body.get("title", cid), body.get("words")
        if not isinstance(title, str) or not title.strip():
            raise _bad(where, f"[categories.{cid}] title must be text", line)
        if not isinstance(listed, list) or not listed:
            raise _bad(where, f"[categories.{cid}] words must be a list of at least one word", line)
        folded = []
        for w in listed:
            if not isinstance(w, str) or not w.strip():
                raise _bad(where, f"[categories.{cid}] has a word that is empty or not text", line)
            folded.append(fold(w.strip()))
        titles[cid], words[cid] = title.strip(), tuple(dict.fromkeys(folded))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return WordList(version=version, sha256=digest, titles=titles, words=words)


def shipped_words() -> WordList:
    """The list shipped with dealvault (a starting list for counsel to adapt)."""
    text = resources.files("dealvault.compliance").joinpath(SHIPPED).read_text("utf-8")
    return parse_words(text, where=SHIPPED)


def load_words(path: Path | None) -> WordList:
    """The list in ``path``, or the shipped one."""
    if path is None:
        return shipped_words()
    return parse_words(read_text_file(path), where=path.name)
