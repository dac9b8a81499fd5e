"""Alembic environment: delegates to dealvault.db.migrate.run_env."""

from dealvault.db.migrate import run_env

run_env()
