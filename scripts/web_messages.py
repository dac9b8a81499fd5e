"""Update the web pages' Chinese catalogues: extract every message of the templates (and
the ``N_``-marked ones of web/*.py) per area, add the new ones to ``locale/zh`` with an
empty translation, and drop the ones no longer used. One .po file per area, so that work on
two areas never touches the same file.

    .venv/bin/python scripts/web_messages.py          # update the catalogues
    .venv/bin/python scripts/web_messages.py --check  # exit 1 when a message lacks Chinese
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "src" / "dealvault" / "web"
TEMPLATES = WEB / "templates"
ZH = WEB / "locale" / "zh" / "LC_MESSAGES"


#: hand-kept catalogues (``*terms.po``: the words and reasons the flows give, shown through
#: ``tr()``), never extracted nor pruned
def kept(area: str) -> bool:
    return area.endswith("terms")


_JINJA = {"extensions": "jinja2.ext.i18n", "trimmed": "false"}


def area_of(path: Path) -> str:
    """A template's area: its folder under templates/ (the root's files: ``web``)."""
    rel = path.relative_to(TEMPLATES)
    return rel.parts[0] if len(rel.parts) > 1 else "web"


def extracted() -> dict[str, dict[str, list[tuple[str, int]]]]:
    """area -> message -> where it is used."""
    out: dict[str, dict[str, list[tuple[str, int]]]] = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        for line, msg, _, _ in extract_from_file("jinja2", str(path), options=_JINJA):
            if isinstance(msg, tuple):
                msg = msg[0]
            out.setdefault(area_of(path), {}).setdefault(msg, []).append(
                (str(path.relative_to(ROOT)), line)
            )
    for path in sorted(WEB.glob("*.py")):
        for line, msg, _, _ in extract_from_file("python", str(path), keywords={"N_": None}):
            out.setdefault("web", {}).setdefault(msg, []).append(
                (str(path.relative_to(ROOT)), line)
            )
    return out


def load(area: str) -> Catalog:
    path = ZH / f"{area}.po"
    if path.exists():
        with path.open("rb") as fh:
            return read_po(fh, locale="zh_Hans_CN")
    return Catalog(locale="zh_Hans_CN", project="dealvault", domain=area)


def missing() -> list[str]:
    """Every message used on a page without a Chinese translation."""
    out = []
    for area, messages in extracted().items():
        catalog = load(area)
        for msg, where in messages.items():
            entry = catalog.get(msg)
            if entry is None or not entry.string:
                out.append(f"{where[0][0]}:{where[0][1]}: {msg!r}")
    return out


def update() -> None:
    ZH.mkdir(parents=True, exist_ok=True)
    found = extracted()
    for area in sorted(a for a in set(found) | {p.stem for p in ZH.glob("*.po")} if not kept(a)):
        old = load(area)
        new = Catalog(locale="zh_Hans_CN", project="dealvault", domain=area)
        for msg, where in sorted(found.get(area, {}).items()):
            before = old.get(msg)
            new.add(msg, before.string if before else "", locations=where)
        if not len(new):
            (ZH / f"{area}.po").unlink(missing_ok=True)
            continue
        with (ZH / f"{area}.po").open("wb") as fh:
            write_po(fh, new, width=100, omit_header=False, sort_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only report untranslated messages")
    args = ap.parse_args()
    if not args.check:
        update()
    gaps = missing()
    for gap in gaps:
        print(f"no Chinese for {gap}", file=sys.stderr)
    sys.exit(1 if gaps else 0)


if __name__ == "__main__":
    main()
