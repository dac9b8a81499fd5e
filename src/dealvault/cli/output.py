"""Output helpers: JSON for scripts, Rich tables for people."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table


def to_jsonable(obj: BaseModel | Sequence[BaseModel] | dict[str, Any] | list[Any]) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, list | tuple):
        return [to_jsonable(o) for o in obj]
    return obj


def print_json(console: Console, obj: Any) -> None:
    console.print_json(json.dumps(to_jsonable(obj), ensure_ascii=False, default=str))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    return t


def kv_table(title: str | None, items: Sequence[tuple[str, Any]]) -> Table:
    t = Table(title=title, show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    for k, v in items:
        t.add_row(k, "" if v is None else str(v))
    return t


@contextmanager
def import_progress(
    err: Console, *, show: bool, task: str
) -> Iterator[Callable[[int, int | None], None]]:
    """A transient bar on stderr for an import: rows imported of the rows the source holds
    (counted before reading; a bar without an end when that is unknown, e.g. XLSX or SQL);
    yields the ``progress(rows, expected)`` callback ``flows.importing`` takes."""
    with Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeRemainingColumn(),
        console=err,
        disable=not show,
        transient=True,
    ) as bar:
        task_id = bar.add_task(task, total=None)

        def progress(rows: int, expected: int | None) -> None:
            # a CSV's line count is an upper bound (quoted line breaks): never past the end
            total = max(expected, rows) if expected is not None else None
            bar.update(task_id, completed=rows, total=total)

        yield progress
