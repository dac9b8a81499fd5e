"""The reconciliation report of a transfer package: its model (JSON) and its HTML page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from dealvault.files import write_private


class FileCheck(BaseModel):
    name: str
    expected_bytes: int | None
    bytes: int | None
    expected_sha256: str | None
    sha256: str | None
    ok: bool


class CategoryRow(BaseModel):
    category: str
    expected: int | None
    received: int


class RecordsCheck(BaseModel):
    #: records (customers + the recipient's canary records), as the manifest lists them
    expected: int | None
    received: int
    #: of those, canary records (the manifest's count) and real customers
    canaries: int | None = None
    customers: int | None = None
    merkle_root_expected: str | None
    merkle_root_received: str | None
    out_of_order_at: int | None = None
    duplicates: int = 0
    index_trusted: bool = False
    missing: int | None = None
    extra: int | None = None
    altered: int | None = None
    missing_subjects: list[str] = []
    extra_subjects: list[str] = []
    altered_subjects: list[str] = []


class SignatureOut(BaseModel):
    ok: bool
    pinned: bool
    signer: str
    fingerprint: str | None


class Reconciliation(BaseModel):
    """The reconciliation report (JSON as is; HTML through ``reconciliation.html.j2``)."""

    package: str
    checked_at: datetime
    ok: bool
    problems: list[str]
    warnings: list[str]
    format: str | None
    manifest_sha256: str | None
    deal: str | None
    seller: str | None
    recipient: str | None
    purpose: str | None
    created_at: str | None
    signature: SignatureOut
    identities_matched: int
    files: list[FileCheck]
    categories: list[CategoryRow]
    exclusions: dict[str, int]
    consent: dict[str, Any]
    #: the customers' PIPL art. 22 notices per reason ({} in a manifest made before them)
    notices: dict[str, int] = Field(default_factory=dict)
    records: RecordsCheck


# -- output -------------------------------------------------------------------------------
def render_html(report: Reconciliation) -> str:
    env = Environment(
        loader=PackageLoader("dealvault", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    return env.get_template("reconciliation.html.j2").render(r=report)


def write_reports(
    report: Reconciliation, *, json_path: Path | None, html_path: Path | None
) -> None:
    if json_path is not None:
        write_private(json_path, report.model_dump_json(indent=2) + "\n")
    if html_path is not None:
        write_private(html_path, render_html(report))
