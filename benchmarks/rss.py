"""Run a command and print its wall time and peak RSS (KiB) on stderr's last line.

Measured from a small parent: a child forked from a big benchmark process would report the
parent's resident pages as its own peak (ru_maxrss survives exec).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main() -> None:
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    print(f"{elapsed} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}", file=sys.stderr)


if __name__ == "__main__":
    main()
