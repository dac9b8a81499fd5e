"""Person names and addresses in Chinese free text by a character-level linear-chain CRF: the
weights ship in the package (``classify/data/ner_model.npz``, trained by scripts/train_ner.py),
and tagging runs on whole batches of texts: in the native kernel ``classify/_crf.c`` where
the install built it, else in numpy (per-code tables, batched Viterbi), with the same labels.

Labels: ``O``, ``B-PER``/``I-PER`` (a person's name), ``B-ADDR``/``I-ADDR`` (an address from
province to street, building or room). Features of character i (templates, by offset): the
characters at -2..+2, the pairs (-1,0), (0,+1), (-2,-1), (+1,+2), (-1,+1), the triples
(-1,0,+1), (-2,-1,0), (0,+1,+2), and the character classes of (-1, 0, +1). Each feature is
hashed with its template into a table of ``2**bits`` rows of per-label weights (the
trainer's weights added up where two features share a row), so a batch is scored with array
lookups only.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from types import ModuleType
from typing import Final

import numpy as np
import numpy.typing as npt

LABELS: Final = ("O", "B-PER", "I-PER", "B-ADDR", "I-ADDR")
KINDS: Final = {"PER": "cn_name", "ADDR": "cn_address"}
#: offsets per template: one character, a pair, or a triple (the second and third codes are
#: packed into one number, second << 21 | third, before hashing)
TEMPLATES: Final[tuple[tuple[int, ...], ...]] = (
    (0,), (-1,), (1,), (-2,), (2,),
    (-1, 0), (0, 1), (-2, -1), (1, 2), (-1, 1),
    (-1, 0, 1), (-2, -1, 0), (0, 1, 2),
)  # fmt: skip
SHAPE: Final = len(TEMPLATES)  # template number of the character-class triple
PAD: Final = 1  # the code of a position before the start or after the end


def _load_native() -> ModuleType | None:
    try:
        return importlib.import_module("dealvault.classify._crf")
    except ImportError:  # built without a C compiler: the numpy path gives the same labels
        return None


#: the native kernel (classify/_crf.c) where the install built it, else None
native: ModuleType | None = _load_native()
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


def _second(
    offsets: tuple[int, ...], at: Callable[[int], npt.NDArray[np.int64]]
) -> npt.NDArray[np.int64] | int:
    """The hash's second input of a template: 0, the second code, or two codes packed."""
    if len(offsets) == 1:
        return 0
    if len(offsets) == 2:
        return at(offsets[1])
    return (at(offsets[1]) << 21) | at(offsets[2])


def features(codes: npt.NDArray[np.int64], *, bits: int) -> npt.NDArray[np.int64]:
    """Rows of every feature of every position: shape (sentences, length, templates + 1) for
    ``codes`` of shape (sentences, length) padded with :data:`PAD`."""
    n, length = codes.shape
    padded = np.full((n, length + 4), PAD, dtype=np.int64)
    padded[:, 2 : length + 2] = codes

    def at(offset: int) -> npt.NDArray[np.int64]:
        return padded[:, 2 + offset : 2 + offset + length]

    out = np.empty((n, length, len(TEMPLATES) + 1), dtype=np.int64)
    for t, offsets in enumerate(TEMPLATES):
        out[:, :, t] = feature_hash(t, at(offsets[0]), _second(offsets, at), bits=bits)
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


BMP: Final = 1 << 16  # characters below this code are scored from per-code tables


@dataclass(frozen=True)
class Tables:
    """The model's features of one character made into direct lookups by code (codes below
    :data:`BMP`): the weights of each single-character template, the first half of each
    pair template's hash, the character class and the weights of each class triple."""

    single: tuple[tuple[int, npt.NDArray[np.float32]], ...]  # (offset, code x labels)
    pair: tuple[tuple[tuple[int, ...], npt.NDArray[np.uint64]], ...]  # (offsets, code -> half)
    classes: npt.NDArray[np.int64]
    shape: npt.NDArray[np.float32]  # triple x labels


