"""Two cores on one member: inflate in a helper thread while the caller hashes and parses.

Inflating (ISA-L or zlib), SHA-256 and ``pread`` release the GIL, so a big member keeps two
cores busy when its inflation runs a few blocks ahead of the consumer. The number of CPUs
counted is the process's affinity mask, so a run limited to one CPU starts no thread.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator

# Members at least this large are inflated in a helper thread while the caller hashes
# (and parses or spills) the previous blocks: inflate and SHA-256 both release the GIL, so
# one big member keeps two cores busy. Smaller members are not worth a thread.
PIPELINE_MIN_BYTES = 8 << 20
_DEPTH = 4  # blocks in flight between the two threads (each at most OUT_LIMIT)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def pipelined(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """``blocks``, produced by a helper thread up to ``_DEPTH`` ahead of the consumer.

    Errors raised by the producer are raised here, in order; closing this generator early
    stops the producer.
    """
    out: queue.Queue[bytes | BaseException | None] = queue.Queue(_DEPTH)
    stop = threading.Event()

    def put(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for block in blocks:
                if not put(block):
                    return
            put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    worker = threading.Thread(target=produce, name="mwheel-inflate", daemon=True)
    worker.start()
    try:
        while (item := out.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
