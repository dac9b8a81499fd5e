"""Span-level precision and recall of our scanners against gold spans, exact and by overlap.

Exact: a prediction counts when its kind, start and end equal a gold span's. Overlap: a
prediction and a gold span of the same kind match when they share at least half of the longer
of the two (one to one, in order). Predictions of kinds the corpus does not label are dropped,
and so are predictions overlapping an ignored region of their kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl
from pub_loaders import Corpus, Doc, Gold

from dealvault.classify import spans as sp
from dealvault.classify.freetext import scan_series

# our free-text span type -> the kind it is scored as
SPAN_KIND: Final[dict[str, str]] = {
    sp.CN_NAME: "person",
    sp.CN_ADDRESS: "address",
    sp.CN_MOBILE: "phone",
    sp.CN_LANDLINE: "phone",
    sp.INTL_PHONE: "phone",
    sp.EMAIL: "email",
    sp.BANK_CARD: "payment_card",
    sp.IBAN: "iban",
    sp.IPV4: "ip",
    sp.IPV6: "ip",
    sp.CN_RIC: "national_id",
}

# our column type -> the kind it is scored as (types a later version may add are listed so
# that the table scores them without a change here)
COLUMN_KIND: Final[dict[str, str]] = {
    "cn_name": "person", "person_name": "person", "name": "person",
    "cn_address": "address", "street_address": "address", "address": "address",
    "cn_mobile": "phone", "cn_landline": "phone", "intl_phone": "phone", "phone": "phone",
    "email": "email", "bank_card": "payment_card", "credit_card": "payment_card",
    "date_of_birth": "date_of_birth", "age": "age", "gender": "gender",
    "cn_ric": "national_id", "us_ssn": "national_id", "ssn": "national_id",
}  # fmt: skip

# column types that are not personal information: scored as "no kind"
NOT_PERSONAL: Final = frozenset({
    "amount", "date", "datetime", "product", "quantity", "order_id", "customer_id",
    "frequency", "label", "free_text",
})  # fmt: skip

MIN_OVERLAP: Final = 0.5


def column_kind(pii_type: str | None) -> str | None:
    """The kind a column type is scored as (None for no type or a non-personal one)."""
    if pii_type is None or pii_type in NOT_PERSONAL:
        return None
    return COLUMN_KIND.get(pii_type, pii_type)


@dataclass(slots=True)
class Counts:
    """Tallies for one kind: gold spans, predictions, exact and overlap matches."""

    gold: int = 0
    predicted: int = 0
    exact: int = 0
    overlap: int = 0

    def figures(self) -> dict[str, float | int | None]:
        """Support and both precision/recall pairs (None when undefined)."""

        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "support": self.gold,
            "predicted": self.predicted,
            "precision_exact": ratio(self.exact, self.predicted),
            "recall_exact": ratio(self.exact, self.gold),
            "precision_overlap": ratio(self.overlap, self.predicted),
            "recall_overlap": ratio(self.overlap, self.gold),
        }


def predict(*, corpus: Corpus) -> list[list[Gold]]:
    """Run the free-text scanner on every text; the kept predictions per document."""
    texts = pl.Series("text", [d.text for d in corpus.docs], dtype=pl.String)
    found = scan_series(texts=texts)
    out: list[list[Gold]] = [[] for _ in corpus.docs]
    for row, start, end, pii_type in found.select("row", "start", "end", "pii_type").iter_rows():
        kind = SPAN_KIND.get(pii_type)
        if kind is None or kind not in corpus.kinds:
            continue
        doc = corpus.docs[row]
        if any(i.kind == kind and i.start < end and start < i.end for i in doc.ignore):
            continue
        out[row].append(Gold(start, end, kind))
    return out


def _overlaps(a: Gold, b: Gold) -> bool:
    shared = min(a.end, b.end) - max(a.start, b.start)
    longer = max(a.end - a.start, b.end - b.start)
    return a.kind == b.kind and shared > 0 and shared >= MIN_OVERLAP * longer


def score(
    *, docs: Sequence[Doc], predicted: Sequence[Sequence[Gold]], kinds: frozenset[str]
) -> dict[str, Counts]:
    """Counts per kind over all documents."""
    counts = {k: Counts() for k in sorted(kinds)}
    for doc, preds in zip(docs, predicted, strict=True):
        gold = [g for g in doc.gold if g.kind in kinds]
        for g in gold:
            counts[g.kind].gold += 1
        for p in preds:
            counts[p.kind].predicted += 1
        gold_set = set(gold)
        for p in set(preds):
            if p in gold_set:
                counts[p.kind].exact += 1
        free = list(gold)
        for p in preds:
            hit = next((g for g in free if _overlaps(p, g)), None)
            if hit is not None:
                free.remove(hit)
                counts[p.kind].overlap += 1
    return counts


def errors(
    *, docs: Sequence[Doc], predicted: Sequence[Sequence[Gold]], limit: int
) -> list[dict[str, str]]:
    """Up to ``limit`` misses and false spans (public corpus text, for reading the errors)."""
    found: list[dict[str, str]] = []
    for doc, preds in zip(docs, predicted, strict=True):
        for g in set(doc.gold) - set(preds):
            found.append({"miss": doc.text[g.start : g.end], "kind": g.kind, "in": doc.text})
        for p in set(preds) - set(doc.gold):
            found.append({"false": doc.text[p.start : p.end], "kind": p.kind, "in": doc.text})
        if len(found) >= limit:
            break
    return found[:limit]
