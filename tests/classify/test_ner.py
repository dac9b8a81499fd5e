"""The free-text name and address model: its Viterbi against brute force, its features the
same as the trainer's, and the shipped weights on invented sentences."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from dealvault.classify import ner

ROOT = Path(__file__).resolve().parents[2]


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
