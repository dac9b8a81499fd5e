"""Pydantic views of the access domain, for --json output and (later) the HTTP API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class OrganizationOut(_Out):
    id: int
    name: str
    kind: str
    uscc: str | None
    created_at: datetime


class PersonOut(_Out):
    id: int
    email: str
    name: str
    organization: str
    created_at: datetime


class PartyOut(_Out):
    organization: str
    role: str
    is_winner: bool
    withdrawn: bool


class MemberOut(_Out):
    person: str
    organization: str
    role: str


class StageChangeOut(_Out):
    from_stage: str | None
    to_stage: str
    actor: str | None
    reason: str | None
    at: datetime


class DealOut(_Out):
    id: int
    code: str
    name: str
    kind: str
    stage: str
    frozen: bool
    #: made by an incident drill (invented customers only)
    drill: bool = False
    created_at: datetime
    updated_at: datetime
    parties: list[PartyOut] = []
    members: list[MemberOut] = []
    history: list[StageChangeOut] = []
