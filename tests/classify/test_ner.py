"""The free-text name and address model: its Viterbi against brute force, its features the
same as the trainer's, and the shipped weights on invented sentences."""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from dealvault.classify import ner

ROOT = Path(__file__).resolve().parents[2]
#: the native kernel is built wherever a C compiler is; CI has one, so there it must exist
NATIVE = pytest.mark.skipif(
    ner.native is None and not os.environ.get("CI"), reason="the native kernel was not built"
)


def test_viterbi_finds_the_best_path_of_each_sentence() -> None:
    rng = np.random.default_rng(3)
    k = len(ner.LABELS)
    scores = rng.normal(size=(4, 5, k)).astype(np.float32)
    trans = rng.normal(size=(k, k)).astype(np.float32)
    lengths = np.array([5, 3, 1, 4])
    got = ner.viterbi(scores, lengths, trans)
    for row, length in enumerate(lengths):
        best = max(
            itertools.product(range(k), repeat=int(length)),
            key=lambda path, row=row: (
                sum(scores[row, i, p] for i, p in enumerate(path))
                + sum(trans[a, b] for a, b in itertools.pairwise(path))
            ),
        )
        assert tuple(got[row, :length]) == best
        assert not got[row, length:].any()


def test_spans_read_runs_of_labels() -> None:
    o, bp, ip, ba, ia = range(5)
    labels = np.array([o, bp, ip, o, ba, ia, ia, ip, o])
    assert ner.spans(labels) == [(1, 3, "PER"), (4, 7, "ADDR"), (7, 8, "PER")]


def test_the_trainer_hashes_features_as_the_tagger_does() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.path.insert(0, str(ROOT / "eval" / "public"))
    try:
        from train_ner import attributes
    finally:
        sys.path.remove(str(ROOT / "scripts"))
        sys.path.remove(str(ROOT / "eval" / "public"))
    text = "联系人：张三，地址 A栋3号。"
    codes = np.array([[ord(c) for c in text]], dtype=np.int64)
    rows = ner.features(codes, bits=18)[0]
    for i, names in enumerate(attributes(text)):
        expected = [ner.feature_hash(*(int(x) for x in n.split("|")), bits=18) for n in names]
        assert rows[i].tolist() == [int(e) for e in expected]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("客户王小明先生来电询问退款进度。", "王小明"),
        ("联系人：欧阳娜娜，电话已核实。", "欧阳娜娜"),
        ("本次由李建国负责回访，客户满意。", "李建国"),
    ],
)
def test_the_shipped_model_finds_names_in_context(text: str, name: str) -> None:
    found = ner.tag([text])[0]
    names = [text[s:e] for s, e, kind in found if kind == "cn_name"]
    assert name in names


def test_the_shipped_model_finds_a_street_address() -> None:
    text = "请寄到浙江省杭州市西湖区文三路478号华星大厦，谢谢。"
    found = ner.tag([text])[0]
    addresses = [text[s:e] for s, e, kind in found if kind == "cn_address"]
    assert any("文三路478号" in a for a in addresses), addresses


def test_text_without_personal_information_gives_nothing_and_long_text_is_cut() -> None:
    assert ner.tag(["今天天气很好，产品质量不错。"]) == [[]]
    long = "客户王小明先生来电。" * 50
    found = ner.tag([long])[0]
    assert len([1 for _, _, kind in found if kind == "cn_name"]) >= 45
    assert all(long[s:e] for s, e, _ in found)


def _mixed_texts() -> list[str]:
    """Invented texts of every kind the tagger meets: short, long (cut into pieces), empty,
    with characters outside the basic plane, Latin, digits and punctuation."""
    rng = np.random.default_rng(11)
    han = [chr(c) for c in rng.integers(0x4E00, 0x4E00 + 400, size=4000)]
    words = ["客户", "王小明", "先生", "来电", "浙江省杭州市", "文三路", "478号", "，", "。", "😀",
             "Room 5", "电话", "13800000000", "\n", "李总", "说"]  # fmt: skip
    texts = ["", "王", "。", "客户王小明先生来电询问退款进度。", "😀李建国😀" * 3]
    for i in range(300):
        parts = rng.choice(words, size=int(rng.integers(1, 60))).tolist()
        parts.insert(int(rng.integers(0, len(parts) + 1)), "".join(han[i : i + 7]))
        texts.append("".join(parts))
    return texts


@NATIVE
def test_the_native_kernel_gives_the_numpy_paths_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _mixed_texts()
    native = ner.tag(texts)
    assert any(native), "the texts hold names the model finds"
    monkeypatch.setattr(ner, "native", None)
    assert ner.tag(texts) == native


def test_pieces_do_not_run_into_each_other() -> None:
    # a name at the end of one text and one at the start of the next stay two spans in
    # their own texts; a text longer than a piece keeps its offsets
    texts = ["联系人：王小明", "李建国负责回访。", "", "说明。" * 60 + "客户王小明先生来电。"]
    found = ner.tag(texts)
    for text, spans in zip(texts, found, strict=True):
        assert all(0 <= s < e <= len(text) for s, e, _ in spans)
    assert "王小明" in [texts[0][s:e] for s, e, _ in found[0]]
    assert "王小明" in [texts[3][s:e] for s, e, _ in found[3]]


@NATIVE
def test_the_native_kernel_refuses_inconsistent_buffers() -> None:
    m, table = ner.model(), ner.compact()
    codes = np.array([0x738B, 0x5C0F], dtype=np.uint32)
    templates = np.zeros((1, 4), dtype=np.int64)
    out = np.zeros(2, dtype=np.int8)
    compact = (table.present, table.rank, table.weights)
    args = (*compact, m.transitions, templates, m.bits)
    assert native_kernel().tag(codes, np.array([0]), np.array([2]), *args, out) is None
    with pytest.raises(ValueError, match="outside the codes"):
        native_kernel().tag(codes, np.array([1]), np.array([5]), *args, out)
    with pytest.raises(ValueError, match="compact table"):
        native_kernel().tag(codes, np.array([0]), np.array([2]), *compact, m.transitions,
                            templates, m.bits - 1, out)  # fmt: skip
    short = (table.present, table.rank, table.weights[:-1])
    with pytest.raises(ValueError, match="compact table"):
        native_kernel().tag(codes, np.array([0]), np.array([2]), *short, m.transitions,
                            templates, m.bits, out)  # fmt: skip
    with pytest.raises(ValueError, match="lengths do not match"):
        native_kernel().tag(codes, np.array([0]), np.array([2]), *args, np.zeros(3, np.int8))


def test_the_compact_table_finds_every_row_of_the_full_one() -> None:
    m, table = ner.model(), ner.compact()
    rows = np.flatnonzero((m.weights != 0).any(axis=1))
    words, bits = rows >> 6, rows & 63
    below = table.present[words] & ((np.uint64(1) << bits.astype(np.uint64)) - np.uint64(1))
    counts = np.array([bin(int(x)).count("1") for x in below])
    assert (table.weights[table.rank[words] + counts] == m.weights[rows]).all()
    assert len(table.weights) == len(rows) < len(m.weights) // 2


def native_kernel() -> ModuleType:
    assert ner.native is not None
    return ner.native
