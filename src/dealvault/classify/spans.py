"""Spans of personal information in free text: type, character offsets, confidence."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from dealvault.errors import Invalid

# PII types the free-text scanner reports (the column detectors may know more).
CN_RIC: Final = "cn_ric"  # resident identity card number, 18 digits (or legacy 15)
# "possible ID, invalid": 18 digits with a known region and a real birth date, wrong check digit
CN_RIC_INVALID: Final = "cn_ric_invalid"
CN_MOBILE: Final = "cn_mobile"
CN_LANDLINE: Final = "cn_landline"
INTL_PHONE: Final = "intl_phone"
EMAIL: Final = "email"
BANK_CARD: Final = "bank_card"
USCC: Final = "uscc"  # unified social credit code (GB 32100)
CN_PASSPORT: Final = "cn_passport"
CN_TRAVEL_PERMIT: Final = "cn_travel_permit"  # HK / Macau / Taiwan travel permits
IBAN: Final = "iban"
IPV4: Final = "ipv4"
IPV6: Final = "ipv6"
LICENSE_PLATE: Final = "license_plate"
CN_NAME: Final = "cn_name"
CN_ADDRESS: Final = "cn_address"

SPAN_TYPES: Final[tuple[str, ...]] = (
    CN_RIC,
    CN_RIC_INVALID,
    CN_MOBILE,
    CN_LANDLINE,
    INTL_PHONE,
    EMAIL,
    BANK_CARD,
    USCC,
    CN_PASSPORT,
    CN_TRAVEL_PERMIT,
    IBAN,
    IPV4,
    IPV6,
    LICENSE_PLATE,
    CN_NAME,
    CN_ADDRESS,
)

# Columns of the frame :func:`dealvault.classify.freetext.scan_series` returns.
SPAN_SCHEMA: Final[dict[str, pl.DataType]] = {
    "row": pl.Int64(),
    "start": pl.Int64(),
    "end": pl.Int64(),
    "pii_type": pl.String(),
    "confidence": pl.Float64(),
}


@dataclass(frozen=True, slots=True)
class Span:
    """One finding: ``text[start:end]`` (Python character offsets) is a ``pii_type`` value.

    A span never carries the value itself, so it can be logged and stored freely.
    """

    start: int
    end: int
    pii_type: str
    confidence: float

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise Invalid(f"span offsets out of order: {self.start}..{self.end}")
        if not 0.0 <= self.confidence <= 1.0:
            raise Invalid(f"span confidence {self.confidence} outside 0..1")

    @property
    def length(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping subset, sorted by start: longer spans win, then more confident ones."""
    ranked = sorted(spans, key=lambda s: (-s.length, -s.confidence, s.start, s.pii_type))
    kept: list[Span] = []
    for span in ranked:
        if not any(span.overlaps(k) for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def spans_from_frame(frame: pl.DataFrame, *, rows: int) -> list[list[Span]]:
    """Split a span frame (``SPAN_SCHEMA``) into one list of spans per row ``0..rows-1``."""
    out: list[list[Span]] = [[] for _ in range(rows)]
    for row, start, end, pii_type, confidence in frame.select(list(SPAN_SCHEMA)).iter_rows():
        out[row].append(Span(start, end, pii_type, confidence))
    return out


def spans_to_frame(spans: Sequence[Span], *, row: int = 0) -> pl.DataFrame:
    """Frame (``SPAN_SCHEMA``) of ``spans`` found in row ``row``."""
    return pl.DataFrame(
        {
            "row": [row] * len(spans),
            "start": [s.start for s in spans],
            "end": [s.end for s in spans],
            "pii_type": [s.pii_type for s in spans],
            "confidence": [s.confidence for s in spans],
        },
        schema=SPAN_SCHEMA,
    )
