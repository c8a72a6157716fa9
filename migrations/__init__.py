"""Alembic migrations for the gapwatch store (PostgreSQL and SQLite, one set for both)."""
