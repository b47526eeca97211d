"""What the CLI tells an operator when the database or the index is unusable, and the fix."""

from __future__ import annotations

from core.settings import load_settings

REPAIR_DB = (
    "Move the file aside and run `advisor catalog load` to create a fresh catalog (team "
    "profiles, jobs and subscriptions in the old file are not carried over), or restore it "
    "from a backup."
)


def database_hint(exc: BaseException) -> str | None:
    """One line naming the database, what is wrong with it and the command that repairs it.

    None when ``exc`` is not a database error. sqlalchemy is imported only here, after a
    failure, so commands that never touch the database do not pay for it at start-up.
    """
    from sqlalchemy.exc import DatabaseError

    if not isinstance(exc, DatabaseError):
        return None
    url = load_settings().public_view()["database_url"]
    reason = str(getattr(exc, "orig", exc)).splitlines()[0]
    if "no such table" in reason or "no such column" in reason or "does not exist" in reason:
        return (
            f"The database {url} is missing part of its schema ({reason}). "
            "Run `advisor catalog load` to migrate it."
        )
    return f"The database {url} cannot be used ({reason}). {REPAIR_DB}"
