"""0003_synced (a named step of the earlier migration table)."""

from alembic import op

from knowledge.db import run_step

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    """Apply the step and record its name."""
    run_step("0003_synced", op.get_bind())
