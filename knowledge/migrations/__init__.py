"""Alembic revisions for the advisor's schema (run by knowledge.db.migrate)."""
