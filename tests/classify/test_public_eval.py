"""The public-corpus evaluation's loaders, scoring and fetching on tiny invented samples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PUBLIC = Path(__file__).resolve().parents[2] / "eval" / "public"
sys.path.insert(0, str(PUBLIC))
import fetch_public  # noqa: E402
import pub_loaders as L  # noqa: E402, N812
import pub_score  # noqa: E402
import run_public  # noqa: E402
from pub_sources import FILES, SourceFile  # noqa: E402

sys.path.remove(str(PUBLIC))


def test_bio_and_bmes_tags_become_character_spans() -> None:
    bio = ["王 B-PER", "小 I-PER", "明 I-PER", "在 O", "北 B-LOC", "京 I-LOC", ""]
    bmes = ["李 B-NAME", "四 E-NAME", "， O", "张 S-NAME", "", "x O"]
    (one,) = L.read_tagged(bio)
    assert L.tag_spans(one) == ("王小明在北京", [(0, 3, "PER"), (4, 6, "LOC")])
    first, second = L.read_tagged(bmes)
    assert L.tag_spans(first) == ("李四，张", [(0, 2, "NAME"), (3, 4, "NAME")])
    assert L.tag_spans(second) == ("x", [])
    # a label changing without B- starts a new span; multi-character tokens keep offsets
    text, spans = L.tag_spans([("12", "B-roadno"), ("号", "I-roadno"), ("楼", "I-poi")])
    assert text == "12号楼" and spans == [(0, 3, "roadno"), (3, 4, "poi")]


def test_weibo_position_digit_is_stripped_and_nominal_mentions_are_not_names() -> None:
    lines = ["张0\tB-PER.NAM", "三1\tI-PER.NAM", "和0\tO", "老0\tB-PER.NOM", "师1\tI-PER.NOM"]
    (doc,) = L.ner_docs(L.read_tagged(lines, strip_last=True), person=frozenset({"PER.NAM"}))
    assert doc.text == "张三和老师"
    assert doc.gold == (L.Gold(0, 2, "person"),)


def test_cluener_addresses_count_only_at_street_level() -> None:
    row = {
        "text": "王小明住在上海市长宁区愚园路100号，常去台湾。",
        "label": {
            "name": {"王小明": [[0, 2]]},
            "address": {"上海市长宁区愚园路100号": [[5, 17]], "台湾": [[21, 22]]},
            "company": {"x": [[0, 0]]},
        },
    }
    (doc,) = L.cluener_docs([json.dumps(row, ensure_ascii=False)])
    assert [doc.text[g.start : g.end] for g in doc.gold] == ["王小明", "上海市长宁区愚园路100号"]
    assert [doc.text[g.start : g.end] for g in doc.ignore] == ["台湾"]


def test_address_lines_are_trimmed_and_district_only_lines_ignored() -> None:
    lines = [
        "浙 B-prov", "江 I-prov", "省 I-prov", "文 B-road", "一 I-road", "路 I-road",
        "8 B-roadno", "号 I-roadno", "旁 B-assist", "",
        "西 B-district", "湖 I-district", "区 I-district", "",
    ]  # fmt: skip
    street, district = L.address_docs(L.read_tagged(lines))
    assert street.text[street.gold[0].start : street.gold[0].end] == "浙江省文一路8号"
    assert district.gold == () and district.ignore == (L.Gold(0, 3, "address"),)


def _corpus(*docs: L.Doc, kinds: frozenset[str]) -> L.Corpus:
    return L.Corpus(name="t", split="test", kinds=kinds, docs=list(docs))


def test_scoring_exact_and_overlap() -> None:
    doc = L.Doc(
        text="x" * 40,
        gold=(L.Gold(0, 3, "person"), L.Gold(10, 20, "address"), L.Gold(30, 32, "person")),
    )
    predicted = [[
        L.Gold(0, 3, "person"),  # exact
        L.Gold(10, 16, "address"),  # 6 of 10 shared: overlap only
        L.Gold(30, 36, "person"),  # 2 of 6 shared: neither
    ]]  # fmt: skip
    counts = pub_score.score(
        docs=[doc], predicted=predicted, kinds=frozenset({"person", "address"})
    )
    person, address = counts["person"], counts["address"]
    assert (person.gold, person.predicted, person.exact, person.overlap) == (2, 2, 1, 1)
    assert (address.exact, address.overlap) == (0, 1)
    figures = person.figures()
    assert figures["precision_exact"] == 0.5 and figures["recall_overlap"] == 0.5
    # one gold span is matched once, however many predictions overlap it
    twice = pub_score.score(
        docs=[L.Doc(text="x" * 10, gold=(L.Gold(0, 4, "person"),))],
        predicted=[[L.Gold(0, 4, "person"), L.Gold(0, 3, "person")]],
        kinds=frozenset({"person"}),
    )["person"]
    assert (twice.predicted, twice.overlap) == (2, 1)


def test_scanner_predictions_are_kept_by_kind_and_ignored_regions() -> None:
    text = "请联系13812345678或写信到 a@b.example，北京"
    corpus = _corpus(
        L.Doc(text=text, ignore=(L.Gold(0, len(text), "address"),)),
        kinds=frozenset({"phone"}),
    )
    (predicted,) = pub_score.predict(corpus=corpus)
    assert [(text[p.start : p.end], p.kind) for p in predicted] == [("13812345678", "phone")]
    # the same mobile inside an ignored phone region is not counted at all
    hidden = _corpus(L.Doc(text=text, ignore=(L.Gold(0, 20, "phone"),)), kinds=frozenset({"phone"}))
    assert pub_score.predict(corpus=hidden) == [[]]


def test_column_kinds() -> None:
    assert pub_score.column_kind("cn_mobile") == "phone"
    assert pub_score.column_kind("quantity") is None
    assert pub_score.column_kind(None) is None
    assert pub_score.column_kind("cn_passport") == "cn_passport"


def _spec(tmp_path: Path, data: bytes) -> SourceFile:
    return SourceFile("weibo", "test", "o/r", "0" * 40, "p", fetch_public.blob_id(data), 1, "f")


def test_blob_id_matches_git() -> None:
    data = "张三\tB-PER\n".encode()
    done = subprocess.run(
        ["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True
    )
    assert fetch_public.blob_id(data) == done.stdout.decode().strip()


def test_fetch_copies_checked_files_and_refuses_altered_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = b"a O\n"
    spec = _spec(tmp_path, good)
    monkeypatch.setattr(fetch_public, "FILES", (spec,))
    source = tmp_path / "copy" / "weibo"
    source.mkdir(parents=True)
    (source / "f").write_bytes(b"altered\n")
    dest = tmp_path / "dest"
    copy = tmp_path / "copy"
    assert fetch_public.fetch(mirror=None, copy=copy, dest=dest, corpora=("weibo",)) == [spec]
    assert not (dest / "weibo" / "f").exists()
    (source / "f").write_bytes(good)
    assert fetch_public.fetch(mirror=None, copy=copy, dest=dest, corpora=("weibo",)) == []
    assert (dest / "weibo" / "f").read_bytes() == good


def test_every_source_is_pinned() -> None:
    for spec in FILES:
        assert len(spec.commit) == 40 and len(spec.blob) == 40 and spec.size > 0


def test_run_without_data_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_public.main(["--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "fetch_public.py" in out and "msra" in out and "{" not in out


def test_run_on_an_invented_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "resume").mkdir()
    lines = ["客 O", "户 O", "王 B-NAME", "建 M-NAME", "国 E-NAME", "先 O", "生 O", ""]
    (tmp_path / "resume" / "test.bmes").write_text("\n".join(lines), "utf-8")
    assert run_public.main(["--data", str(tmp_path), "--corpus", "resume", "--json"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    result = json.loads(line)
    assert result["corpus"] == "resume" and result["kind"] == "person"
    assert result["support"] == 1 and result["texts"] == 1
