"""A one-line progress display on a terminal; silent when stderr is not a TTY (CI, pipes).

It appears only once the work has taken a while (``MWHEEL_PROGRESS_DELAY`` seconds, default
1), so quick commands print nothing extra, and it is erased before anything else is printed,
so the report on stdout and errors on stderr never interleave with it. Nothing here is
written when the stream is not a terminal: piped and CI output carries no escape codes.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

_ERASE = "\r\x1b[K"


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get("MWHEEL_PROGRESS_DELAY", "1")))
    except ValueError:
        return 1.0


class Progress:
    def __init__(self, verb: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.verb = verb
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.delay = _delay()
        self.start = time.monotonic()
        self.shown = False
        self.width = _columns()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()

    def update(self, done: int, total: int, item: str) -> None:
        """``verb [done/total] item`` (the audit's per-wheel callback)."""
        self.show(f"{self.verb} [{done}/{total}] {item}")

    def show(self, text: str) -> None:
        if not self.enabled or time.monotonic() - self.start < self.delay:
            return
        self.shown = True
        self.stream.write(_ERASE + text[: self.width - 1])
        self.stream.flush()

    def clear(self) -> None:
        """Erase the line (before printing anything else)."""
        if self.shown:
            self.stream.write(_ERASE)
            self.stream.flush()
            self.shown = False


def _columns() -> int:
    """The terminal's width ($COLUMNS first, as shutil does; 80 when unknown)."""
    import shutil

    return max(20, shutil.get_terminal_size((80, 24)).columns)
