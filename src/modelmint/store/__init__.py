"""Persistence: SQLAlchemy tables, sessions, migrations and repository functions."""
