"""Per-column reading options: the region of phone numbers written without +CC and the order
of day and month in dates such as 03/07/1985.

They are set from the classifier's findings (``flows.mapping_plan``) or stated by the user in
the mapping file or on the command line; the validators read the column with them. A column
without options reads as before: phones without +CC as Chinese, dates year first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

import phonenumbers

from dealvault.errors import InputError
from dealvault.ingest.fields import FIELDS

#: The region numbers without +CC are read in when no option says otherwise.
DEFAULT_REGION: Final = "CN"
#: Option names as the mapping file and the ``--json`` output spell them.
OPTION_NAMES: Final = ("phone_region", "date_order")
PHONE_KINDS: Final = frozenset({"phone"})
DATE_KINDS: Final = frozenset({"date", "datetime"})


class DateOrder(StrEnum):
    """Day and month order of dates written ``03/07/1985``, ``03.07.1985`` or ``3-7-1985``."""

    DMY = "DMY"
    MDY = "MDY"

    @property
    def label(self) -> str:
        """``D/M/Y`` or ``M/D/Y``."""
        return "/".join(self.value)


@dataclass(frozen=True, slots=True)
class ColumnOptions:
    """How one column's values are read. ``phone_region``: ISO 3166 region (``US``, ``GB``)
    of numbers written without +CC; ``date_order``: the day and month order."""

    phone_region: str | None = None
    date_order: DateOrder | None = None

    def __bool__(self) -> bool:
        return self.phone_region is not None or self.date_order is not None

    def merged(self, other: ColumnOptions) -> ColumnOptions:
        """These options with those ``other`` sets on top."""
        return replace(
            self,
            phone_region=other.phone_region or self.phone_region,
            date_order=other.date_order or self.date_order,
        )

    def as_dict(self) -> dict[str, str]:
        """The options set, by name (``{"phone_region": "US"}``)."""
        out = {"phone_region": self.phone_region, "date_order": self.date_order}
        return {k: str(v) for k, v in out.items() if v is not None}


NO_OPTIONS: Final = ColumnOptions()


def parse_region(*, value: object, file: str | None = None, column: str | None = None) -> str:
    """An ISO 3166 region phonenumbers knows (``us`` -> ``US``; ``UK`` is ``GB``)."""
    region = str(value).strip().upper() if isinstance(value, str) else ""
    region = "GB" if region == "UK" else region
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InputError(
            "phone_region must be a two-letter region code such as US, GB, IN or DE",
            file=file,
            column=column,
        )
    return region


def parse_date_order(
    *, value: object, file: str | None = None, column: str | None = None
) -> DateOrder:
    """``DMY`` or ``MDY`` (any case; ``D/M/Y`` and ``M/D/Y`` too)."""
    text = value.replace("/", "").strip().upper() if isinstance(value, str) else ""
    try:
        return DateOrder(text)
    except ValueError:
        raise InputError(
            "date_order must be DMY (day first) or MDY (month first)", file=file, column=column
        ) from None


def parse_options(
    *, values: Mapping[str, object], file: str | None = None, column: str | None = None
) -> ColumnOptions:
    """Options from a mapping file's table (``{"phone_region": "US"}``); unknown names raise."""
    unknown = sorted(set(values) - set(OPTION_NAMES))
    if unknown:
        raise InputError(
            f"unknown column option {unknown[0]!r} (options: {', '.join(OPTION_NAMES)})",
            file=file,
            column=column,
        )
    region = values.get("phone_region")
    order = values.get("date_order")
    return ColumnOptions(
        phone_region=None
        if region is None
        else parse_region(value=region, file=file, column=column),
        date_order=None
        if order is None
        else parse_date_order(value=order, file=file, column=column),
    )


def check_options(
    *, field: str | None, options: ColumnOptions, file: str | None = None, column: str | None = None
) -> None:
    """Raise ``InputError`` for an option the column's field does not read."""
    kind = FIELDS[field].kind if field is not None else None
    if options.phone_region is not None and kind not in PHONE_KINDS:
        raise InputError(
            "phone_region applies to a column mapped to 'phone' or 'phone_2'",
            file=file,
            column=column,
        )
    if options.date_order is not None and kind not in DATE_KINDS:
        raise InputError(
            "date_order applies to a column mapped to a date or date-time field",
            file=file,
            column=column,
        )
