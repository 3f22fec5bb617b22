"""``mwheel generate-ci github`` beside ``maturin generate-ci github`` on the same crates.

    python benchmarks/compare_generate_ci.py [CRATE_DIR...]

Not a timing: for each crate (default: the fixture crates) and option set, both generators
write their workflow, and the script prints the lines, the build targets of the job
matrices, actionlint's finding count and zizmor's (offline; regular persona, and auditor
persona with ignores and configuration disabled). Needs maturin, actionlint and zizmor
on PATH (``pip install -e .[test]`` installs the linters, and shellcheck for actionlint).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from common import table

ROOT = Path(__file__).parent.parent
OPTION_SETS = [[], ["--pytest"], ["--platform", "all", "--pytest"]]


def targets(text: str) -> int:
    jobs: dict[str, Any] = yaml.safe_load(text)["jobs"]
    count = 0
    for name, job in jobs.items():
        matrix = job.get("strategy", {}).get("matrix", {})
        if not name.startswith("test-"):
            count += len(matrix.get("include", matrix.get("platform", [])))
    return count + ("sdist" in jobs)


def zizmor(path: Path, *persona: str) -> int:
    cmd = ["zizmor", "--offline", "--format", "json", *persona, str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return len(json.loads(proc.stdout))


def actionlint(path: Path) -> int:
    """Findings of actionlint, with shellcheck on the run: scripts when it is installed."""
    shellcheck = shutil.which("shellcheck")
    extra = ["-shellcheck", shellcheck] if shellcheck else []
    proc = subprocess.run(
        ["actionlint", "-format", "{{json .}}", *extra, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return len(json.loads(proc.stdout or "[]"))


def measure(tool: str, crate: Path, options: list[str], out: Path) -> list[str]:
    cmd = [tool, "generate-ci", "github", *options, "-o", str(out)]
    proc = subprocess.run(cmd, cwd=crate, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return [
            tool,
            " ".join(options) or "(default)",
            "failed",
            proc.stderr.strip()[:60],
            "",
            "",
            "",
        ]
    text = out.read_text()
    auditor = ["--persona=auditor", "--no-ignores", "--no-config"]
    return [
        tool,
        " ".join(options) or "(default)",
        str(text.count("\n")),
        str(targets(text)),
        str(actionlint(out)),
        str(zizmor(out)),
        str(zizmor(out, *auditor)),
    ]


def main(argv: list[str]) -> int:
    crates = [Path(a) for a in argv] or [
        ROOT / "fixtures" / "crates" / c for c in ("pyo3-mixed", "bin-hello")
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for crate in crates:
            for options in OPTION_SETS:
                for tool in ("maturin", "mwheel"):
                    out = Path(tmp) / f"{tool}-{crate.name}.yml"
                    rows.append([crate.name, *measure(tool, crate, options, out)])
    header = [
        "crate",
        "generator",
        "options",
        "lines",
        "targets",
        "actionlint",
        "zizmor",
        "zizmor auditor",
    ]
    print(table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
