"""The worker-process pool: order, bounded fan-out, errors and dead workers reach the caller."""

from __future__ import annotations

import io
import os

import pytest

from dealvault.parallel import BatchPool, WorkerFailed, dumps, read_frame, write_frame


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_back_in_job_order(workers: int) -> None:
    with BatchPool(pow, 3, workers=workers) as pool:  # pow(3, i) in a worker process
        got = list(pool.map((i,) for i in range(25)))
    assert got == [3**i for i in range(25)]


def test_a_job_error_is_raised_at_that_job_and_the_pool_ends() -> None:
    seen = []
    with pytest.raises(ValueError, match="invalid literal"), BatchPool(int, workers=2) as pool:
        for value in pool.map([("1",), ("2",), ("three",), ("4",)]):
            seen.append(value)
    assert seen == [1, 2]


def test_a_dead_worker_is_reported_not_waited_for() -> None:
    with (
        pytest.raises(WorkerFailed, match="exited with code 3"),
        BatchPool(os._exit, workers=2) as pool,
    ):
        list(pool.map([(3,), (3,)]))


def test_frames_round_trip_and_a_cut_frame_is_an_error() -> None:
    buf = io.BytesIO()
    write_frame(buf, dumps(("rows", [(1, "s", b"\x00" * 40, None)])))
    raw = buf.getvalue()
    assert read_frame(io.BytesIO(raw)) == dumps(("rows", [(1, "s", b"\x00" * 40, None)]))
    assert read_frame(io.BytesIO(b"")) is None
    with pytest.raises(EOFError):
        read_frame(io.BytesIO(raw[:-1]))
    with pytest.raises(EOFError):
        read_frame(io.BytesIO(raw[:3]))
