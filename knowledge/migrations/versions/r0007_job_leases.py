"""0007_job_leases - jobs name the worker that claimed them, its heartbeat and a cancel flag."""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
COLUMNS: tuple[sa.Column[object], ...] = (
    sa.Column("worker", sa.String(), nullable=True),
    sa.Column("heartbeat_at", sa.Float(), nullable=True),
    sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
)


def upgrade() -> None:
    """Add the lease columns the job table lacks (a fresh table already has them)."""
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("job")}
    missing = [c for c in COLUMNS if c.name not in have]
    if missing:
        with op.batch_alter_table("job") as batch:
            for column in missing:
                batch.add_column(column)
