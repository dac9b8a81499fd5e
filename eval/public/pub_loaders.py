"""Read each public corpus into one form: texts with gold spans (start, end, kind) per text.

Kinds are ours, not the corpus's: ``person`` (our cn_name), ``address`` (cn_address), and for
the English PII set ``phone``, ``email``, ``payment_card``, ``iban``, ``ip``, ``us_ssn``,
``driver_licence``. Each corpus states the kinds it labels (``Corpus.kinds``): only predictions
of those kinds are scored on it. ``ignore`` holds labelled regions that are neither a hit nor a
miss (a CLUENER "address" that is only a city, an address-parsing line without a street
element): a prediction of that kind overlapping one is not counted at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import polars as pl


@dataclass(frozen=True, slots=True)
class Gold:
    """``text[start:end]`` is labelled ``kind`` (Python character offsets, end exclusive)."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class Doc:
    """One text with its gold spans and its ignored regions."""

    text: str
    gold: tuple[Gold, ...] = ()
    ignore: tuple[Gold, ...] = ()


@dataclass(frozen=True, slots=True)
class Corpus:
    """A named split of a corpus, the kinds it labels, and its documents."""

    name: str
    split: str
    kinds: frozenset[str]
    docs: list[Doc] = field(default_factory=list)


Tagged = list[tuple[str, str]]  # (token, tag) pairs of one sentence

# A CLUENER "address" counts as an address when it reaches street level (a road, a number, a
# village, a building); countries, provinces and cities alone are places, not addresses.
STREET_LEVEL: Final = re.compile(r"路|街|巷|弄|胡同|大道|号|村|镇|乡|栋|幢|单元|室|大厦|小区|公寓")

# address-parsing labels that are parts of an address (the others: redundant, otherinfo,
# assist, person, country are trimmed from the ends of the gold span)
STREET_PARTS: Final = frozenset({
    "community", "road", "subroad", "roadno", "subroadno", "poi", "subpoi", "houseno",
    "cellno", "floorno", "roomno",
})  # fmt: skip
ADDRESS_PARTS: Final = STREET_PARTS | {"prov", "city", "district", "devzone", "town"}


def read_tagged(lines: Iterable[str], *, strip_last: bool = False) -> Iterator[Tagged]:
    """Sentences of a one-token-per-line file (token, whitespace, tag; blank line between).

    ``strip_last`` drops the last character of each token (Weibo's 2nd release appends the
    character's position in its word: ``科0``).
    """
    sentence: Tagged = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        parts = line.split()
        if not parts:
            if sentence:
                yield sentence
                sentence = []
            continue
        if len(parts) == 1:  # a tag alone: the token was a space
            token, tag = " ", parts[0]
        else:
            token, tag = parts[0], parts[-1]
        if strip_last and len(token) > 1:
            token = token[:-1]
        sentence.append((token, tag))
    if sentence:
        yield sentence


def tag_spans(sentence: Tagged) -> tuple[str, list[tuple[int, int, str]]]:
    """The sentence's text and its (start, end, label) spans from BIO, BIOES or BMES tags."""
    text_parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    current: list[int | str] | None = None  # [start, end, label]
    for token, tag in sentence:
        prefix, _, label = tag.partition("-")
        start, end = pos, pos + len(token)
        text_parts.append(token)
        pos = end
        if prefix in {"B", "S"} or (prefix in {"I", "M", "E"} and current is None):
            if current is not None:
                spans.append((int(current[0]), int(current[1]), str(current[2])))
            current = [start, end, label]
        elif prefix in {"I", "M", "E"} and current is not None and current[2] == label:
            current[1] = end
        elif prefix in {"I", "M", "E"}:  # a new label without B-: starts a span
            spans.append((int(current[0]), int(current[1]), str(current[2])))  # type: ignore[index]
            current = [start, end, label]
        else:  # O or anything unknown ends the span
            if current is not None:
                spans.append((int(current[0]), int(current[1]), str(current[2])))
            current = None
        if prefix in {"E", "S"} and current is not None:
            spans.append((int(current[0]), int(current[1]), str(current[2])))
            current = None
    if current is not None:
        spans.append((int(current[0]), int(current[1]), str(current[2])))
    return "".join(text_parts), spans


def ner_docs(sentences: Iterable[Tagged], *, person: frozenset[str]) -> list[Doc]:
    """Docs of a Chinese NER corpus where the labels in ``person`` mark person names."""
    docs: list[Doc] = []
    for sentence in sentences:
        text, spans = tag_spans(sentence)
        gold = tuple(Gold(s, e, "person") for s, e, label in spans if label in person)
        docs.append(Doc(text=text, gold=gold))
    return docs


