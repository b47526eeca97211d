"""0008_chat_state - conversations, processed event ids, rate-limit windows, job workspaces.

Chat state lives in the database so it survives restarts and is shared by replicas.
"""

from alembic import op
from sqlmodel import SQLModel

from knowledge import tables  # noqa: F401 - registers the tables on SQLModel.metadata

revision = "0008"
down_revision = "0007"
TABLES = ("conversation", "processedevent", "ratehit", "jobscope")


def upgrade() -> None:
    """Create the chat tables this database lacks."""
    SQLModel.metadata.create_all(
        op.get_bind(), tables=[SQLModel.metadata.tables[name] for name in TABLES]
    )
