"""0004_subscriptions (a named step of the earlier migration table)."""

from alembic import op

from knowledge.db import run_step

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    """Apply the step and record its name."""
    run_step("0004_subscriptions", op.get_bind())
