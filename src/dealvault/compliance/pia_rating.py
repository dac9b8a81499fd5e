"""The impact assessment's judgement, by stated rules over its stored inputs: impact on the
customers' rights, the likelihood of each risk source, the rating (likelihood x impact ->
低/中/高/严重) and the three contents PIPL art. 56 asks for. Deterministic: the same inputs
always give the same assessment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

#: volume thresholds (eligible customers) that raise the impact, one step each
VOLUME_STEPS: Final = (10_000, 1_000_000)
#: levels of likelihood, impact and rating: (Chinese, English)
LEVELS: Final = {1: ("低", "low"), 2: ("中", "medium"), 3: ("高", "high"), 4: ("严重", "critical")}


@dataclass(frozen=True)
class Factor:
    """One reason a level went up (or a note that it did not)."""

    text: str
    step: int


@dataclass(frozen=True)
class Risk:
    id: str
    zh: str
    en: str
    likelihood: int
    factors: tuple[Factor, ...]
    impact: int
    measures: str

    @property
    def score(self) -> int:
        return self.likelihood * self.impact

    @property
    def level(self) -> int:
        return rating(self.likelihood, self.impact)


def rating(likelihood: int, impact: int) -> int:
    """The rating of likelihood x impact (each 1-4): 1-3 低, 4-6 中, 8-9 高, 12-16 严重."""
    score = likelihood * impact
    return 1 if score <= 3 else 2 if score <= 6 else 3 if score <= 9 else 4


def _cap(n: int) -> int:
    return max(1, min(4, n))


def impact(inputs: dict[str, Any]) -> tuple[int, tuple[Factor, ...]]:
    """How much harm a misuse of the transferred information could do to the customers:
    1, raised one step for each of volume >= 10,000 and >= 1,000,000, sensitive personal
    information handed over, and children's information."""
    b = inputs["basis"]
    factors = [Factor("personal information of identified customers (baseline)", 1)]
    if b["eligible"] == 0:
        return 1, (Factor("no customer would be handed over", 1),)
    steps = sum(1 for t in VOLUME_STEPS if b["eligible"] >= t)
    if steps:
        factors.append(
            Factor(f"{b['eligible']:,} customers (>= {VOLUME_STEPS[steps - 1]:,})", steps)
        )
    if "sensitive" in b["categories"] and (
        b["sensitive_rows"] or inputs["inventory"]["sensitive_columns"]
    ):
        factors.append(Factor("sensitive personal information is handed over (PIPL art. 28)", 1))
    if b["minors"]:
        factors.append(
            Factor(f"{b['minors']} customer(s) under 14 counted at import (PIPL art. 31)", 1)
        )
    return _cap(sum(f.step for f in factors)), tuple(factors)


def _l(base: str, *more: tuple[bool, str]) -> tuple[int, tuple[Factor, ...]]:
    factors = [Factor(base, 1)] + [Factor(text, 1) for cond, text in more if cond]
    return _cap(sum(f.step for f in factors)), tuple(factors)


