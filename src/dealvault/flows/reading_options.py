"""How an import reads a mapped column's values: the classifier's findings, under the user's.

A phone column whose numbers the classifier found in another country's national layout is
read in that region; a date column written day and month is read in the order its values
show (a day above 12). The user's word — the mapping file or ``--phone-region`` /
``--date-order`` — overrides both. Where the values do not tell — dates that read either way,
numbers that fit two countries' layouts alike (Singapore and Hong Kong write 8 digits the
same way) — the column is refused until the user states it: a guess would misdate every
customer whose day is 12 or less, or give every number the wrong country code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import phonenumbers

from dealvault.classify.columns import ColumnClass
from dealvault.errors import InputError
from dealvault.ingest.fields import FIELDS
from dealvault.ingest.options import (
    DATE_KINDS,
    DEFAULT_REGION,
    PHONE_KINDS,
    ColumnOptions,
    DateOrder,
)

#: a Han character: a column headed in Chinese
_HAN: Final = re.compile(r"[\u3400-\u9fff]")
#: The classifier's code for the order it chose (``classify.dates.date_order``).
ORDERS: Final = {1.0: DateOrder.DMY, 2.0: DateOrder.MDY}


@dataclass(frozen=True, slots=True)
class Reading:
    """One column's options, what they rest on (shown by ``import --dry-run``), and why the
    import would refuse the column (None: it would not)."""

    options: ColumnOptions
    evidence: str
    refused: str | None = None


def quoted(text: str) -> str:
    """``text`` single-quoted for a POSIX shell."""
    return "'" + text.replace("'", "'\\''") + "'"


def how_to_state_order(*, column: str) -> str:
    """The two ways to state a column's day and month order."""
    return (
        f"State the order: --date-order {quoted(column + '=DMY')} (or MDY) on the import, or "
        f'date_order = "DMY" for the column in the mapping file'
    )


def how_to_state_region(*, column: str, region: str) -> str:
    """The two ways to state the region of a column's numbers."""
    return (
        f"State the region: --phone-region {quoted(f'{column}={region}')} (or another) on the "
        f'import, or phone_region = "{region}" for the column in the mapping file'
    )


def _phone_region(cls: ColumnClass) -> str | None:
    """The region the classifier read the column's numbers without +CC in, if not China."""
    code = cls.evidence.get("phone_country_code")
    if cls.pii_type != "intl_phone" or not code or not cls.evidence.get("share.national_format"):
        return None
    region = phonenumbers.region_code_for_country_code(int(code))
    return None if region in ("ZZ", DEFAULT_REGION) else region


def found_reading(*, column: str, field: str, cls: ColumnClass | None) -> Reading | None:
    """The options the classifier's findings give a column mapped to ``field``, or a refusal
    where the values leave it open: dates written day and month of which none shows the
    order, numbers that fit several regions' layouts alike (``phone_regions_tied``)."""
    if cls is None:
        return None
    kind = FIELDS[field].kind
    ev = cls.evidence
    if kind in PHONE_KINDS:
        region = _phone_region(cls)
        if region is None:
            return None
        tied = int(ev.get("phone_regions_tied", 0))
        if tied:
            how = how_to_state_region(column=column, region=region)
            why = (
                f"its numbers without +CC fit the national layout of {region} and of {tied} "
                "other region(s) alike, so their country cannot be told; a guess would give "
                f"every number the wrong country code. {how}"
            )
            return Reading(
                ColumnOptions(), f"phones: {region} or {tied} other layout(s), ambiguous", why
            )
        if _HAN.search(column):
            how = how_to_state_region(column=column, region=region)
            why = (
                f"its numbers without +CC fit the national layout of {region}, but the column "
                "is headed in Chinese, and local numbers of a Chinese export written without "
                f"their area code look the same; the region is not guessed. {how}"
            )
            return Reading(ColumnOptions(), f"phones: {region} layout under a Chinese header", why)
        valid = ev.get("share.intl_phone", 0.0)
        return Reading(
            ColumnOptions(phone_region=region),
            f"phones: {region} national format, {valid:.0%} valid",
        )
    if kind in DATE_KINDS and ev.get("date_order") in ORDERS:
        order = ORDERS[ev["date_order"]]
        count = int(ev.get("day_month_values", 0))
        shown = ev.get("date_order_shown", 0.0)
        if shown > 0:
            return Reading(
                ColumnOptions(date_order=order),
                f"dates: {order.label}, {shown:.0%} of {count} day-and-month dates show it",
            )
        why = (
            f"its dates are written day and month and none of the {count} sampled shows the "
            "order (no day above 12), so it cannot be told; a guess would misdate every "
            f"customer whose day is 12 or less. {how_to_state_order(column=column)}"
        )
        return Reading(ColumnOptions(), "dates: day and month order ambiguous", refused=why)
    return None


def stated_evidence(*, options: ColumnOptions, source: str) -> str:
    """What the user's options say, and where they were stated."""
    parts = []
    if options.phone_region is not None:
        parts.append(f"phones: {options.phone_region} national format")
    if options.date_order is not None:
        parts.append(f"dates: {options.date_order.label}")
    return f"{'; '.join(parts)} ({source})"


def column_readings(
    *,
    columns: Mapping[str, str | None],
    stated: Mapping[str, tuple[ColumnOptions, str]],
    found: Mapping[str, ColumnClass],
) -> dict[str, Reading]:
    """Per mapped column with options: the user's (``stated``: options and where) on top of
    the classifier's; a refusal stands only where the user stated nothing for the column."""
    out: dict[str, Reading] = {}
    for col, field in columns.items():
        if field is None:
            continue
        got = found_reading(column=col, field=field, cls=found.get(col))
        user = stated.get(col)
        if user is None:
            if got is not None:
                out[col] = got
            continue
        opts, source = user
        settled = opts.date_order is not None or opts.phone_region is not None
        if got is None or (got.refused is not None and settled):
            out[col] = Reading(opts, stated_evidence(options=opts, source=source))
            continue
        merged = got.options.merged(opts)
        out[col] = Reading(
            merged, f"{stated_evidence(options=opts, source=source)}; {got.evidence}", got.refused
        )
    return out


def refuse_unreadable(*, readings: Mapping[str, Reading], file: str) -> None:
    """Raise ``InputError`` (file and column named) for the first column the import cannot
    read without a guess."""
    for col, reading in readings.items():
        if reading.refused is not None:
            raise InputError(reading.refused, file=file, column=col)
