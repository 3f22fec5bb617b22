"""Windows rules: a ``win32``/``win_amd64``/``win_arm64`` wheel's PE files against the tag.

A Windows tag carries no version, so there is no "best" policy to search: the wheel honours
its tag when every PE file is for the tag's machine (x86, x64, arm64) and every DLL it
imports is bundled, a Windows system DLL or API set, the interpreter's own DLL for the
wheel's Python tag, or part of the VC++ runtime. The runtime is assumed present, as
delvewheel assumes it, and said so in an ``info`` finding: ``vcruntime140*.dll`` ship with
every CPython 3.5+, the rest of the redistributable (``msvcp140.dll``, ``vcomp140.dll``,
...) is widespread but not guaranteed, which is why wheels such as scikit-learn bundle it.
"""

from __future__ import annotations

import posixpath
from collections import Counter

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding, Severity
from mwheel.audit.resolve import excluded_names
from mwheel.audit.verdict import PlatformVerdict
from mwheel.audit.windows_resolve import WindowsGraph, WindowsResolver, windows_policy
from mwheel.tags import PlatformTag

_RUNTIME_WHY = {
    "python": "ships with CPython",
    "vc_redist": "part of the VC++ redistributable, which CPython does not ship; bundle it "
    "(--lib-path) if target machines may lack it",
}


def _shown(items: tuple[str, ...], limit: int = 3) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


class WindowsRules:
    os = "windows"

    def evaluate(self, ctx: WheelContext) -> PlatformVerdict:
        pes = {m: b for m, b in ctx.binaries.items() if b.format == "pe"}
        claimed = [t for t in ctx.claimed if t.family == "win"]
        counts = Counter(b.archs[0] for b in pes.values())
        arch = next(
            (t.arch for t in claimed if t.arch in counts),
            claimed[0].arch if claimed else counts.most_common(1)[0][0],
        )
        tag = PlatformTag("win", None, arch)
        tag_name = tag.name if arch in ("x86", "x86_64", "arm64", "ia64") else None
        severity: Severity = "error" if claimed else "warning"

        resolved = WindowsResolver(ctx, windows_policy(), arch).resolve()
        # A PE file of another machine breaks the wheel when Python imports it or a binary
        # of the wheel loads it; otherwise (setuptools' cli-arm64.exe in a win_amd64 wheel)
        # it is a file pip installs and nothing loads: a warning.
        loaded = {d.member for d in resolved.graph.dependencies if d.kind == "bundled"}
        findings: list[Finding] = []
        for member, b in pes.items():
            if b.archs[0] == arch:
                continue
            stem = posixpath.basename(member).split(".", 1)[0]
            used = member in loaded or f"PyInit_{stem}" in b.exported
            findings.append(
                Finding(
                    "architecture-mismatch",
                    member,
                    f"is {b.archs[0]}, the wheel is for {arch}"
                    + (f" ({tag_name})" if tag_name else "")
                    + ("" if used else "; no extension module, and nothing in the wheel loads it"),
                    severity=severity if used else "warning",
                    tag=tag_name,
                )
            )
        mismatched = any(f.severity == "error" for f in findings)
        excluded = excluded_names(resolved.graph, ctx.options.exclude, fold_case=True)
        findings += self._dependency_findings(resolved, severity, tag_name, excluded)
        findings += _off_path_findings(ctx, resolved, tag_name)

        problems = any(f.severity == "error" for f in findings) or any(
            d.kind in ("external", "missing") and d.name not in excluded
            for d in resolved.graph.dependencies
        )
        honoured = {t.name: t.arch == arch and not problems for t in claimed}
        missing = any(e.path is None and e.name not in excluded for e in resolved.graph.externals)
        repairable = not (missing or mismatched or resolved.wrong_python)
        return PlatformVerdict(
            honoured=honoured,
            best_tag=tag_name if not problems else None,
            repair_tag=tag_name if repairable else None,
            graph=resolved.graph,
            findings=tuple(findings),
            arch=arch,
            family="win",
        )

    @staticmethod
    def _dependency_findings(
        resolved: WindowsGraph, severity: Severity, tag: str | None, excluded: frozenset[str]
    ) -> list[Finding]:
        out: list[Finding] = []
        for dep in resolved.graph.dependencies:
            if dep.name in excluded:
                continue
            if dep.kind == "external":
                out.append(
                    Finding(
                        "windows-dll-external",
                        dep.needed_by,
                        f"imports {dep.name}, which is neither in the wheel nor a Windows system "
                        f"DLL (found at {dep.path}; `mwheel repair` bundles it)",
                        severity=severity,
                        tag=tag,
                        details=(("library", dep.name), ("path", dep.path or "")),
                    )
                )
            elif dep.kind == "missing":
                out.append(
                    Finding(
                        "library-not-found",
                        dep.needed_by,
                        f"imports {dep.name}, found neither in the wheel, nor among the Windows "
                        "system DLLs, nor on the library path (try --lib-path)",
                        severity=severity,
                        tag=tag,
                        details=(("library", dep.name),),
                    )
                )
        for needed_by, name in resolved.wrong_python:
            out.append(
                Finding(
                    "library-not-allowed",
                    needed_by,
                    f"imports {name}, the DLL of another Python than the wheel's tags name",
                    severity=severity,
                    tag=tag,
                    details=(("library", name),),
                )
            )
        for name, (kind, importers) in resolved.assumed.items():
            out.append(
                Finding(
                    "windows-runtime-assumed",
                    importers[0],
                    f"{name} is assumed present ({_RUNTIME_WHY[kind]}); imported by "
                    f"{_shown(importers)}",
                    severity="info",
                    tag=tag,
                    details=(
                        ("library", name),
                        ("runtime", kind),
                        ("needed_by", ",".join(importers)),
                    ),
                )
            )
        return out


