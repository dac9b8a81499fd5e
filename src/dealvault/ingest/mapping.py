"""Column mapping: source headers to canonical fields, proposed from synonyms, overridable;
per column, the options its values are read with (``ingest.options``)."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dealvault.errors import InputError
from dealvault.ingest.fields import FIELDS, SYNONYMS, TableRole, normalise_header
from dealvault.ingest.options import NO_OPTIONS, ColumnOptions, check_options, parse_options

ROW_COLUMN = "__row"
_BRACKETS = re.compile(r"[(（\[【].*?[)）\]】]")
_NONE_WORDS = {"", "-", "none", "null", "ignore", "skip"}


@dataclass(frozen=True)
class ColumnMapping:
    """Source column -> canonical field name (``None``: unmapped, kept as an extra value);
    ``options``: how a mapped column's values are read (phone region, date order)."""

    table_role: TableRole
    columns: dict[str, str | None]
    role_inferred: bool = field(default=False, compare=False)
    options: dict[str, ColumnOptions] = field(default_factory=dict)

    def field_of(self, column: str) -> str | None:
        """The canonical field a source column maps to, if any."""
        return self.columns.get(column)

    def options_of(self, column: str) -> ColumnOptions:
        """The reading options of a source column (none set: read as before)."""
        return self.options.get(column, NO_OPTIONS)

    def column_of(self, field_name: str) -> str | None:
        """The source column mapped to a canonical field, if any."""
        for col, f in self.columns.items():
            if f == field_name:
                return col
        return None


def match_header(*, header: str) -> str | None:
    """The canonical field a header names (synonym match, then without bracketed units)."""
    key = normalise_header(header)
    if key in SYNONYMS:
        return SYNONYMS[key]
    bare = normalise_header(_BRACKETS.sub("", header))
    return SYNONYMS.get(bare) if bare else None


def infer_role(*, fields: Sequence[str | None]) -> TableRole:
    """orders if order time or amount is present; notes if a note but no name; else customers."""
    present = {f for f in fields if f is not None}
    if "order_time" in present or "amount" in present:
        return TableRole.ORDERS
    if "note" in present and "name" not in present:
        return TableRole.NOTES
    return TableRole.CUSTOMERS


def propose_mapping(
    *, columns: Sequence[str], table_role: TableRole | None = None
) -> ColumnMapping:
    """Map headers by synonym; a field claimed twice goes to the first column only."""
    taken: set[str] = set()
    mapped: dict[str, str | None] = {}
    for col in columns:
        f = match_header(header=col)
        if f is not None and f in taken:
            f = None
        if f is not None:
            taken.add(f)
        mapped[col] = f
    role = table_role or infer_role(fields=list(mapped.values()))
    return ColumnMapping(table_role=role, columns=mapped, role_inferred=table_role is None)


def check_mapping(*, mapping: ColumnMapping, file: str | None = None) -> None:
    """Raise ``InputError`` for unknown fields, a field mapped twice, name clashes, missing key."""
    owner: dict[str, str] = {}
    for col, f in mapping.columns.items():
        if col == ROW_COLUMN:
            raise InputError("column name is reserved", file=file, column=col)
        if f is None:
            continue
        if f not in FIELDS:
            raise InputError(f"unknown field {f!r}", file=file, column=col)
        if f in owner:
            raise InputError(
                f"columns {owner[f]!r} and {col!r} are both mapped to field {f!r}",
                file=file,
                column=col,
            )
        owner[f] = col
    for col, f in mapping.columns.items():
        if f is None and col in owner:
            raise InputError(
                f"unmapped column has the name of field {col!r}, which another column fills",
                file=file,
                column=col,
            )
    if "phone_2" in owner and "phone" not in owner:
        raise InputError(
            "a column mapped to 'phone_2' needs a column mapped to 'phone'",
            file=file,
            column=owner["phone_2"],
        )
    if mapping.table_role in (TableRole.ORDERS, TableRole.NOTES) and "customer_key" not in owner:
        raise InputError(
            f"a {mapping.table_role.value} table needs a column mapped to 'customer_key'",
            file=file,
        )
    for col, opts in mapping.options.items():
        if col not in mapping.columns:
            raise InputError("options name a column the source does not have", column=col)
        check_options(field=mapping.columns[col], options=opts, file=file, column=col)


