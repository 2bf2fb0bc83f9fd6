"""Alembic migrations for the store's tables (run by `Database.migrate()`)."""
