"""The cross-border rules file (compliance/crossborder.toml): read, validated, explained."""

from __future__ import annotations

import itertools
import tomllib
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dealvault.errors import Invalid

FILE: Final = "crossborder.toml"
#: the mechanisms counsel can record for a plan
KINDS: Final = (
    "security_assessment",
    "standard_contract",
    "certification",
    "scc",
    "adequacy",
    "derogation",
)
PIPL_KINDS: Final = ("security_assessment", "standard_contract", "certification")
#: what each recorded PIPL mechanism satisfies (a stronger one satisfies a weaker need)
SATISFIES: Final = {
    "security_assessment": {"security_assessment", "standard_contract"},
    "standard_contract": {"standard_contract"},
    "certification": {"standard_contract"},
}
_ISO2 = r"^[A-Z]{2}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    effective: date
    note: str | None = None

    def cite(self) -> str:
        return f"{self.en} ({self.zh}), effective {self.effective:%Y-%m-%d}"


class Mainland(_Strict):
    codes: tuple[str, ...] = Field(min_length=1)
    outside_note: str

    @field_validator("codes")
    @classmethod
    def _iso(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in v if len(c) != 2 or not c.isupper()]
        if bad:
            raise ValueError(f"not ISO 3166-1 alpha-2 codes: {', '.join(bad)}")
        return v


class Threshold(_Strict):
    mechanism: Literal["security_assessment", "standard_contract"]
    min_individuals: int = Field(gt=0)
    min_sensitive: int = Field(gt=0)
    sources: tuple[str, ...] = Field(min_length=1)
    article: str = Field(min_length=1)


class Pipl(_Strict):
    year_start_utc_offset_hours: int = Field(ge=-12, le=14)
    note: str
    thresholds: tuple[Threshold, ...] = Field(min_length=1)

    @field_validator("thresholds")
    @classmethod
    def _descending(cls, v: tuple[Threshold, ...]) -> tuple[Threshold, ...]:
        for hi, lo in itertools.pairwise(v):
            if hi.min_individuals <= lo.min_individuals or hi.min_sensitive <= lo.min_sensitive:
                raise ValueError("thresholds go from the strictest mechanism down")
        return v


class Adequacy(_Strict):
    code: str = Field(pattern=_ISO2)
    name: str
    #: a decision covering only some recipients (e.g. certified organisations)
    scope: str | None = None
    note: str | None = None


class Eea(_Strict):
    code: str = Field(pattern=_ISO2)
    phone: str = Field(pattern=r"^[1-9]\d{0,2}$")
    en: tuple[str, ...] = Field(min_length=1)
    zh: tuple[str, ...] = Field(min_length=1)


class Gdpr(_Strict):
    note: str
    adequacy: tuple[Adequacy, ...]
    eea: tuple[Eea, ...] = Field(min_length=1)
    country_columns: tuple[str, ...]

    @model_validator(mode="after")
    def _distinct(self) -> Gdpr:
        codes = [c.code for c in self.eea]
        phones = [c.phone for c in self.eea]
        if len(set(codes)) != len(codes) or len(set(phones)) != len(phones):
            raise ValueError("an EEA state is listed twice (code or phone country code)")
        for a in phones:  # country codes are prefix-free: a prefix is a typo
            if any(b != a and b.startswith(a) for b in phones):
                raise ValueError(f"phone country code {a} is a prefix of another")
        if {a.code for a in self.adequacy} & set(codes):
            raise ValueError("an EEA state cannot also be an adequacy country")
        return self


class CrossBorderRules(_Strict):
    version: int = Field(ge=1)
    as_of: date
    mainland: Mainland
    sources: dict[str, Source]
    pipl: Pipl
    gdpr: Gdpr

    @model_validator(mode="after")
    def _cited(self) -> CrossBorderRules:
        for needed in ("pipl", "gdpr", "scc"):
            if needed not in self.sources:
                raise ValueError(f"sources.{needed} is missing")
        for t in self.pipl.thresholds:
            unknown = [s for s in t.sources if s not in self.sources]
            if unknown:
                raise ValueError(f"threshold {t.mechanism} cites unknown sources: {unknown}")
        return self

    # -- questions the rules ask --------------------------------------------------------
    def outside_mainland(self, code: str) -> bool:
        return code.upper() not in self.mainland.codes

    def in_eea(self, code: str) -> bool:
        return code.upper() in {c.code for c in self.gdpr.eea}

    def adequacy_of(self, code: str) -> Adequacy | None:
        return next((a for a in self.gdpr.adequacy if a.code == code.upper()), None)

    def cite(self, *keys: str) -> str:
        return "; ".join(self.sources[k].cite() for k in keys)

    def short(self) -> str:
        return f"crossborder.toml v{self.version} as of {self.as_of:%Y-%m-%d}"


def parse(text: str, *, where: str) -> CrossBorderRules:
    """The rules in ``text`` (TOML), validated; :class:`Invalid` names the first problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"{where}: not valid TOML ({exc})") from None
    try:
        return CrossBorderRules.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise Invalid(f"{where}: {loc}: {first['msg']}{more}") from None


def load(path: Path | None = None) -> CrossBorderRules:
    """The rules file at ``path``, or the one shipped in the package."""
    if path is not None:
        return parse(path.read_text("utf-8"), where=path.name)
    return shipped()


@lru_cache(maxsize=1)
def shipped() -> CrossBorderRules:
    ref = resources.files("dealvault.compliance").joinpath(FILE)
    return parse(ref.read_text("utf-8"), where=FILE)
