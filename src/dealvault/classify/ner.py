"""Person names and addresses in Chinese free text by a character-level linear-chain CRF: the
weights ship in the package (``classify/data/ner_model.npz``, trained by scripts/train_ner.py),
and tagging runs on whole batches of texts in numpy (hashed features, batched Viterbi).

Labels: ``O``, ``B-PER``/``I-PER`` (a person's name), ``B-ADDR``/``I-ADDR`` (an address from
province to street, building or room). Features of character i (templates, by offset): the
characters at -2..+2, the pairs (-1,0), (0,+1), (-2,-1), (+1,+2), (-1,+1), and the character
classes of (-1, 0, +1). Each feature is hashed with its template into a table of
``2**bits`` rows of per-label weights (the trainer's weights added up where two features
share a row), so a batch is scored with array lookups only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Final

import numpy as np
import numpy.typing as npt

LABELS: Final = ("O", "B-PER", "I-PER", "B-ADDR", "I-ADDR")
KINDS: Final = {"PER": "cn_name", "ADDR": "cn_address"}
#: (offset, offset or None) per template; None: a single character
TEMPLATES: Final[tuple[tuple[int, int | None], ...]] = (
    (0, None), (-1, None), (1, None), (-2, None), (2, None),
    (-1, 0), (0, 1), (-2, -1), (1, 2), (-1, 1),
)  # fmt: skip
SHAPE: Final = len(TEMPLATES)  # template number of the character-class triple
PAD: Final = 1  # the code of a position before the start or after the end
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))


def char_class(codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0 padding, 1 Han, 2 digit, 3 Latin letter, 4 space or punctuation, 5 other."""
    out = np.full(codes.shape, 5, dtype=np.int64)
    out[codes == PAD] = 0
    han = ((codes >= 0x4E00) & (codes <= 0x9FFF)) | ((codes >= 0x3400) & (codes <= 0x4DBF))
    out[han] = 1
    digit = ((codes >= 48) & (codes <= 57)) | ((codes >= 0xFF10) & (codes <= 0xFF19))
    out[digit] = 2
    latin = ((codes | 32) >= 97) & ((codes | 32) <= 122) & (codes < 128)
    out[latin] = 3
    punct = (codes < 48) | ((codes >= 0x3000) & (codes <= 0x303F)) | (codes >= 0xFF00)
    out[punct & ~digit & (codes != PAD)] = 4
    return out


def feature_hash(
    template: int, a: npt.NDArray[np.int64] | int, b: npt.NDArray[np.int64] | int, *, bits: int
) -> npt.NDArray[np.int64]:
    """The table row of feature (template, a, b): the same arithmetic in the trainer."""
    with np.errstate(over="ignore"):
        first = np.full(np.shape(a), template + 1, dtype=np.uint64) * _MIX[0]
        mixed: npt.NDArray[np.uint64] = (
            first ^ np.asarray(a, dtype=np.int64).astype(np.uint64)
        ) * _MIX[1]
        mixed = (mixed ^ np.asarray(b, dtype=np.int64).astype(np.uint64)) * _MIX[2]
        mixed = mixed ^ (mixed >> np.uint64(29))
    rows: npt.NDArray[np.int64] = (mixed & np.uint64((1 << bits) - 1)).astype(np.int64)
    return rows


def features(codes: npt.NDArray[np.int64], *, bits: int) -> npt.NDArray[np.int64]:
    """Rows of every feature of every position: shape (sentences, length, templates + 1) for
    ``codes`` of shape (sentences, length) padded with :data:`PAD`."""
    n, length = codes.shape
    padded = np.full((n, length + 4), PAD, dtype=np.int64)
    padded[:, 2 : length + 2] = codes

    def at(offset: int) -> npt.NDArray[np.int64]:
        return padded[:, 2 + offset : 2 + offset + length]

    out = np.empty((n, length, len(TEMPLATES) + 1), dtype=np.int64)
    for t, (first, second) in enumerate(TEMPLATES):
        out[:, :, t] = feature_hash(t, at(first), 0 if second is None else at(second), bits=bits)
    cls = char_class(padded)
    triple = cls[:, 1 : 1 + length] * 36 + cls[:, 2 : 2 + length] * 6 + cls[:, 3 : 3 + length]
    out[:, :, SHAPE] = feature_hash(SHAPE, triple, 0, bits=bits)
    return out


