"""What incident notices look like to their readers (the text only to the incident's team)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from dealvault.notices.models import NoticeBatch


class NoticeOut(BaseModel):
    id: int
    incident: int
    kind: str = Field(
        description="pipl-authority, pipl-customers, gdpr-authority, gdpr-subjects or partner."
    )
    status: str = Field(description="draft, final or sent.")
    language: str
    missing: list[str] = Field(default_factory=list, description="Required fields not given.")
    sha256: str = ""
    created_by: str
    created_at: datetime
    finalised_by: str | None = None
    finalised_at: datetime | None = None
    sent_by: str | None = None
    sent_at: datetime | None = None
    channel: str | None = None
    addressees: list[str] = Field(default_factory=list, description="Partner notices: to whom.")
    acknowledged: list[AckOut] = Field(default_factory=list)
    waiting: list[str] = Field(default_factory=list, description="Addressees yet to acknowledge.")
    body: str | None = Field(default=None, description="The HTML (legal) or signed note (partner).")


class AckOut(BaseModel):
    organisation: str
    email: str
    at: datetime


class BatchOut(BaseModel):
    """A batch of per-customer notices: counts per status, never an address or message."""

    id: int
    deal: str
    ref: str
    template_set: str
    channel: str
    customers: int
    file_sha256: str
    created_by: str
    created_at: datetime
    counts: dict[str, int]

    @classmethod
    def of(cls, b: NoticeBatch, counts: dict[str, int]) -> BatchOut:
        return cls(
            id=b.id, deal=b.deal, ref=b.ref, template_set=b.template_set, channel=b.channel,
            customers=b.customers, file_sha256=b.file_sha256, created_by=b.created_by,
            created_at=b.created_at, counts=counts,
        )  # fmt: skip


NoticeOut.model_rebuild()
