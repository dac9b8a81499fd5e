"""Output helpers: JSON for scripts, Rich tables for people, control characters escaped."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from pydantic import BaseModel
from rich.console import Console
from rich.errors import MarkupError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

#: Characters that can move the cursor, rewrite the screen or reorder what is shown: C0 and
#: C1 controls, DEL, bidirectional embeddings, overrides, isolates and marks, line separators.
_UNSAFE: Final = [
    *range(0x00, 0x20),
    0x7F,
    *range(0x80, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_ESCAPES: Final = {code: _escape(code) for code in _UNSAFE}
_KEEP_NEWLINES: Final = {k: v for k, v in _ESCAPES.items() if k != ord("\n")}
#: What JSON leaves unescaped (it escapes C0 itself; C0 outside strings is layout).
_JSON_UNSAFE: Final = re.compile(
    "[" + "".join(re.escape(chr(c)) for c in _UNSAFE if c >= 0x7F) + "]"
)


def terminal_safe(text: str, *, newlines: bool = False) -> str:
    """``text`` with every control, bidi and line-separator character shown as a visible escape
    (``\\x1b``, ``\\u202e``), so a value cannot clear the screen, move the cursor, fake a line
    or reorder the text around it. ``newlines`` keeps line feeds (our own multi-line messages).
    """
    return text.translate(_KEEP_NEWLINES if newlines else _ESCAPES)


class SafeConsole(Console):
    """A Rich console that escapes control characters in every string it renders (printed
    text, table cells, titles and headers) before markup and styles are applied; a line whose
    markup a value broke (an unmatched ``[/]``) is shown as plain text, not a traceback."""

    def render_str(self, text: str, *args: Any, **kwargs: Any) -> Text:
        safe = terminal_safe(text, newlines=True)
        try:
            return super().render_str(safe, *args, **kwargs)
        except MarkupError:
            return super().render_str(safe, *args, **{**kwargs, "markup": False})


def to_jsonable(obj: BaseModel | Sequence[BaseModel] | dict[str, Any] | list[Any]) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, list | tuple):
        return [to_jsonable(o) for o in obj]
    return obj


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(obj: Any, *, indent: int | None = 2) -> str:
    """``obj`` as JSON, non-ASCII text kept readable but C1, bidi and line-separator
    characters written as ``\\uXXXX`` (JSON escapes C0 itself), so it is safe on a terminal."""
    text = json.dumps(to_jsonable(obj), ensure_ascii=False, default=str, indent=indent)
    return _JSON_UNSAFE.sub(_json_escape, text)  # they can only occur inside strings


def print_json(console: Console, obj: Any) -> None:
    console.print(json_text(obj), markup=False, highlight=False, soft_wrap=True, emoji=False)


def cell(value: Any) -> Text:
    """A table cell from a value: text as it is (no markup), control characters escaped."""
    return Text("" if value is None else terminal_safe(str(value)))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(cell(c), overflow="fold")
    for r in rows:
        t.add_row(*[cell(v) for v in r])
    return t


def kv_table(title: str | None, items: Sequence[tuple[str, Any]]) -> Table:
    t = Table(title=title, show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    for k, v in items:
        t.add_row(cell(k), cell(v))
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
