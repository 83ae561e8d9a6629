"""How every command line reports failure: one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from .data import DataError


def one_line(err: BaseException) -> str:
    """The first line of an error's message; for a file-system error, the file and the system's reason."""
    if isinstance(err, OSError) and not isinstance(err, FileNotFoundError) and err.strerror:
        return f"{err.filename or ''}: {err.strerror}" if err.filename else err.strerror
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def run(prog: str, body: Callable[[], object], interrupted: str) -> int:
    """Runs ``body``: 0 when it returns, 2 with ``prog: error: ...`` for bad input or a file error, 130 on Ctrl-C.

    Args:
      prog: the command's name, e.g. 'python -m zcjax.score'.
      body: the command's work.
      interrupted: what to tell the user after Ctrl-C (how to continue).
    """
    try:
        body()
    except (ValueError, IndexError, DataError, OSError) as err:  # OSError: FileNotFoundError, permissions, disk...
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; {interrupted}", file=sys.stderr)
        return 130
    return 0
