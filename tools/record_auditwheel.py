"""Record auditwheel's verdict on the corpus's manylinux wheels, for tests to compare against.

Run once, with auditwheel 6.8.2 installed in a separate venv (never an mwheel dependency):

    python -m venv /opt/reftools && /opt/reftools/bin/pip install auditwheel==6.8.2
    python tools/record_auditwheel.py /opt/reftools ~/.cache/mwheel-corpus

It writes tests/data/auditwheel_expected.json: for each wheel, the tag auditwheel says the
wheel is consistent with, and the external libraries it would graft.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "auditwheel_expected.json"


def show(venv: Path, wheel: Path) -> dict[str, object]:
    proc = subprocess.run(
        [str(venv / "bin" / "auditwheel"), "show", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    text = " ".join((proc.stdout + proc.stderr).split())
    tag = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    libs: list[str] = []
    ext = re.search(
        r"requires (?:the )?\d* ?external (?:shared )?librar\w+.*?:(.*?)(?:$|\.\s)", text
    )
    if "no external shared libraries" not in text and ext:
        libs = sorted(set(re.findall(r"(\S+\.so(?:\.[\w.]+)?)", ext.group(1))))
    return {
        "best_tag": tag.group(1) if tag else None,
        "external_libraries": libs,
        "exit_code": proc.returncode,
    }


def main() -> None:
    venv, cache = Path(sys.argv[1]), Path(sys.argv[2]).expanduser()
    result = {"tool": "auditwheel 6.8.2", "command": "auditwheel show WHEEL", "wheels": {}}
    for wheel in sorted(cache.glob("*manylinux*.whl")):
        result["wheels"][wheel.name] = show(venv, wheel)  # type: ignore[index]
    OUT.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(OUT.read_text())


if __name__ == "__main__":
    main()
