"""Hostile inputs, second round (issue 15): bounded memory, one line, nothing left behind.

Every case runs ``mwheel audit`` and ``mwheel repair`` in a child process and asserts the
exit code, one line on stderr naming the problem, no traceback, the input unchanged,
nothing under a final name, no scratch directory left, and the child's peak RSS under a
generous bound (measured with wait4, not assumed). The hostile files are built here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fixturelib.linux import build_linux_fixture
from hostile import (
    Members,
    many_entries,
    overlapping_bomb,
    patch_local_header,
    record_for,
    set_declared_size,
    variant,
)

from mwheel.wheel.writer import SCRATCH_PREFIX

NAME = "mwfix_clean-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
RSS_LIMIT_MB = 200


# Measured from a small parent: ru_maxrss survives exec, so a child forked straight from
# pytest would report pytest's own resident pages as its peak.
_WRAPPER = """
import os, subprocess, sys
proc = subprocess.Popen([sys.executable, "-m", "mwheel", *sys.argv[2:]])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_child(argv: list[str], timeout: float = 120) -> tuple[int, str, str, float]:
    """Run mwheel in a child; its exit code, stdout, stderr and peak RSS in MB (wait4)."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp, "rss")
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _WRAPPER, str(result), *argv],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mwheel {' '.join(argv)} did not finish in {timeout} s") from None
        kib, code = result.read_text().split()
    return int(code), proc.stdout, proc.stderr, int(kib) / 1024


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _edit_dirs() -> set[str]:
    return {p.name for p in Path(os.environ.get("TMPDIR", "/tmp")).glob(".mwheel-edit-*")}


def check(
    wheel: Path,
    out: Path,
    code: int,
    words: str,
    *,
    commands: tuple[str, ...] = ("audit", "repair"),
) -> None:
    before = _digest(wheel)
    edit_dirs = _edit_dirs()
    for command in commands:
        argv = (
            [command, str(wheel)] if command == "audit" else ["repair", "-w", str(out), str(wheel)]
        )
        got, stdout, stderr, rss = run_child(argv)
        assert got == code, (argv, stdout, stderr)
        assert "Traceback" not in stdout + stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, stderr
        assert words in lines[0], lines[0]
        assert rss < RSS_LIMIT_MB, f"{command}: peak RSS {rss:.0f} MB"
    assert _digest(wheel) == before
    if out.is_dir():
        assert not list(out.glob("*.whl"))
        assert not [p for p in out.iterdir() if p.name.startswith(SCRATCH_PREFIX)]
    assert _edit_dirs() <= edit_dirs


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_linux_fixture("clean", tmp_path_factory.mktemp("good")).wheel


def _with_record(rows: Callable[[Members, str], bytes]) -> Callable[[Members], Members]:
    def change(members: Members) -> Members:
        record = next(n for n, _ in members if n.endswith(".dist-info/RECORD"))
        return [(n, rows(members, record) if n == record else d) for n, d in members]

    return change


def test_record_of_short_rows_is_refused_before_inflating(good: Path, tmp_path: Path) -> None:
    # 250 MB of rows deflate to about 250 KB; refused from its declared size alone.
    def rows(members: Members, record: str) -> bytes:
        return record_for(members, record) + b"x,,\n" * (64 << 20)

    bad = variant(good, tmp_path / NAME, _with_record(rows), rerecord=False)
    assert bad.stat().st_size < 2 << 20
    check(bad, tmp_path / "out", 3, "RECORD declares")


def test_record_rows_of_missing_files_refused_at_the_first(good: Path, tmp_path: Path) -> None:
    def rows(members: Members, record: str) -> bytes:
        missing = b"".join(b"gone/%d.py,sha256=AAAA,1\n" % i for i in range(300))
        return missing + record_for(members, record)

    bad = variant(good, tmp_path / NAME, _with_record(rows), rerecord=False)
    check(bad, tmp_path / "out", 3, "RECORD lists gone/0.py, which is not in the wheel")


def test_record_that_inflates_past_its_declared_size(good: Path, tmp_path: Path) -> None:
    """The index declares a small RECORD; the deflate stream holds 10**6 rows."""

    def rows(members: Members, record: str) -> bytes:
        return record_for(members, record) + b"gone.py,,\n" * 10**6

    bad = variant(good, tmp_path / NAME, _with_record(rows), rerecord=False)
    record = "mwfix_clean-1.0.dist-info/RECORD"
    set_declared_size(bad, record, 4096)
    patch_local_header(bad, record, "usize", 4096)
    check(bad, tmp_path / "out", 3, "RECORD")


def test_record_that_is_not_utf8(good: Path, tmp_path: Path) -> None:
    def rows(members: Members, record: str) -> bytes:
        return record_for(members, record) + b"caf\xe9.py,,\n"

    bad = variant(good, tmp_path / NAME, _with_record(rows), rerecord=False)
    check(bad, tmp_path / "out", 3, "RECORD is not UTF-8 text")


def test_overlapping_entry_bomb(good: Path, tmp_path: Path) -> None:
    bad = overlapping_bomb(good, tmp_path / NAME, copies=200, kernel_size=8 << 20)
    assert bad.stat().st_size < 100 << 10  # 1.6 GB declared
    check(bad, tmp_path / "out", 3, "share compressed bytes")


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("usize", 35, "local header"),
        ("csize", 3, "local header"),
        ("crc", 0x12345678, "local header"),
        ("flags", 0x0001, "flags"),
        ("name", b"mwfix_clean/__init__.pz", "names it"),
    ],
)
def test_local_header_disagrees_with_index(
    field: str, value: int | bytes, words: str, good: Path, tmp_path: Path
) -> None:
    bad = variant(good, tmp_path / NAME, lambda m: m)
    patch_local_header(bad, "mwfix_clean/__init__.py", field, value)
    check(bad, tmp_path / "out", 3, words)


@pytest.mark.parametrize("alias", ["mwfix_clean/./__init__.py", "mwfix_clean//__init__.py"])
def test_aliased_member_names(alias: str, good: Path, tmp_path: Path) -> None:
    bad = variant(good, tmp_path / NAME, lambda m: [*m, (alias, b"import os\n")])
    check(bad, tmp_path / "out", 3, "aliases mwfix_clean/__init__.py")


@pytest.mark.parametrize("extra", ["mwfix_clean/__init__.py/x.py", "mwfix_clean/__init__.py/"])
def test_member_under_a_file(extra: str, good: Path, tmp_path: Path) -> None:
    """A member that needs an existing file to be a directory: no installer can write both."""
    bad = variant(
        good, tmp_path / NAME, lambda m: [*m, (extra, b"" if extra.endswith("/") else b"x")]
    )
    check(bad, tmp_path / "out", 3, "mwfix_clean/__init__.py")


def test_member_aliased_through_the_data_directory(good: Path, tmp_path: Path) -> None:
    """``<dist>.data/platlib/pkg/x`` installs where ``pkg/x`` does: the later copy would win."""
    alias = "mwfix_clean-1.0.data/platlib/mwfix_clean/__init__.py"
    bad = variant(good, tmp_path / NAME, lambda m: [*m, (alias, b"import os\n")])
    check(bad, tmp_path / "out", 3, "install to the same path mwfix_clean/__init__.py")


def test_dev_zero(tmp_path: Path) -> None:
    link = tmp_path / NAME
    link.symlink_to("/dev/zero")
    check(link, tmp_path / "out", 10, "not a regular file")


def test_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / NAME
    os.mkfifo(fifo)
    check(fifo, tmp_path / "out", 10, "not a regular file")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / NAME
    folder.mkdir()
    check(folder, tmp_path / "out", 10, "directory")


def test_output_dir_is_a_file(good: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_bytes(b"x")
    check(good, a_file, 9, "not a directory", commands=("repair",))
    check(good, a_file / "under", 9, "ENOTDIR", commands=("repair",))
    assert a_file.read_bytes() == b"x"


@contextlib.contextmanager
def small_filesystem(where: Path) -> Iterator[Path]:
    """A 256 KB tmpfs (root only); skipped where mounting is not allowed."""
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (not root?)")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_no_space_left(good: Path, tmp_path: Path) -> None:
    big = variant(
        good, tmp_path / NAME, lambda m: [*m, ("mwfix_clean/blob.bin", os.urandom(1 << 20))]
    )
    with small_filesystem(tmp_path / "full") as out:
        check(big, out, 9, "ENOSPC", commands=("repair",))
        assert not list(out.iterdir())


def test_file_size_limit(good: Path, tmp_path: Path) -> None:
    """EFBIG (RLIMIT_FSIZE; Python ignores SIGXFSZ): an I/O error like ENOSPC, anywhere."""
    big = variant(
        good, tmp_path / NAME, lambda m: [*m, ("mwfix_clean/blob.bin", os.urandom(1 << 20))]
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "mwheel", "repair", "-w", str(out), str(big)],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10)),
    )
    assert proc.returncode == 9, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "EFBIG" in proc.stderr
    assert not [p for p in out.iterdir() if p.name.startswith(SCRATCH_PREFIX) or p.suffix == ".whl"]


def test_input_replaced_during_repair_does_not_change_the_output(
    good: Path, tmp_path: Path
) -> None:
    """The path is replaced by other bytes after the audit: the output is the audited wheel."""
    from mwheel.repair import repair_wheel

    wheel = variant(good, tmp_path / NAME, lambda m: m)
    other = variant(
        good, tmp_path / "other.whl", lambda m: [(n, d.replace(b"return", b"retUrn")) for n, d in m]
    )
    original = wheel.read_bytes()

    def swap(final: Path) -> None:
        os.replace(other, wheel)  # a new file under the input's name

    result = repair_wheel(wheel, tmp_path / "out", claim=swap)
    assert result.output is not None
    reference = tmp_path / "ref"
    reference.mkdir()
    (reference / NAME).write_bytes(original)
    expected = repair_wheel(reference / NAME, tmp_path / "out2")
    assert expected.output is not None
    assert result.output.read_bytes() == expected.output.read_bytes()


def test_input_rewritten_in_place_during_repair_is_refused(good: Path, tmp_path: Path) -> None:
    from mwheel.errors import WheelError
    from mwheel.repair import repair_wheel

    wheel = variant(good, tmp_path / NAME, lambda m: m)

    def scribble(final: Path) -> None:
        with open(wheel, "r+b") as f:  # same inode, other bytes
            f.seek(0)
            f.write(f.read(4))

    with pytest.raises(WheelError, match="changed while"):
        repair_wheel(wheel, tmp_path / "out", claim=scribble)
    assert not list((tmp_path / "out").glob("*.whl"))
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(SCRATCH_PREFIX)]


def test_killed_repair_scratch_is_under_the_output_dir(good: Path, tmp_path: Path) -> None:
    """Edits are staged in the writer's scratch, which the next run cleans, not in /tmp."""
    fx = build_linux_fixture("runpath", tmp_path / "fx")  # a repair that patches binaries
    before = _edit_dirs()
    got, _, err, _ = run_child(["repair", "-w", str(tmp_path / "out"), str(fx.wheel)])
    assert got == 0, err
    assert _edit_dirs() <= before


def test_too_many_entries(tmp_path: Path) -> None:
    """100,001 real entries (ZIP64 index): refused from the count, before the index is held."""
    bad = many_entries(tmp_path / NAME, 100_001)
    check(bad, tmp_path / "out", 3, "declares 100001 members")


@pytest.mark.slow
def test_largest_accepted_index_stays_bounded(tmp_path: Path) -> None:
    """99,999 entries are parsed and checked (then refused: no .dist-info) under the bound."""
    bad = many_entries(tmp_path / NAME, 99_999)
    check(bad, tmp_path / "out", 3, "no .dist-info")
