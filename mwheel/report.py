"""Rendering audit reports: a short human text, or versioned JSON (``report-schema.json``).

The JSON shape is a contract with CI scripts: fields are only ever added, and
``schema_version`` changes when one changes meaning.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from mwheel.audit import WheelReport

SCHEMA_VERSION = 1


def report_to_json(report: WheelReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "wheel": report.wheel,
        "compliant": report.compliant,
        "claimed_tags": list(report.claimed_tags),
        "best_tag": report.best_tag,
        "repair_tag": report.repair_tag,
        "external_libraries": dict(report.external_libraries),
        "binaries": list(report.binaries),
        "findings": [f.to_json() for f in report.findings],
    }
    if report.error is not None:
        out["error"] = {"message": report.error.message, "exit_code": report.error.exit_code}
    return out


def render_json(reports: list[WheelReport]) -> str:
    doc = {"schema_version": SCHEMA_VERSION, "wheels": [report_to_json(r) for r in reports]}
    return json.dumps(doc, indent=2)


def render_text(reports: list[WheelReport], verbose: bool = False) -> str:
    blocks = [_render_one(r, verbose) for r in reports]
    return "\n\n".join(blocks)


def _render_one(report: WheelReport, verbose: bool) -> str:
    if report.error is not None:
        return f"{report.wheel}: error: {report.error.message}"
    status = "OK" if report.compliant else "NOT COMPLIANT"
    lines = [f"{report.wheel}: {status}"]
    lines.append(f"  claimed:  {', '.join(report.claimed_tags) or '-'}")
    lines.append(f"  best tag: {report.best_tag or '-'}")
    if report.repair_tag and report.repair_tag != report.best_tag:
        lines.append(f"  after `mwheel repair`: {report.repair_tag}")
    if report.external_libraries:
        lines.append("  external libraries (a repair grafts them):")
        for name, path in report.external_libraries.items():
            lines.append(f"    {name} => {path or 'NOT FOUND'}")
    by_file: dict[str, list[str]] = defaultdict(list)
    # The best-tag constraints are summarised below; other findings are listed per file.
    shown = [f for f in report.findings if verbose or f.code != "best-tag-constraint"]
    for f in shown:
        by_file[f.member or "(wheel)"].append(f"{f.severity}[{f.code}]: {f.message}")
    info = [f for f in report.findings if f.code == "best-tag-constraint"]
    if not verbose and info:
        # The why of the best tag, in one line per distinct reason.
        reasons = sorted({f.message for f in info})
        lines.append("  why not more compatible:")
        lines.extend(f"    {r}" for r in reasons[:5])
        if len(reasons) > 5:
            lines.append(f"    ... {len(reasons) - 5} more (--verbose)")
    for member, msgs in by_file.items():
        lines.append(f"  {member}:")
        lines.extend(f"    {m}" for m in dict.fromkeys(msgs))
    return "\n".join(lines)
