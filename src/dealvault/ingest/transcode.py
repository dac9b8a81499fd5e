"""A read-only binary file that turns GBK / GB18030 (or other ASCII-compatible) bytes into UTF-8."""

from __future__ import annotations

import io
from typing import BinaryIO

from dealvault.ingest.csv_detect import safe_cut

CHUNK = 1 << 22
MAX_LINE = 1 << 26


class DecodeFailure(Exception):
    """Raised inside ``read``; carries the absolute byte offset and physical line."""

    def __init__(self, offset: int, line: int) -> None:
        super().__init__(f"undecodable bytes at offset {offset}, line {line}")
        self.offset = offset
        self.line = line


class TranscodingReader(io.RawIOBase):
    """Decode ``raw`` chunk-wise at character boundaries and hand out UTF-8 bytes.

    GBK input that turns out to need GB18030 (4-byte sequences) switches codec in place:
    both agree on every GBK character, so the output is the same as decoding as GB18030.
    """

    def __init__(self, raw: BinaryIO, *, codec: str, start: int = 0) -> None:
        super().__init__()
        self._raw = raw
        self.codec = codec
        self.upgraded = False
        self.failure: DecodeFailure | None = None
        self.consumed = start  # raw bytes decoded so far (absolute offset)
        self._lines = 0  # newlines in consumed raw bytes
        self._pending = b""
        self._buf = b""
        self._pos = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def _decode(self, piece: bytes) -> bytes:
        try:
            text = piece.decode(self.codec)
        except UnicodeDecodeError as e:
            if self.codec == "gbk":
                try:
                    text = piece.decode("gb18030")
                except UnicodeDecodeError:
                    pass
                else:
                    self.codec, self.upgraded = "gb18030", True
                    return text.encode("utf-8")
            self.failure = DecodeFailure(
                self.consumed + e.start, self._lines + piece.count(b"\n", 0, e.start) + 1
            )
            raise self.failure from None
        return text.encode("utf-8")

    def _fill(self) -> bytes | None:
        """Decode the next chunk of input; None at end of input."""
        while not self._eof:
            chunk = self._raw.read(CHUNK)
            if not chunk:
                self._eof = True
                piece, self._pending = self._pending, b""
            else:
                cut = safe_cut(chunk)
                if cut == 0:
                    self._pending += chunk
                    if len(self._pending) > MAX_LINE:
                        self.failure = DecodeFailure(self.consumed, self._lines + 1)
                        raise self.failure
                    continue
                head = chunk[:cut] if cut < len(chunk) else chunk
                piece = self._pending + head if self._pending else head
                self._pending = chunk[cut:]
            if not piece:
                return None
            out = self._decode(piece)
            self.consumed += len(piece)
            self._lines += piece.count(b"\n")
            return out
        return None

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes of UTF-8 (fewer only at end of input)."""
        if size is None or size < 0:
            size = 1 << 62
        avail = len(self._buf) - self._pos
        if avail >= size:
            result = self._buf[self._pos : self._pos + size]
            self._pos += size
            return result
        parts = [self._buf[self._pos :]] if avail else []
        got = avail
        self._buf, self._pos = b"", 0
        while got < size:
            out = self._fill()
            if out is None:
                break
            need = size - got
            if len(out) > need:
                parts.append(out[:need])
                self._buf, self._pos = out, need
                got = size
            else:
                parts.append(out)
                got += len(out)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, b: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)
