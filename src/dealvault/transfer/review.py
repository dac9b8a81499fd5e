"""After a transfer: the buyer's reconciliation report checked against the seller's ledger."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from dealvault.errors import Invalid
from dealvault.transfer.models import TransferPackage
from dealvault.transfer.reconcile_report import Reconciliation

OUTCOMES = ("accepted", "issues")


def parse_report(raw: bytes, *, source: str) -> Reconciliation:
    """A reconciliation report as ``package verify|receive --report-json`` writes it."""
    try:
        return Reconciliation.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        raise Invalid(
            f"{source} is not a dealvault reconciliation report (JSON from --report-json)"
        ) from None


def findings(package: TransferPackage, report: Reconciliation) -> list[str]:
    """Every way the buyer's report differs from what the ledger says was sent (empty: the
    buyer received exactly this package, complete and unaltered)."""
    out: list[str] = []
    r = report.records
    if report.manifest_sha256 != package.manifest_sha256:
        out.append("the report is about another manifest than this package's")
    if not report.ok:
        out.append(f"the buyer's check failed ({len(report.problems)} problems)")
    if not report.signature.ok:
        out.append("the buyer could not verify the seller's signature")
    elif not report.signature.pinned:
        out.append("the buyer did not pin the seller's key (fingerprint compared by hand?)")
    if r.merkle_root_received != package.merkle_root:
        out.append("the Merkle root the buyer computed differs from the ledger's")
    if r.received != package.records:
        out.append(f"the buyer received {r.received:,} records; {package.records:,} were sent")
    for name in ("missing", "extra", "altered"):
        n: Any = getattr(r, name)
        if n is None:
            out.append(f"the report does not say how many records were {name}")
        elif n:
            out.append(f"{n:,} records {name}")
    return out