def _field_value(value: object, column: str, source: str) -> str | None:
    if value is None or value is False:
        return None
    if not isinstance(value, str):
        raise InputError("mapping value must be a field name or null", file=source, column=column)
    v = value.strip()
    return None if v.lower() in _NONE_WORDS else v


@dataclass(frozen=True)
class MappingFile:
    """What a mapping file states: fields per column, and reading options per column."""

    columns: dict[str, str | None]
    options: dict[str, ColumnOptions]


def load_mapping_file(*, path: Path) -> MappingFile:
    """Read a mapping file, JSON or TOML (a top-level ``columns`` table is accepted too).

    Each column gives a field name, null ("" or false in TOML) for unmapped, or a table with
    ``field`` and reading options: ``"Tel." = { field = "phone", phone_region = "US" }``,
    ``Born = { date_order = "DMY" }`` (without ``field`` the proposed field is kept).
    """
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError:
        raise InputError("mapping file cannot be read", file=name) from None
    try:
        if path.suffix.lower() == ".toml":
            data: object = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InputError("mapping file is not valid JSON or TOML", file=name) from None
    if isinstance(data, dict) and isinstance(data.get("columns"), dict):
        data = data["columns"]
    if not isinstance(data, dict):
        raise InputError("mapping file must hold a table of column = field", file=name)
    columns: dict[str, str | None] = {}
    options: dict[str, ColumnOptions] = {}
    for key, value in data.items():
        col = str(key)
        if not isinstance(value, dict):
            columns[col] = _field_value(value, col, name)
            continue
        rest = {str(k): v for k, v in value.items() if k != "field"}
        if "field" in value:
            columns[col] = _field_value(value["field"], col, name)
        opts = parse_options(values=rest, file=name, column=col)
        if opts:
            options[col] = opts
    return MappingFile(columns=columns, options=options)


def load_mapping(*, path: Path) -> dict[str, str | None]:
    """The fields a mapping file names, ``{"column": "field" | None}`` (``load_mapping_file``
    has the reading options too)."""
    return load_mapping_file(path=path).columns


def parse_map_flags(*, flags: Sequence[str]) -> dict[str, str | None]:
    """Parse ``--map 列=field`` flags (``列=`` or ``列=-`` leaves the column unmapped)."""
    out: dict[str, str | None] = {}
    for flag in flags:
        col, sep, f = flag.rpartition("=")
        if not sep or not col:
            raise InputError("--map takes COLUMN=FIELD")
        out[col] = _field_value(f, col, "--map")
    return out


def apply_overrides(
    *,
    mapping: ColumnMapping,
    overrides: Mapping[str, str | None],
    file: str | None = None,
    options: Mapping[str, ColumnOptions] | None = None,
) -> ColumnMapping:
    """Apply user overrides, fields and then reading options (set on top of those the mapping
    has; a column given another field loses its old ones); an unknown column or field, or an
    option the field does not read, raises ``InputError`` naming it."""
    cols = dict(mapping.columns)
    for col, f in overrides.items():
        if col not in cols:
            raise InputError("mapping names a column the source does not have", column=col)
        if f is not None and f not in FIELDS:
            raise InputError(f"unknown field {f!r}", file=file, column=col)
        cols[col] = f
    opts = {c: o for c, o in mapping.options.items() if cols.get(c) == mapping.columns.get(c)}
    for col, o in (options or {}).items():
        opts[col] = opts.get(col, NO_OPTIONS).merged(o)
    role = infer_role(fields=list(cols.values())) if mapping.role_inferred else mapping.table_role
    result = ColumnMapping(
        table_role=role, columns=cols, role_inferred=mapping.role_inferred, options=opts
    )
    check_mapping(mapping=result, file=file)
    return result
