"""Header clean-up: generated names for empty headers, unique names, internal names renamed."""

from __future__ import annotations

import pytest

from dealvault.deidentify import levels
from dealvault.ingest.column_names import clean_headers, is_reserved
from dealvault.ingest.mapping import ROW_COLUMN
from dealvault.transfer import manifest
from dealvault.vault import payloads


def test_every_internal_column_name_is_reserved() -> None:
    """The names the read path, the levels and the import writer add to their frames."""
    used = {
        *levels.INTERNAL,
        levels.TOKEN_COLUMN,
        *payloads.INTERNAL,
        ROW_COLUMN,
        manifest.SUBJECT,
        "__bi_phone",
    }
    assert all(is_reserved(n) for n in used), sorted(n for n in used if not is_reserved(n))
    cleaned, _ = clean_headers(headers=sorted(used))
    assert not any(is_reserved(n) for n in cleaned)


@pytest.mark.parametrize(
    ("headers", "names"),
    [
        (["a", "", "c"], ["a", "column_2", "c"]),
        (["a", "  ", "c", ""], ["a", "column_2", "c", "column_4"]),
        (["a", "a", "a"], ["a", "a_2", "a_3"]),
        (["a", "a_2", "a"], ["a", "a_2", "a_3"]),  # a generated name never takes a real one
        (["column_2", ""], ["column_2", "column_2_2"]),
        (["subject_id", "record_id", "token"], ["subject_id_src", "record_id_src", "token_src"]),
        (["__row", "__", "___mk"], ["row_src", "column_2_src", "mk_src"]),
        (["subject_id_src", "subject_id"], ["subject_id_src", "subject_id_src_2"]),
        (["\ufeff姓名", "手机"], ["姓名", "手机"]),
        (["姓名", "手机"], ["姓名", "手机"]),
    ],
)
def test_clean_headers(headers: list[str], names: list[str]) -> None:
    out, notes = clean_headers(headers=headers)
    assert out == names
    assert len(set(out)) == len(out)
    assert len(notes) == sum(a != b for a, b in zip(headers, names, strict=True)) - (
        1 if headers[0].startswith("\ufeff") else 0
    )