@dataclass(frozen=True)
class Model:
    """Hashed state weights (rows x labels), transitions (from x to), start weights."""

    weights: npt.NDArray[np.float32]
    transitions: npt.NDArray[np.float32]
    bits: int


@functools.cache
def model() -> Model:
    """The shipped model, loaded once per process."""
    path = resources.files("dealvault.classify").joinpath("data/ner_model.npz")
    with resources.as_file(path) as file, np.load(file) as data:
        return Model(
            weights=data["weights"].astype(np.float32),
            transitions=data["transitions"].astype(np.float32),
            bits=int(data["bits"]),
        )


def viterbi(
    scores: npt.NDArray[np.float32], lengths: npt.NDArray[np.int64], trans: npt.NDArray[np.float32]
) -> npt.NDArray[np.int64]:
    """The best label sequence of each sentence (scores: sentences x length x labels)."""
    n, length, k = scores.shape
    best = scores[:, 0, :].copy()
    back = np.zeros((n, length, k), dtype=np.int64)
    for i in range(1, length):
        candidate = best[:, :, None] + trans[None, :, :]  # from x to
        back[:, i, :] = candidate.argmax(axis=1)
        moved = candidate.max(axis=1) + scores[:, i, :]
        live = (i < lengths)[:, None]
        best = np.where(live, moved, best)
    path = np.zeros((n, length), dtype=np.int64)
    rows = np.arange(n)
    current = best.argmax(axis=1)  # a sentence's best stays fixed after its end
    for i in range(length - 1, -1, -1):
        live = i < lengths
        path[:, i] = np.where(live, current, 0)
        if i > 0:
            current = np.where(live, back[rows, i, current], current)
    return path


def tag(texts: list[str], *, chunk: int = 120) -> list[list[tuple[int, int, str]]]:
    """Spans (start, end, pii type) of names and addresses in each text. Texts are cut into
    pieces of at most ``chunk`` characters at sentence ends where possible and tagged in
    batches of similar length."""
    m = model()
    pieces: list[tuple[int, int, str]] = []  # (text number, offset, piece)
    for number, text in enumerate(texts):
        for offset, piece in _pieces(text, chunk=chunk):
            pieces.append((number, offset, piece))
    out: list[list[tuple[int, int, str]]] = [[] for _ in texts]
    order = sorted(range(len(pieces)), key=lambda p: len(pieces[p][2]))
    for start in range(0, len(order), 4096):
        batch = [pieces[p] for p in order[start : start + 4096]]
        lengths = np.array([len(p[2]) for p in batch], dtype=np.int64)
        width = int(lengths.max()) if len(batch) else 0
        if width == 0:
            continue
        codes = np.full((len(batch), width), PAD, dtype=np.int64)
        for row, (_, _, piece) in enumerate(batch):
            codes[row, : len(piece)] = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
        rows = features(codes, bits=m.bits)
        scores = m.weights[rows[:, :, 0]]  # template by template: no 4-D intermediate
        for t in range(1, rows.shape[2]):
            scores += m.weights[rows[:, :, t]]
        labels = viterbi(scores, lengths, m.transitions)
        for row in np.flatnonzero(labels.any(axis=1)).tolist():
            number, offset, _ = batch[row]
            for s, e, kind in spans(labels[row, : lengths[row]]):
                out[number].append((offset + s, offset + e, KINDS[kind]))
    return out


def spans(labels: npt.NDArray[np.int64]) -> list[tuple[int, int, str]]:
    """(start, end, PER or ADDR) runs of a label sequence (an I without its B starts a run);
    only the labelled positions are visited."""
    found: list[list[int | str]] = []
    for i in np.flatnonzero(labels).tolist():
        name = LABELS[int(labels[i])]
        kind = name[2:]
        last = found[-1] if found else None
        if name[0] == "I" and last is not None and last[1] == i and last[2] == kind:
            last[1] = i + 1
        else:
            found.append([i, i + 1, kind])
    return [(int(a), int(b), str(k)) for a, b, k in found]


_ENDS = frozenset("。！？；!?;\n")


def _pieces(text: str, *, chunk: int) -> list[tuple[int, str]]:
    """``text`` cut after sentence ends into pieces of at most ``chunk`` characters."""
    out: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + chunk)
        if end < len(text):
            cut = max((i for i in range(start, end) if text[i] in _ENDS), default=-1)
            end = cut + 1 if cut >= start + chunk // 3 else end
        out.append((start, text[start:end]))
        start = end
    return out
