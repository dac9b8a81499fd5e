"""What every flow is given: the two stores plus how the audit log signs (composed here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dealvault.audit.service import AuditConfig
from dealvault.db.engine import DEFAULT_LOCK_TIMEOUT
from dealvault.db.stores import Stores


@dataclass
class AppStores(Stores):
    """The stores with the audit configuration every use case records through."""

    audit: AuditConfig = field(default_factory=lambda: AuditConfig(origin="dealvault/unsigned"))

    @classmethod
    def connect(
        cls,
        *,
        records_url: str,
        keystore_url: str,
        audit: AuditConfig | None = None,
        migrate_schema: bool = True,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> AppStores:
        engines = Stores.open_engines(
            records_url=records_url,
            keystore_url=keystore_url,
            migrate_schema=migrate_schema,
            lock_timeout=lock_timeout,
        )
        return cls(*engines, audit=audit or AuditConfig(origin="dealvault/unsigned"))
