"""A one-line progress display on a terminal; silent when stderr is not a TTY (CI, pipes).

It appears only once the work has taken a second, so quick commands print nothing extra.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_DELAY = 1.0


class Progress:
    def __init__(self, verb: str, stream: TextIO | None = None) -> None:
        self.verb = verb
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.monotonic()
        self.shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def update(self, done: int, total: int, item: str) -> None:
        if not self.enabled or time.monotonic() - self.start < _DELAY:
            return
        self.shown = True
        self.stream.write(f"\r\x1b[K{self.verb} [{done}/{total}] {item}"[:200])
        self.stream.flush()
