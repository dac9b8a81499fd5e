"""Scan a disk tree for customers' clear values, the way someone finding the files would:
raw bytes, Parquet opened (its pages are compressed), tar members; and list the age files a
given identity decrypts."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyrage

from tests.vault.helpers import customer_row

AGE = b"age-encryption.org/v1"


def clear_values(n: int) -> list[bytes]:
    """Values of invented customers 1..n that must never lie on disk in clear."""
    out: set[bytes] = set()
    for i in range(1, n + 1):
        row = customer_row(i)
        for column in ("手机号", "邮箱", "身份证号", "地址"):
            out.add(row[column].encode())
    return sorted(out)


@dataclass
class Scan:
    hits: list[str] = field(default_factory=list)
    #: age files the identity opens
    decryptable: list[Path] = field(default_factory=list)


def scan(
    roots: Iterable[Path],
    needles: Sequence[bytes],
    *,
    identities: Sequence[pyrage.x25519.Identity] = (),
    skip: Sequence[Path] = (),
) -> Scan:
    found = Scan()
    for root in roots:
        for path in sorted(root.rglob("*")):
            if any(path.is_relative_to(s) for s in skip) or path.is_symlink():
                continue
            if path.is_file():
                data = path.read_bytes()
                found.hits += _hits(str(path), data, needles)
                if identities and data.startswith(AGE):
                    try:
                        pyrage.decrypt(data, list(identities))
                        found.decryptable.append(path)
                    except pyrage.DecryptError:
                        pass
    return found


def _hits(where: str, data: bytes, needles: Sequence[bytes]) -> list[str]:
    out = [f"{where}: {n.decode()}" for n in needles if n in data]
    if data.startswith(b"PAR1"):
        try:
            table = pq.read_table(pa.BufferReader(data))
        except (pa.ArrowException, OSError):
            table = None
        if table is not None:
            text = "\n".join(
                str(v) for column in table.columns for v in column.to_pylist()
            ).encode()
            out += [f"{where} (Parquet): {n.decode()}" for n in needles if n in text]
    if len(data) > 262 and data[257:262] == b"ustar":
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                fh = tar.extractfile(member)
                if fh is not None:
                    out += _hits(f"{where}!{member.name}", fh.read(), needles)
    return out
