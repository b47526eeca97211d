"""The ``advisor`` command (and ``python -m bot``): the command line's entry point.

Start-up creates a few hundred thousand objects that live as long as the process
(modules, pydantic schemas, typer's command tree). The cyclic garbage collector would
walk them over and over while they are made, a sixth of a one-shot command such as
``advisor fit``. So collection waits until the command line is imported, and what was
built by then is frozen: later collections (a long ``serve`` included) skip it.
"""

import gc


def main() -> None:
    """Import the command line with collection held off, then run it."""
    gc.disable()
    try:
        from bot.cli import main as run
    finally:
        gc.freeze()
        gc.enable()
    run()


if __name__ == "__main__":
    main()
