"""Train the free-text name and address model (``dealvault.classify.ner``) on public corpora
and write its weights to src/dealvault/classify/data/ner_model.npz.

Training data: the train splits of the corpora of eval/public (fetched into a folder with
eval/public/fetch_public.py; never committed): MSRA, Weibo, Resume, CLUENER, the Chinese
address parsing corpus, and People's Daily dev (its train split is not available here). Their test
splits are left for ``make eval-public``. Person spans become B-PER/I-PER, street-level
address spans B-ADDR/I-ADDR, everything else O.

The CRF is trained with python-crfsuite (L-BFGS with L1 and L2 penalties; a training-time
tool, `pip install python-crfsuite`, not a dependency of the package); its feature weights
are then added into the hashed table ``ner.features`` reads, so tagging needs numpy only.

Training data is widened twice: every document with a person again with other persons of
the data in its place (``swapped``), and 3,000 lists of persons (``name_lists``).

Usage: ``python scripts/train_ner.py --data /work/data-public --iterations 120`` (about 13
minutes on one core here; the shipped weights were made so)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "eval" / "public"))
sys.path.insert(0, str(ROOT / "src"))

from pub_loaders import load  # noqa: E402

from dealvault.classify.ner import LABELS, PAD, SHAPE, TEMPLATES, char_class, feature_hash  # noqa: E402

TRAIN = (
    ("msra", "train.bio"),
    ("weibo", "train.conll"),
    ("resume", "train.bmes"),
    ("cluener", "train.jsonl"),
    ("cn_address_parsing", "train.bio"),
    ("peoples_daily", "dev.bio"),
)
KIND_LABEL = {"person": "PER", "address": "ADDR"}
#: the evaluation splits: a training document found in one of them is left out (MSRA's train
#: split holds two thirds of People's Daily's test sentences verbatim)
TEST = (
    ("msra", "test.bio"),
    ("peoples_daily", "test.bio"),
    ("weibo", "test.conll"),
    ("resume", "test.bmes"),
    ("cluener", "test.jsonl"),
    ("cn_address_parsing", "test.bio"),
)


def held_out(data: Path) -> set[str]:
    """The texts of every evaluation split present."""
    texts: set[str] = set()
    for corpus, stem in TEST:
        loaded = load(data=data, corpus=corpus, split="test", stem=stem)
        texts |= {doc.text for doc in loaded.docs} if loaded is not None else set()
    return texts


def sequences(data: Path) -> list[tuple[str, list[str]]]:
    """(text, labels) per training document, none of them in an evaluation split."""
    out = []
    unseen = held_out(data)
    dropped = 0
    for corpus, stem in TRAIN:
        loaded = load(data=data, corpus=corpus, split="train", stem=stem)
        if loaded is None:
            print(f"missing {corpus}/{stem}: skipped", file=sys.stderr)
            continue
        for doc in loaded.docs:
            labels = ["O"] * len(doc.text)
            for gold in doc.gold:
                kind = KIND_LABEL.get(gold.kind)
                if kind is None:
                    continue
                labels[gold.start] = f"B-{kind}"
                for i in range(gold.start + 1, gold.end):
                    labels[i] = f"I-{kind}"
            if doc.text in unseen:
                dropped += 1
            elif doc.text:
                out.append((doc.text, labels))
        print(f"{corpus}: {len(loaded.docs)} documents", file=sys.stderr)
    print(f"{dropped} training documents found in an evaluation split: left out", file=sys.stderr)
    return out


def swapped(docs: list[tuple[str, list[str]]], *, seed: int) -> list[tuple[str, list[str]]]:
    """A copy of every document with a person in it, each person replaced by another person
    of the training data: the same contexts with other names, so the model leans on the
    context and the name's shape more than on the names it saw."""
    rng = np.random.default_rng(seed)
    names = sorted({text[s:e] for text, labels in docs for s, e in _runs(labels, "PER")})
    out = []
    for text, labels in docs:
        runs = _runs(labels, "PER")
        if not runs or not names:
            continue
        parts, tags, last = [], [], 0
        for s, e in runs:
            name = names[int(rng.integers(len(names)))]
            parts += [text[last:s], name]
            tags += labels[last:s] + ["B-PER"] + ["I-PER"] * (len(name) - 1)
            last = e
        parts.append(text[last:])
        tags += labels[last:]
        out.append(("".join(parts), tags))
    return out


