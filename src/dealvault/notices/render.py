"""Template sets and rendering: each customer's message for a channel, in their language,
rendered for a whole batch at once (Polars expressions, no Python call per customer)."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Final

import polars as pl

from dealvault.errors import Invalid, NotFound

CHANNELS: Final = ("sms", "email", "letter")
LANGUAGES: Final = ("zh", "en")
#: the customer's contact point each channel is delivered to
ADDRESS: Final = {"sms": "phone", "email": "email", "letter": "address"}
#: the customer's fields a template may use (from the vault)
CUSTOMER_FIELDS: Final = ("name",)
#: customers' columns a batch is rendered from
CONTACTS: Final = pl.Schema(
    {
        "subject_id": pl.String(),
        "name": pl.String(),
        "phone": pl.String(),
        "email": pl.String(),
        "address": pl.String(),
    }
)


@dataclass(frozen=True)
class Message:
    subject: str | None
    body: str


@dataclass(frozen=True)
class TemplateSet:
    name: str
    messages: Mapping[tuple[str, str], Message]  # (language, channel)

    def fields(self) -> set[str]:
        """Every placeholder the set uses."""
        out: set[str] = set()
        for m in self.messages.values():
            for text in (m.subject or "", m.body):
                out |= {f for _, f, _, _ in string.Formatter().parse(text) if f}
        return out


def parse_template_set(text: str, *, where: str) -> TemplateSet:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"{where}: not valid TOML ({exc})") from None
    head = doc.get("set", {})
    messages: dict[tuple[str, str], Message] = {}
    for lang in LANGUAGES:
        for channel, m in doc.get(lang, {}).items():
            if channel not in CHANNELS or set(m) - {"subject", "body"} or "body" not in m:
                raise Invalid(f"{where}: [{lang}.{channel}] is not a channel with a body")
            messages[(lang, channel)] = Message(m.get("subject"), m["body"])
    unknown = sorted(set(doc) - {"set", *LANGUAGES})
    if unknown:
        raise Invalid(f"{where}: unknown section {unknown[0]!r}")
    return TemplateSet(name=str(head.get("name", where)), messages=messages)


def template_set(name: str) -> TemplateSet:
    """A template set shipped in the package (``notices/templates/NAME.toml``)."""
    if not name.isidentifier():
        raise NotFound(f"template set {name!r} not found")
    ref = resources.files("dealvault.notices").joinpath("templates", f"{name}.toml")
    if not ref.is_file():
        raise NotFound(f"template set {name!r} not found")
    return parse_template_set(ref.read_text("utf-8"), where=f"{name}.toml")


def _expr(template: str, context: Mapping[str, str]) -> pl.Expr:
    """``template`` as one expression: literal text and context values as literals, the
    customer's fields as columns."""
    parts: list[pl.Expr] = []
    for literal, field, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append(pl.lit(literal))
        if not field:
            continue
        if field in CUSTOMER_FIELDS:
            parts.append(pl.col(field).fill_null(""))
        elif field in context:
            parts.append(pl.lit(context[field]))
        else:
            raise Invalid(f"the template needs {field!r}, which the notice does not give")
    return pl.concat_str(parts) if parts else pl.lit("")


def language_of() -> pl.Expr:
    """English for foreign customers (a phone number with a country code other than +86),
    else Chinese."""
    phone = pl.col("phone").fill_null("")
    foreign = phone.str.starts_with("+") & ~phone.str.starts_with("+86")
    return pl.when(foreign).then(pl.lit("en")).otherwise(pl.lit("zh"))


def render(
    customers: pl.DataFrame,
    *,
    tset: TemplateSet,
    channel: str,
    context: Mapping[str, Mapping[str, str]],
) -> pl.DataFrame:
    """(subject_id, language, address, subject, message) for every customer of ``customers``
    (schema :data:`CONTACTS`); ``address`` is null where the customer has no contact point for
    the channel. ``context``: per language, the values of the non-customer placeholders."""
    if channel not in CHANNELS:
        raise Invalid(f"unknown channel (one of {', '.join(CHANNELS)})")
    frame = customers.with_columns(language=language_of())
    parts = []
    for lang in LANGUAGES:
        part = frame.filter(pl.col("language") == lang)
        if part.is_empty():
            continue
        msg = tset.messages.get((lang, channel))
        if msg is None:
            raise Invalid(f"template set {tset.name!r} has no {lang} {channel} message")
        values = context.get(lang)
        if values is None:
            who = "foreign customer(s) (a phone outside +86)" if lang == "en" else "customer(s)"
            raise Invalid(
                f"{part.height} {who} need the {lang} notice, which is not final"
                + (
                    " (if the GDPR applies: incident regimes, then a gdpr-subjects notice)"
                    if lang == "en"
                    else ""
                )
            )
        parts.append(
            part.select(
                "subject_id",
                "language",
                pl.col(ADDRESS[channel]).alias("address"),
                (_expr(msg.subject, values) if msg.subject else pl.lit(None, pl.String)).alias(
                    "subject"
                ),
                _expr(msg.body, values).alias("message"),
            )
        )
    empty = pl.DataFrame(
        schema={n: pl.String for n in ("subject_id", "language", "address", "subject", "message")}
    )
    return pl.concat(parts) if parts else empty
