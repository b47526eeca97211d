"""0005_jobs (a named step of the earlier migration table)."""

from alembic import op

from knowledge.db import run_step

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    """Apply the step and record its name."""
    run_step("0005_jobs", op.get_bind())