def name_lists(
    docs: list[tuple[str, list[str]]], *, count: int, seed: int
) -> list[tuple[str, list[str]]]:
    """Lists of the training data's persons, as rosters and reports print them: one after
    the other without a separator, or with 、 ， or a space, some with a note in brackets
    (lists of names run together are where the model missed most, in MSRA's news)."""
    rng = np.random.default_rng(seed)
    names = sorted({text[s:e] for text, labels in docs for s, e in _runs(labels, "PER")})
    notes = ("（女）", "（回族）", "（藏族）", "（女，壮族）")
    out = []
    for _ in range(count if names else 0):
        glue = ("", "", "、", "，", " ")[int(rng.integers(5))]
        parts: list[str] = []
        tags: list[str] = []
        for k in range(int(rng.integers(3, 13))):
            if k and glue:
                parts.append(glue)
                tags.append("O")
            name = names[int(rng.integers(len(names)))]
            parts.append(name)
            tags += ["B-PER"] + ["I-PER"] * (len(name) - 1)
            if rng.random() < 0.1:
                note = notes[int(rng.integers(len(notes)))]
                parts.append(note)
                tags += ["O"] * len(note)
        out.append(("".join(parts), tags))
    return out


def _runs(labels: list[str], kind: str) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i, label in enumerate(labels):
        if label == f"B-{kind}":
            runs.append((i, i + 1))
        elif label == f"I-{kind}" and runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
    return runs


def attributes(text: str) -> list[list[str]]:
    """The features of each character as strings "template|a|b" (the hash's inputs)."""
    codes = [PAD, PAD, *(ord(c) for c in text), PAD, PAD]
    classes = char_class(np.array(codes, dtype=np.int64)).tolist()
    out = []
    for i in range(2, len(codes) - 2):
        row = []
        for t, offsets in enumerate(TEMPLATES):
            b = 0 if len(offsets) == 1 else codes[i + offsets[1]]
            if len(offsets) == 3:
                b = (b << 21) | codes[i + offsets[2]]
            row.append(f"{t}|{codes[i + offsets[0]]}|{b}")
        triple = classes[i - 1] * 36 + classes[i] * 6 + classes[i + 1]
        row.append(f"{SHAPE}|{triple}|0")
        out.append(row)
    return out


def main() -> None:
    import pycrfsuite

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--bits", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--c1", type=float, default=0.02)
    parser.add_argument("--c2", type=float, default=0.01)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "src/dealvault/classify/data/ner_model.npz"
    )
    args = parser.parse_args()
    trainer = pycrfsuite.Trainer(verbose=False)
    docs = sequences(args.data)
    docs += swapped(docs, seed=7) + name_lists(docs, count=3000, seed=9)
    for text, labels in docs:
        trainer.append(attributes(text), labels)
    trainer.set_params(
        {"c1": args.c1, "c2": args.c2, "max_iterations": args.iterations,
         "feature.possible_transitions": True}
    )  # fmt: skip
    started = time.perf_counter()
    scratch = args.out.with_suffix(".crfsuite")
    trainer.train(str(scratch))
    print(f"trained on {len(docs)} documents in {time.perf_counter() - started:.0f} s")
    tagger = pycrfsuite.Tagger()
    tagger.open(str(scratch))
    info = tagger.info()
    index = {label: LABELS.index(label) for label in LABELS}
    weights = np.zeros((1 << args.bits, len(LABELS)), dtype=np.float32)
    for (attribute, label), weight in info.state_features.items():
        t, a, b = (int(x) for x in attribute.split("|"))
        row = int(feature_hash(t, a, b, bits=args.bits))
        weights[row, index[label]] += weight
    transitions = np.zeros((len(LABELS), len(LABELS)), dtype=np.float32)
    for (first, second), weight in info.transitions.items():
        transitions[index[first], index[second]] = weight
    tagger.close()
    scratch.unlink()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, weights=weights.astype(np.float16), transitions=transitions, bits=args.bits
    )
    used = int((weights != 0).any(axis=1).sum())
    print(f"{len(info.state_features)} features in {used} of {1 << args.bits} rows -> {args.out}")


if __name__ == "__main__":
    main()
