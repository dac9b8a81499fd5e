"""Imports every model module so both metadata objects are complete (for Alembic and tests)."""

from __future__ import annotations

from sqlalchemy import MetaData

import dealvault.access.governance_models
import dealvault.access.models
import dealvault.accounts.models
import dealvault.audit.models
import dealvault.compliance.content_models
import dealvault.compliance.models
import dealvault.compliance.pia_models
import dealvault.consent.models
import dealvault.crypto.models
import dealvault.incidents.drills
import dealvault.incidents.models
import dealvault.monitor.models
import dealvault.notices.models
import dealvault.retention.models
import dealvault.transfer.models
import dealvault.vault.models  # noqa: F401
from dealvault.db.base import Base, KeyBase

STORES: dict[str, MetaData] = {"records": Base.metadata, "keystore": KeyBase.metadata}
