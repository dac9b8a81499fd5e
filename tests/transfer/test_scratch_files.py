"""The files a build or receive writes before it is done: undecryptable until recorded, or
encrypted under a key that dies with the process."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pyrage
import pytest

from dealvault.errors import IntegrityError
from dealvault.transfer.manifest import INDEX_FILE, RECORDS_FILE, ColumnSpec, PackageSchema
from dealvault.transfer.package import install_headers, write_records
from dealvault.transfer.spool import CHUNK, SealedSpool


def test_package_files_open_only_once_their_headers_are_installed(tmp_path: Path) -> None:
    schema = PackageSchema((ColumnSpec("email", "contact"),))
    ident, other = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    frame = pl.DataFrame(
        {"subject_id": [f"s{i:04d}" for i in range(500)], "email": ["a@x.invalid"] * 500}
    )
    result = write_records(
        tmp_path,
        frames=[frame],
        schema=schema,
        recipients=[ident.to_public(), other.to_public()],
    )
    for name in (RECORDS_FILE, INDEX_FILE):
        data = (tmp_path / name).read_bytes()
        head = result.headers[name]
        assert head.startswith(b"age-encryption.org/v1\n") and data.startswith(bytes(len(head)))
        with pytest.raises(pyrage.DecryptError):
            pyrage.decrypt(data, [ident])
    install_headers(tmp_path, result.headers)
    for name in (RECORDS_FILE, INDEX_FILE):
        data = (tmp_path / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == result.files[name]["sha256"]
        assert len(data) == result.files[name]["bytes"]
    plain = pyrage.decrypt((tmp_path / RECORDS_FILE).read_bytes(), [other])
    assert pl.read_parquet(io.BytesIO(plain)).height == 500


def test_the_spool_reads_back_seeks_and_holds_nothing_clear(tmp_path: Path) -> None:
    payload = os.urandom(CHUNK) + b"13900000001 user1@example.com " * 50_000
    spool = SealedSpool(tmp_path / "s")
    for i in range(0, len(payload), 65_536):
        spool.write(memoryview(payload)[i : i + 65_536])
    spool.finish()
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o600
    raw = (tmp_path / "s").read_bytes()
    assert b"13900000001" not in raw and spool.size == len(payload)
    assert spool.sha256 == hashlib.sha256(payload).hexdigest()
    reader = spool.reader()
    assert reader.read() == payload
    reader.seek(CHUNK - 5)
    assert reader.read(10) == payload[CHUNK - 5 : CHUNK + 5]
    assert reader.seek(-3, io.SEEK_END) == len(payload) - 3 and reader.read() == payload[-3:]
    # a flipped bit is found, not read
    with (tmp_path / "s").open("r+b") as fh:
        fh.seek(CHUNK + 40)
        byte = fh.read(1)
        fh.seek(CHUNK + 40)
        fh.write(bytes([byte[0] ^ 1]))
    reader.seek(0)
    with pytest.raises(IntegrityError, match="altered"):
        reader.read()


def test_parquet_reads_through_the_spool(tmp_path: Path) -> None:
    table = pa.table({"a": [str(i) for i in range(100_000)]})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=10_000)
    spool = SealedSpool(tmp_path / "p")
    spool.write(buf.getvalue())
    spool.finish()
    assert pq.ParquetFile(spool.reader()).read().equals(table)
    empty = SealedSpool(tmp_path / "e")
    empty.finish()
    assert empty.size == 0 and empty.reader().read() == b""
