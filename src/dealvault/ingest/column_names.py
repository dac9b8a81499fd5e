"""Source column names: empty headers named, repeats made unique, internal names renamed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

#: Column names dealvault adds to the frames it builds: a source column of the same name
#: would collide with them on import or on every later read (``vault.read`` adds
#: ``record_id`` and ``subject_id``, the masked and pseudonymized levels ``token``). Names
#: starting with ``__`` are reserved for the pipeline's own working columns (``__row``,
#: ``__bi_phone`` ...).
RESERVED: Final = frozenset({"record_id", "subject_id", "token"})
INTERNAL_PREFIX: Final = "__"
SOURCE_SUFFIX: Final = "_src"


def is_reserved(name: str) -> bool:
    """True for a name the pipeline uses itself."""
    return name in RESERVED or name.startswith(INTERNAL_PREFIX)


def _unique(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    k = 2
    while f"{base}_{k}" in taken:
        k += 1
    return f"{base}_{k}"


def clean_headers(*, headers: Sequence[str]) -> tuple[list[str], list[str]]:
    """Usable column names for ``headers`` (in order) and one note per change.

    An empty header becomes ``column_<position>``; a repeated header gets ``_2``, ``_3`` …;
    a name dealvault uses internally gets ``_src`` (``subject_id`` -> ``subject_id_src``,
    ``__row`` -> ``row_src``), so no data is lost and nothing collides. A byte-order mark
    before the first header is dropped. Notes name positions and headers, never values.
    """
    names = [h.replace("\ufeff", "") if i == 0 else h for i, h in enumerate(headers)]
    taken = {n for n in names if n.strip() and not is_reserved(n)}
    seen: set[str] = set()
    out: list[str] = []
    notes: list[str] = []
    for pos, name in enumerate(names, start=1):
        if not name.strip():
            new = _unique(f"column_{pos}", taken | seen)
            notes.append(f"column {pos} has no header: named {new!r}")
        elif is_reserved(name):
            stem = name.lstrip("_") or f"column_{pos}"
            new = _unique(stem + SOURCE_SUFFIX, taken | seen)
            notes.append(
                f"column {pos} header {name!r} is a name dealvault uses internally: renamed {new!r}"
            )
        elif name in seen:
            new = _unique(name, taken | seen)
            notes.append(f"column {pos} header {name!r} repeats an earlier one: renamed {new!r}")
        else:
            new = name
        seen.add(new)
        out.append(new)
    return out, notes
