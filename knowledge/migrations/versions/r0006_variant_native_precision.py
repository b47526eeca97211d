"""0006_variant_native_precision (a named step of the earlier migration table)."""

from alembic import op

from knowledge.db import run_step

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    """Apply the step and record its name."""
    run_step("0006_variant_native_precision", op.get_bind())
