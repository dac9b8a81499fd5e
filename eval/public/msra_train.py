"""Make ``msra/train.bio`` (the MSRA NER train split) from SophonPlus/ChineseNlpCorpus's
``datasets/dh_msra/dh_msra.zip`` (commit a0b781d72158bde242c0626c9e354d2b328865ff; the repo
states no licence and gives the source as "probably MSRA"; used for training only, never
committed).

That file is the train and test splits of MSRA NER one after the other, one character and
tag per line. What is done: the last 4,631 sentences (the test split, which eval/public's
``msra/test.bio`` holds) are dropped; ASCII digits and Latin letters become full-width, as
the test split writes them; a sentence that starts inside an entity (I-) starts it (B-);
sentences found verbatim in the test file are dropped (none were, 2026-12-07).

Usage: ``python eval/public/msra_train.py ZIP_OR_TXT DEST_DIR`` (writes DEST_DIR/msra/train.bio)
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

TEST_SENTENCES = 4_631


def _wide(char: str) -> str:
    code = ord(char)
    if 0x21 <= code <= 0x7E and char.isalnum():
        return chr(code + 0xFEE0)
    return char


def sentences(text: str) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            if current:
                out.append(current)
                current = []
            continue
        current.append((parts[0], parts[-1]))
    if current:
        out.append(current)
    return out


def main() -> None:
    source, dest = Path(sys.argv[1]), Path(sys.argv[2])
    if source.suffix == ".zip":
        with zipfile.ZipFile(source) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".txt"))
            text = io.TextIOWrapper(archive.open(name), encoding="utf-8").read()
    else:
        text = source.read_text("utf-8")
    train = sentences(text)[:-TEST_SENTENCES]
    test_file = dest / "msra" / "test.bio"
    test = set()
    if test_file.is_file():
        test = {"".join(c for c, _ in s) for s in sentences(test_file.read_text("utf-8"))}
    lines: list[str] = []
    kept = 0
    for sentence in train:
        chars = [(_wide(c), tag) for c, tag in sentence]
        if "".join(c for c, _ in chars) in test:
            continue
        first_char, first_tag = chars[0]
        if first_tag.startswith("I-"):
            chars[0] = (first_char, "B-" + first_tag[2:])
        lines += [f"{c}\t{tag}" for c, tag in chars] + [""]
        kept += 1
    out = dest / "msra" / "train.bio"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{kept} sentences -> {out}")


if __name__ == "__main__":
    main()