def _before_38(ctx: WheelContext) -> bool:
    """Whether some interpreter tag allows a Python older than 3.8 (which searches PATH)."""
    minors = [i[3:] for i in ctx.claimed_interpreters if i.startswith(("cp3", "py3"))]
    return any(m.isdigit() and int(m) < 8 for m in minors)


def _off_path_findings(ctx: WheelContext, resolved: WindowsGraph, tag: str | None) -> list[Finding]:
    """A bundled DLL Windows will not find where it is, unless the wheel's Python adds its
    directory (a warning: pip installs the wheel, and the import may still work if the
    package loads the DLL some way mwheel does not recognise)."""
    if not resolved.off_path:
        return []
    # Only here: the wheel's start-up code is read (parsed with ast) when a bundled DLL lies
    # outside its importer's directory, which most wheels never have.
    from mwheel.audit.windows_dll_dirs import DllDirectories, dll_directories

    if ctx.source is None:
        dirs = DllDirectories()
    else:
        members = {ctx.install_path(m): m for m in ctx.members}
        dirs = dll_directories(ctx.source, {k: v for k, v in members.items() if k[:1] != "<"})
    old_python = _before_38(ctx)
    importers: dict[tuple[str, str], list[str]] = {}  # (member, DLL name) -> importers
    for needed_by, name, member in resolved.off_path:
        importers.setdefault((member, name), []).append(needed_by)
    out: list[Finding] = []
    for (member, name), by in importers.items():
        install = ctx.install_path(member)
        here = posixpath.dirname(install)
        if dirs.covers(install) or (old_python and here in dirs.on_path):
            continue
        path_note = (
            f"; {dirs.by[here]} only puts it on PATH, which Python 3.8+ does not search "
            "for an extension's DLLs"
            if here in dirs.on_path
            else ""
        )
        out.append(
            Finding(
                "library-not-on-search-path",
                by[0],
                f"imports {name}, which the wheel has in {here or 'site-packages'}/, where "
                f"Windows does not look for it: not beside {_shown(tuple(by))}, and no .pth "
                f"file or __init__.py of the wheel passes it to os.add_dll_directory{path_note}",
                severity="warning",
                tag=tag,
                details=(("library", name), ("path", member), ("needed_by", ",".join(by))),
            )
        )
    return out
