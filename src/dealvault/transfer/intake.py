"""The records of a received package as an import source: read from the encrypted spool,
canary records left out, the seller's subject id kept under a column of its own."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dealvault.ingest.column_names import clean_headers
from dealvault.ingest.source import (
    DEFAULT_BATCH_ROWS,
    SourceBase,
    SourceBatch,
    number_batches,
)
from dealvault.transfer.manifest import SUBJECT
from dealvault.transfer.spool import SealedSpool

#: The seller's subject id, as a column of the buyer's import.
SELLER_SUBJECT = "seller_subject_id"
#: Scratch directories of receive (``tempfile.mkdtemp`` made them before this version).
RECEIVE_SCRATCH = re.compile(r"dealvault-receive-.+")


class ReceivedRecords(SourceBase):
    """A verified package's records (text columns), batch by batch; ``dropped`` counts the
    records left out because their subject id is in ``drop`` (the seller's canaries)."""

    fmt = "parquet"

    def __init__(
        self,
        *,
        spool: SealedSpool,
        name: str,
        drop: set[str],
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        self.name = name
        self.size_bytes = spool.size
        self.content_hash = f"sha256:{spool.sha256}"
        self.batch_rows = batch_rows
        self._reader = spool.reader()
        self._pf = pq.ParquetFile(self._reader)
        names = self._pf.schema_arrow.names
        self._subject = names.index(SUBJECT)
        self.columns, self.header_notes = clean_headers(
            headers=[SELLER_SUBJECT if n == SUBJECT else n for n in names]
        )
        self._drop = pa.array(sorted(drop), pa.string()) if drop else None
        self.dropped = 0

    def batches(self) -> Iterator[SourceBatch]:
        total = max(self._pf.metadata.num_rows, 1)

        def gen() -> Iterator[tuple[pa.RecordBatch, int | None]]:
            done = 0
            for batch in self._pf.iter_batches(batch_size=self.batch_rows):
                done += batch.num_rows
                if self._drop is not None:
                    keep = pc.invert(pc.is_in(batch.column(self._subject), value_set=self._drop))
                    kept = batch.filter(keep)
                    self.dropped += batch.num_rows - kept.num_rows
                    batch = kept
                cols = [c.cast(pa.string()) for c in batch.columns]
                yield (
                    pa.RecordBatch.from_arrays(cols, names=self.columns),
                    (self.size_bytes * done // total),
                )

        yield from number_batches(batches=gen())

    def close(self) -> None:
        self._pf.close()
        self._reader.close()
