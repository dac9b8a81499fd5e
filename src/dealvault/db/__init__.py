"""Storage: declarative bases, engines and sessions, migrations, bulk loads."""
