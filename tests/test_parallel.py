"""Parallel paths (many wheels: processes; one big wheel: threads) give the serial reports."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from conftest import corpus_wheel
from fixturelib.linux import build_linux_fixture

from mwheel.audit import audit_wheel, audit_wheels
from mwheel.audit.context import AuditOptions
from mwheel.progress import Progress
from mwheel.report import report_to_json
from mwheel.wheel.pipeline import usable_cpus


def test_parallel_audit_equals_serial(tmp_path: Path) -> None:
    wheels = [
        build_linux_fixture(n, tmp_path / n).wheel
        for n in ("clean", "newglibc", "runpath", "musl", "cxx")
    ]
    seen: list[tuple[int, int]] = []
    serial = audit_wheels(wheels, AuditOptions(jobs=1))
    parallel = audit_wheels(wheels, AuditOptions(jobs=2), lambda d, t, _: seen.append((d, t)))
    assert [report_to_json(r) for r in serial] == [report_to_json(r) for r in parallel]
    assert seen[-1] == (5, 5)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_after_a_second(monkeypatch: object) -> None:
    tty = _Tty()
    with Progress("auditing", tty) as p:
        p.update(1, 3, "a.whl")  # too early: nothing shown
        assert tty.getvalue() == ""
        p.start -= 2
        p.update(2, 3, "b.whl")
        assert "auditing [2/3] b.whl" in tty.getvalue()
    assert tty.getvalue().endswith("\r\x1b[K")
    pipe = io.StringIO()
    with Progress("auditing", pipe) as p:
        p.start -= 2
        p.update(1, 1, "a.whl")
    assert pipe.getvalue() == ""


def test_threaded_scan_of_a_big_wheel_equals_serial(corpus: Path) -> None:
    """pandas (>48 MB of members): threads and the inflate pipeline change nothing."""
    wheel = corpus_wheel(corpus, "pandas-*manylinux*x86_64.whl")
    serial = report_to_json(audit_wheel(wheel, AuditOptions(jobs=1)))
    threaded = report_to_json(audit_wheel(wheel, AuditOptions(jobs=2)))
    assert serial == threaded


def test_one_usable_cpu_means_no_parallelism(corpus: Path) -> None:
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    wheel = corpus_wheel(corpus, "pandas-*manylinux*x86_64.whl")
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        assert usable_cpus() == 1
        one = report_to_json(audit_wheel(wheel))
    finally:
        os.sched_setaffinity(0, before)
    assert one == report_to_json(audit_wheel(wheel, AuditOptions(jobs=1)))


def test_seek_and_read_fallback_gives_the_same_report(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the OS has no pread (Windows), threads share the handle through a locked seek."""
    from mwheel.wheel import zipread

    wheel = corpus_wheel(corpus, "pandas-*manylinux*x86_64.whl")
    expected = report_to_json(audit_wheel(wheel, AuditOptions(jobs=2)))
    monkeypatch.setattr(zipread, "pread", zipread._pread_seek)
    assert report_to_json(audit_wheel(wheel, AuditOptions(jobs=2))) == expected