@functools.cache
def tables() -> Tables:
    """Lookup tables of the shipped model, built once per process (~10 MB)."""
    m = model()
    codes = np.arange(BMP, dtype=np.int64)
    single, pair = [], []
    for t, offsets in enumerate(TEMPLATES):
        if len(offsets) == 1:
            single.append((offsets[0], m.weights[feature_hash(t, codes, 0, bits=m.bits)]))
        else:
            with np.errstate(over="ignore"):
                half = ((np.uint64(t + 1) * _MIX[0]) ^ codes.astype(np.uint64)) * _MIX[1]
            pair.append((offsets, half))
    triples = np.arange(216, dtype=np.int64)
    return Tables(
        single=tuple(single),
        pair=tuple(pair),
        classes=char_class(codes),
        shape=m.weights[feature_hash(SHAPE, triples, 0, bits=m.bits)],
    )


@dataclass(frozen=True)
class Compact:
    """The weight table without its all-zero rows (most features never occur in training):
    a bitmap of the rows present, the rows present before each 64-row word, and the rows
    present in order. The native kernel looks rows up in it, so that its lookups stay in
    the caches; a missing row adds nothing."""

    present: npt.NDArray[np.uint64]
    rank: npt.NDArray[np.uint32]
    weights: npt.NDArray[np.float32]


@functools.cache
def compact() -> Compact:
    """The shipped model's table, compact (built once per process)."""
    weights = model().weights
    nonzero = (weights != 0).any(axis=1)
    counts = nonzero.reshape(-1, 64).sum(axis=1)
    return Compact(
        present=np.packbits(nonzero, bitorder="little").view(np.uint64),
        rank=np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.uint32),
        weights=np.ascontiguousarray(weights[nonzero]),
    )


