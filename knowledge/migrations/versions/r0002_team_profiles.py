"""0002_team_profiles (a named step of the earlier migration table)."""

from alembic import op

from knowledge.db import run_step

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    """Apply the step and record its name."""
    run_step("0002_team_profiles", op.get_bind())
