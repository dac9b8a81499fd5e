"""People for the audit and transfer pages' tests: an auditor, counsel and others invited to
deal clean-2026 and signed up through the pages, and the audit events the pages write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dealvault.access.models import Organization
from dealvault.audit.store import LogFilter, query
from dealvault.flows import accounts, admin
from tests.api.conftest import Server
from tests.conftest import OP, STEWARD, P
from tests.web.conftest import Browser, sign_up

AUDITOR = "auditor@audit-llp.example"
COUNSEL = "counsel@law.example"


def party(server: Server, name: str, *, kind: str, role: str) -> None:
    """Organisation ``name`` as a party of the deal (if it is not one yet)."""
    with server.stores.records_session() as s:
        known = s.scalar(select(Organization.id).where(Organization.name == name))
    if known is None:
        admin.create_organization(server.stores, actor=OP, name=name, kind=kind)
        admin.add_party(server.stores, actor=OP, deal=server.world.deal, organization=name,
                        role=role)  # fmt: skip


def member(
    server: Server, email: str, *, role: str, org: str, language: str = "en", name: str = "Member"
) -> Browser:
    """``email`` of ``org`` invited by the steward to ``role``, signed up through the pages."""
    ctx = server.app.state.dealvault
    accounts.invite(server.stores, actor=P(STEWARD), rules=ctx.rules, mailer=ctx.mailer,
                    deal=server.world.deal, email=email, role=role, name=name,
                    organization=org)  # fmt: skip
    return sign_up(server, email, language=language)


def auditor(server: Server, *, language: str = "en") -> Browser:
    register_log_key(server)
    party(server, "Audit LLP", kind="auditor", role="auditor")
    return member(server, AUDITOR, role="auditor", org="Audit LLP", language=language,
                  name="Auditor")  # fmt: skip


def counsel(server: Server, *, language: str = "en") -> Browser:
    party(server, "Law LLP", kind="law_firm", role="counsel")
    return member(server, COUNSEL, role="counsel", org="Law LLP", language=language,
                  name="Counsel")  # fmt: skip


def register_log_key(server: Server) -> None:
    """The log's key registered in the store, as ``dealvault init`` does."""
    from dealvault.audit.store import register_log_key as register

    with server.stores.unit_of_work() as uow:
        register(uow.records, server.stores.audit)


def events(server: Server, action: str) -> list[dict[str, Any]]:
    with server.stores.records_session() as s:
        return query(s, flt=LogFilter(action=action))