def address_docs(sentences: Iterable[Tagged]) -> list[Doc]:
    """Address-parsing lines: the whole address (ends trimmed) is one ``address`` span when it
    has a street-level part and at least two parts; otherwise the line is ignored."""
    docs: list[Doc] = []
    for sentence in sentences:
        text, spans = tag_spans(sentence)
        parts = [(s, e, label) for s, e, label in spans if label in ADDRESS_PARTS]
        if not parts:
            docs.append(Doc(text=text))
            continue
        whole = Gold(parts[0][0], max(e for _, e, _ in parts), "address")
        street = any(label in STREET_PARTS for _, _, label in parts)
        if street and len(parts) >= 2:
            docs.append(Doc(text=text, gold=(whole,)))
        else:
            docs.append(Doc(text=text, ignore=(whole,)))
    return docs


def cluener_docs(lines: Iterable[str]) -> list[Doc]:
    """CLUENER json lines: ``name`` is a person; ``address`` an address when it reaches street
    level, otherwise ignored. Offsets in the file are inclusive."""
    docs: list[Doc] = []
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        gold: list[Gold] = []
        ignore: list[Gold] = []
        for label, mentions in (row.get("label") or {}).items():
            for mention, offsets in mentions.items():
                for start, last in offsets:
                    if label == "name":
                        gold.append(Gold(start, last + 1, "person"))
                    elif label == "address":
                        span = Gold(start, last + 1, "address")
                        (gold if STREET_LEVEL.search(mention) else ignore).append(span)
        docs.append(Doc(text=row["text"], gold=tuple(gold), ignore=tuple(ignore)))
    return docs


PRESIDIO_KINDS: Final[dict[str, str]] = {
    "PERSON": "person",
    "STREET_ADDRESS": "address",
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "CREDIT_CARD": "payment_card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip",
    "US_SSN": "us_ssn",
    "US_DRIVER_LICENSE": "driver_licence",
}


def presidio_docs(data: str) -> list[Doc]:
    """Presidio-research's generated sentences (a JSON list of full_text + spans)."""
    docs: list[Doc] = []
    for row in json.loads(data):
        gold = tuple(
            Gold(s["start_position"], s["end_position"], PRESIDIO_KINDS[s["entity_type"]])
            for s in row["spans"]
            if s["entity_type"] in PRESIDIO_KINDS
        )
        docs.append(Doc(text=row["full_text"], gold=gold))
    return docs


def _lines(path: Path) -> list[str]:
    return path.read_text("utf-8-sig").splitlines()


_PER = frozenset({"PER"})
_PERSON = frozenset({"person"})
# corpus -> (kinds it labels, reader of one split's file)
_READERS: Final[dict[str, tuple[frozenset[str], Callable[[Path], list[Doc]]]]] = {
    "msra": (_PERSON, lambda p: ner_docs(read_tagged(_lines(p)), person=_PER)),
    "peoples_daily": (_PERSON, lambda p: ner_docs(read_tagged(_lines(p)), person=_PER)),
    "weibo": (
        _PERSON,
        lambda p: ner_docs(read_tagged(_lines(p), strip_last=True), person=frozenset({"PER.NAM"})),
    ),
    "resume": (_PERSON, lambda p: ner_docs(read_tagged(_lines(p)), person=frozenset({"NAME"}))),
    "cluener": (frozenset({"person", "address"}), lambda p: cluener_docs(_lines(p))),
    "cn_address_parsing": (frozenset({"address"}), lambda p: address_docs(read_tagged(_lines(p)))),
    "presidio_synth": (
        frozenset(PRESIDIO_KINDS.values()),
        lambda p: presidio_docs(p.read_text("utf-8")),
    ),
}

TEXT_CORPORA: Final[tuple[str, ...]] = tuple(_READERS)


def load(*, data: Path, corpus: str, split: str, stem: str) -> Corpus | None:
    """The ``split`` of ``corpus`` from ``data/<corpus>/<stem>``, or None when it is absent."""
    path = data / corpus / stem
    if not path.is_file():
        return None
    kinds, reader = _READERS[corpus]
    return Corpus(name=corpus, split=split, kinds=kinds, docs=reader(path))


# The generated table of presidio-research: column header -> our kind (None: not personal
# information we type; such columns count against any kind predicted for them). CCNumber and
# NationalID are left out: a spreadsheet rounded their numbers (5.54563E+15).
FAKENAME_COLUMNS: Final[dict[str, str | None]] = {
    "Number": None, "Gender": "gender", "NameSet": None, "Title": None,
    "GivenName": "person", "MiddleInitial": None, "Surname": "person",
    "StreetAddress": "address", "City": None, "State": None, "StateFull": None,
    "ZipCode": None, "Country": None, "CountryFull": None, "EmailAddress": "email",
    "Username": None, "Password": None, "TelephoneNumber": "phone",
    "TelephoneCountryCode": None, "MothersMaiden": "person", "Birthday": "date_of_birth",
    "Age": "age", "CCType": None, "CVV2": None, "CCExpires": None,
    "Occupation": None, "Company": None, "Domain": None,
}  # fmt: skip


def load_table(path: Path) -> pl.DataFrame | None:
    """The generated table as an import would read it (types inferred), or None if absent."""
    if not path.is_file():
        return None
    return pl.read_csv(path, infer_schema_length=10_000)
