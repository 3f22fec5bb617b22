"""mwheel repair beside auditwheel repair on the same fixtures: same tags, same grafts.

auditwheel runs from the reference venv ($MWHEEL_REF_VENV, default /opt/reftools), never
from mwheel's environment; the test is skipped where that venv does not exist.
"""

from __future__ import annotations

import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from fixturelib.linux import build_linux_fixture

from mwheel.repair import repair_wheel

REF = Path(os.environ.get("MWHEEL_REF_VENV", "/opt/reftools")) / "bin" / "auditwheel"
HASHED = re.compile(r"^(?P<stem>.+)-[0-9a-f]{8}(?P<rest>\.so.*)$")


def grafted_sonames(wheel: Path) -> set[str]:
    """Original library names of the grafts (hash removed, version suffix cut to the soname)."""
    out = set()
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if ".libs/" in name and not name.endswith("/"):
                m = HASHED.match(os.path.basename(name))
                assert m, name
                rest = m["rest"]
                # auditwheel keeps the file's full version (libffi.so.8.1.2); compare sonames
                out.add(
                    m["stem"] + ".so" + ("." + rest.split(".")[2] if rest.count(".") > 1 else "")
                )
    return out


def platform_tags(wheel: Path) -> set[str]:
    return set(wheel.name[: -len(".whl")].split("-")[-1].split("."))


@pytest.mark.slow
@pytest.mark.skipif(not REF.exists(), reason=f"no reference auditwheel at {REF}")
@pytest.mark.parametrize(
    "name", ["runpath", "chain", "absrpath", "system", "newergraft", "newglibc", "cxx"]
)
def test_same_tags_and_grafts_as_auditwheel(name: str, tmp_path: Path) -> None:
    fx = build_linux_fixture(name, tmp_path / "fx")
    proc = subprocess.run(
        [str(REF), "repair", "-w", str(tmp_path / "aw"), str(fx.wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    theirs = next((tmp_path / "aw").glob("*.whl"))
    ours = repair_wheel(fx.wheel, tmp_path / "mw").output
    assert ours is not None
    their_tags, our_tags = platform_tags(theirs), platform_tags(ours)
    if name == "newglibc":
        # auditwheel keeps the false manylinux2014 claim; mwheel drops it.
        assert {"manylinux2014_x86_64", "manylinux_2_17_x86_64"} <= their_tags
        assert our_tags == their_tags - {"manylinux2014_x86_64", "manylinux_2_17_x86_64"}
    else:
        assert our_tags == their_tags
    assert grafted_sonames(ours) == grafted_sonames(theirs)
