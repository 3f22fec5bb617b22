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


def summary(reports: list[WheelReport]) -> dict[str, int]:
    """How many wheels were compliant, not, or could not be audited."""
    ok = sum(1 for r in reports if r.error is None and r.compliant)
    errors = sum(1 for r in reports if r.error is not None)
    return {
        "wheels": len(reports),
        "compliant": ok,
        "not_compliant": len(reports) - ok - errors,
        "errors": errors,
    }


def render_json(reports: list[WheelReport]) -> str:
    doc = {
        "schema_version": SCHEMA_VERSION,
        "wheels": [report_to_json(r) for r in reports],
        "summary": summary(reports),
    }
    return json.dumps(doc, indent=2)


def humanize(text: str) -> str:
    """Text for people: mangled C++ names demangled (JSON keeps them raw)."""
    if "_Z" not in text:
        return text
    from mwheel.demangle import demangle_text

    return demangle_text(text)


def render_text(
    reports: list[WheelReport],
    verbose: bool = False,
    deps: bool = False,
    depending: bool = False,
) -> str:
    """The human report. ``deps`` lists every dependency, system ones too, and ``depending``
    which binaries load each library (delocate-listdeps ``-a`` and ``-d``)."""
    blocks = []
    for r in reports:
        block = _render_one(r, verbose)
        if (deps or depending) and r.error is None:
            block += "\n" + _render_dependencies(r, deps, depending)
        blocks.append(block)
    return humanize("\n\n".join(blocks))


def _render_dependencies(report: WheelReport, every: bool, depending: bool) -> str:
    by_library: dict[str, tuple[str, list[str]]] = {}
    for verdict in report.verdicts.values():
        for d in verdict.graph.dependencies:
            if d.kind == "system" and not every:
                continue
            where = d.member or d.path or ("NOT FOUND" if d.kind == "missing" else "")
            key = d.name if d.kind != "bundled" else d.member or d.name
            entry = by_library.setdefault(key, (f"{d.kind}{': ' + where if where else ''}", []))
            if d.needed_by not in entry[1]:
                entry[1].append(d.needed_by)
    lines = ["  dependencies:" if every else "  dependencies (not system; -a for all):"]
    for name in sorted(by_library):
        kind, needers = by_library[name]
        lines.append(f"    {name} ({kind})")
        if depending:
            lines.extend(f"      <- {n}" for n in needers)
    if not by_library:
        lines.append("    (none)")
    return "\n".join(lines)


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