def risks(inputs: dict[str, Any]) -> list[Risk]:
    """The risk sources (GB/T 39335-2020 step 3) with their likelihood from the controls and
    the plan; each is rated with the plan's impact."""
    b, c = inputs["basis"], inputs["controls"]
    acc, aud = c["access"], c["audit"]
    imp, _ = impact(inputs)
    open_ = c["findings_blocking_open"]
    untrained = acc["members"] - acc["members_trained"]
    cross = b["destination"] != "CN"
    out = [
        Risk("purpose", "超出约定目的处理", "processing beyond the purposes carried over",
             *_l("the recipient receives the information to use it (baseline)",
                 (acc["recipient_transfer_agreements"] == 0,
                  "no transfer agreement with the recipient is in force"),
                 (len(b["purpose"].split()) < 3, "the plan's purpose is under three words"),
                 (open_ > 0, f"{open_} other blocking compliance finding(s) open")),
             impact=imp, measures="transfer agreement binding the recipient to the original "
             "purposes (PIPL art. 22); purposes stated in the plan and the manifest"),
        Risk("leak", "泄露或丢失", "leak or loss of the package or a copy",
             *_l("a package leaves the seller's store (baseline)",
                 (c["canaries"] == 0, "no canary customer planted for this deal"),
                 (c["encryption"]["customer_keys"] == 0, "no per-customer keys: records not "
                  "encrypted per customer"),
                 (aud["last_checkpoint"] is None, "no signed audit checkpoint yet")),
             impact=imp, measures="packages encrypted to the recipient's age key; per-customer "
             "keys (crypto-shredding); canary customers tracing a leaked copy"),
        Risk("access", "未经授权的访问", "access by people without a need or training",
             *_l("people of several organisations work in the deal (baseline)",
                 (untrained > 0, f"{untrained} member(s) without training in force"),
                 (acc["grants_active"] > 0, f"{acc['grants_active']} access grant(s) still in "
                  "force"),
                 (aud["events"] == 0, "no audit event recorded for the deal")),
             impact=imp, measures="the access policy's ceilings per role and stage, time-boxed "
             "grants approved by others, training before access, the audit log"),
        Risk("rights", "个人权利无法行使", "customers unable to exercise their rights",
             *_l("customers must be told and may object (baseline)",
                 (sum(b["exclusions"].values()) == 0 and b["eligible"] > 0,
                  "no customer excluded yet: no objection or opt-out recorded"),
                 (cross, f"destination {b['destination']}: rights exercised abroad")),
             impact=imp, measures="PIPL art. 22 notices; objections and opt-outs excluded and "
             "counted per reason; the recipient bound to the original purposes"),
    ]  # fmt: skip
    if cross:
        out.append(Risk("cross_border", "跨境传输", "transfer out of mainland China",
                        *_l("the information leaves mainland China", (True, "destination "
                            f"{b['destination']} (PIPL art. 38-40)")),
                        impact=imp, measures="a cross-border mechanism (security "
                        "assessment, standard contract, certification), PIPL art. 38"))  # fmt: skip
    return out


def overall(rs: list[Risk]) -> int:
    return max((r.level for r in rs), default=1)


def art56(inputs: dict[str, Any], rs: list[Risk]) -> list[tuple[str, str, str, list[str]]]:
    """PIPL art. 56's three contents: (Chinese, English, verdict, reasons)."""
    b, c = inputs["basis"], inputs["controls"]
    concerns_1 = []
    if len(b["purpose"].split()) < 3:
        concerns_1.append(
            "the purpose is under three words: it does not say what the recipient does"
        )
    if not b["categories"]:
        concerns_1.append("the plan names no category")
    if c["access"]["recipient_transfer_agreements"] == 0:
        concerns_1.append("no transfer agreement with the recipient in force")
    reasons_1 = concerns_1 or [
        f"transfer to {b['recipient']} under PIPL art. 22 for the stated purpose; "
        f"{len(b['categories'])} categor(ies) of the inventory: {', '.join(b['categories'])}"
    ]
    worst = overall(rs)
    reasons_2 = [f"{r.zh} {r.en}: {LEVELS[r.level][0]} {LEVELS[r.level][1]}" for r in rs]
    weak = [r for r in rs if r.level >= 3]
    reasons_3 = [f"{r.en}: {r.measures}" for r in weak] or [
        "every risk is rated medium or low with the measures in place"
    ]
    return [
        ("处理目的、处理方式等是否合法、正当、必要",
         "whether the purposes and methods of processing are lawful, legitimate and necessary",
         "concerns" if concerns_1 else "yes", reasons_1),
        ("对个人权益的影响及安全风险", "the impact on individuals' rights and the security risks",
         f"{LEVELS[worst][0]} {LEVELS[worst][1]}", reasons_2),
        ("所采取的保护措施是否合法、有效并与风险程度相适应",
         "whether the protective measures are lawful, effective and proportionate to the risks",
         "strengthen" if weak else "yes", reasons_3),
    ]  # fmt: skip
