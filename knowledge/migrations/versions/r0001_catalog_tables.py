"""0001_catalog_tables (a named step of the earlier migration table)."""

from alembic import op

from knowledge.db import run_step

revision = "0001"
down_revision = None


def upgrade() -> None:
    """Apply the step and record its name."""
    run_step("0001_catalog_tables", op.get_bind())