def emissions(codes: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """State scores (sentences x length x labels) of ``codes`` (sentences x length, padded
    with :data:`PAD`): the sum of the weights of every feature, as :func:`features` hashes
    them; sentences holding a code at or above :data:`BMP` are scored by hashing."""
    m, tab = model(), tables()
    wide = (codes >= BMP).any(axis=1)
    if wide.any():
        out = np.empty((*codes.shape, m.weights.shape[1]), dtype=np.float32)
        out[~wide] = emissions(codes[~wide])
        rows = features(codes[wide], bits=m.bits)
        out[wide] = m.weights[rows].sum(axis=2, dtype=np.float32)
        return out
    n, length = codes.shape
    padded = np.full((n, length + 4), PAD, dtype=np.int64)
    padded[:, 2 : length + 2] = codes

    def at(offset: int) -> npt.NDArray[np.int64]:
        return padded[:, 2 + offset : 2 + offset + length]

    scores = np.zeros((n, length, m.weights.shape[1]), dtype=np.float32)
    for offset, table in tab.single:
        scores += table[at(offset)]
    mask = np.uint64((1 << m.bits) - 1)
    with np.errstate(over="ignore"):
        for offsets, half in tab.pair:
            mixed = half[at(offsets[0])]
            mixed ^= np.asarray(_second(offsets, at)).astype(np.uint64)
            mixed *= _MIX[2]
            mixed ^= mixed >> np.uint64(29)
            mixed &= mask
            scores += m.weights[mixed.astype(np.intp)]
    cls = tab.classes[padded]
    scores += tab.shape[cls[:, 1 : 1 + length] * 36 + cls[:, 2 : 2 + length] * 6 + cls[:, 3:-1]]
    return scores


def viterbi(
    scores: npt.NDArray[np.float32], lengths: npt.NDArray[np.int64], trans: npt.NDArray[np.float32]
) -> npt.NDArray[np.int64]:
    """The best label sequence of each sentence (scores: sentences x length x labels); where
    two moves score the same, the lower label wins. Steps run over all sentences at once,
    label by label on contiguous rows."""
    n, length, k = scores.shape
    by_step = np.ascontiguousarray(scores.transpose(1, 2, 0))  # length x labels x sentences
    best = by_step[0].copy()
    back = np.zeros((length, k, n), dtype=np.int8)
    into = np.ascontiguousarray(trans.T)[:, :, None]  # to x from x 1
    for i in range(1, length):
        candidate = best[None, :, :] + into  # to x from x sentences
        top = candidate.max(axis=1)
        step = back[i]
        for source in range(k - 1, 0, -1):
            step[candidate[:, source, :] == top] = source
        step[candidate[:, 0, :] == top] = 0
        live = i < lengths
        best = np.where(live[None, :], top + by_step[i], best)
    path = np.zeros((n, length), dtype=np.int64)
    columns = np.arange(n)
    current = best.argmax(axis=0)  # a sentence's best stays fixed after its end
    for i in range(length - 1, -1, -1):
        live = i < lengths
        path[:, i] = np.where(live, current, 0)
        if i > 0:
            current = np.where(live, back[i, current, columns], current)
    return path


def tag(texts: list[str], *, chunk: int = 120) -> list[list[tuple[int, int, str]]]:
    """Spans (start, end, pii type) of names and addresses in each text. Texts are cut into
    pieces of at most ``chunk`` characters at sentence ends where possible; each piece is
    tagged on its own, by the native kernel where it was built (``_crf``), else in numpy."""
    out: list[list[tuple[int, int, str]]] = [[] for _ in texts]
    sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    if not sizes.any():
        return out
    flat = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    text_starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    starts, lengths = _all_pieces(texts, sizes, text_starts, chunk=chunk)
    labels = label_pieces(flat, starts, lengths)
    found = np.flatnonzero(labels)
    if not found.size:
        return out
    value = labels[found].astype(np.int64)
    kind = (value + 1) // 2  # 1 person, 2 address
    begins = value % 2 == 1  # a B- label
    piece_start = np.zeros(len(flat), dtype=bool)
    piece_start[starts] = True
    new = np.ones(found.size, dtype=bool)
    new[1:] = (
        begins[1:]
        | (found[1:] != found[:-1] + 1)
        | (kind[1:] != kind[:-1])
        | piece_start[found[1:]]
    )
    run_first = np.flatnonzero(new)
    run_last = np.append(run_first[1:], found.size) - 1
    span_start, span_end = found[run_first], found[run_last] + 1
    number = np.searchsorted(text_starts, span_start, side="right") - 1
    names = ("", KINDS["PER"], KINDS["ADDR"])
    for n, a, b, k in zip(
        number.tolist(),
        (span_start - text_starts[number]).tolist(),
        (span_end - text_starts[number]).tolist(),
        kind[run_first].tolist(),
        strict=True,
    ):
        out[n].append((a, b, names[k]))
    return out


def label_pieces(
    flat: npt.NDArray[np.uint32], starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.int8]:
    """The label of every code of ``flat`` that lies in a piece (``starts``, ``lengths``);
    0 (``O``) elsewhere. Native kernel where built, else numpy: the same labels."""
    m = model()
    labels = np.zeros(len(flat), dtype=np.int8)
    if native is not None:
        templates = np.array(
            [(*o, *(0,) * (3 - len(o)), len(o)) for o in TEMPLATES], dtype=np.int64
        )
        table = compact()
        native.tag(
            flat, starts, lengths, table.present, table.rank, table.weights, m.transitions,
            templates, m.bits, labels,
        )  # fmt: skip
        return labels
    order = np.argsort(lengths, kind="stable")
    for low in range(0, len(order), 4096):
        batch = order[low : low + 4096]
        size = lengths[batch]
        width = int(size.max())
        if width == 0:
            continue
        inside = np.arange(width, dtype=np.int64)[None, :] < size[:, None]
        where = starts[batch][:, None] + np.arange(width, dtype=np.int64)[None, :]
        codes = np.where(inside, flat[np.where(inside, where, 0)].astype(np.int64), PAD)
        scores = np.concatenate([emissions(codes[r : r + 256]) for r in range(0, len(codes), 256)])
        found = viterbi(scores, size, m.transitions)
        labels[where[inside]] = found[inside]
    return labels


def _all_pieces(
    texts: list[str],
    sizes: npt.NDArray[np.int64],
    text_starts: npt.NDArray[np.int64],
    *,
    chunk: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(start in the joined text, length) of every piece of every non-empty text."""
    short = (sizes > 0) & (sizes <= chunk)
    starts, lengths = [text_starts[short]], [sizes[short]]
    for number in np.flatnonzero(sizes > chunk).tolist():
        cut = np.array(_pieces(texts[number], chunk=chunk), dtype=np.int64)
        starts.append(text_starts[number] + cut[:, 0])
        lengths.append(cut[:, 1] - cut[:, 0])
    return np.concatenate(starts), np.concatenate(lengths)


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


_ENDS: Final = "。！？；!?;\n"


def _pieces(text: str, *, chunk: int) -> list[tuple[int, int]]:
    """(start, end) of the pieces of ``text`` cut after sentence ends, each at most ``chunk``
    characters long."""
    out: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + chunk)
        if end < len(text):
            cut = max(text.rfind(c, start, end) for c in _ENDS)
            end = cut + 1 if cut >= start + chunk // 3 else end
        out.append((start, end))
        start = end
    return out
