"""``audit_wheel``: every check of one wheel, producing one ``WheelReport``.

Data flow: open the archive (validated) -> scan each member once (RECORD check, binaries
parsed) -> run the rules of each operating system the wheel's tags or binaries name, and
the cross-platform rules (abi3) -> one report. The rules are looked up in registries keyed
by operating system; nothing here branches on a binary format.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mwheel.audit.context import AuditOptions, WheelContext
from mwheel.audit.findings import Finding
from mwheel.audit.pure import is_pure, split_pure
from mwheel.audit.registry import RULES, WHEEL_RULES, os_of
from mwheel.audit.scan import scan
from mwheel.audit.verdict import PlatformVerdict
from mwheel.binary.model import Binary
from mwheel.errors import InputError, MwheelError, TagError
from mwheel.tags import PlatformTag
from mwheel.wheel.archive import WheelArchive

if TYPE_CHECKING:
    from mwheel.audit.providers import Providers


@dataclass(frozen=True)
class WheelReport:
    wheel: str
    path: Path
    compliant: bool
    claimed_tags: tuple[str, ...]
    best_tag: str | None
    repair_tag: str | None
    external_libraries: dict[str, str | None]
    findings: tuple[Finding, ...]
    binaries: tuple[str, ...]
    error: MwheelError | None = None
    verdicts: dict[str, PlatformVerdict] = field(default_factory=dict, compare=False)
    context: WheelContext | None = field(default=None, compare=False)

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code
        return 0 if self.compliant else 1


def _claimed(archive: WheelArchive) -> tuple[tuple[PlatformTag, ...], list[Finding]]:
    tags: dict[PlatformTag, None] = {}  # legacy aliases parse to the same tag: keep one
    findings: list[Finding] = []
    for platform in sorted({t.platform for t in archive.tags}):
        try:
            tags[PlatformTag.parse(platform)] = None
        except TagError:
            findings.append(
                Finding(
                    "unknown-platform-tag",
                    None,
                    f"the wheel claims {platform}, which mwheel does not know",
                    tag=platform,
                )
            )
    return tuple(tags), findings


def build_context(
    archive: WheelArchive,
    options: AuditOptions,
    known: Mapping[str, Binary | None] | None = None,
) -> tuple[WheelContext, list[Finding]]:
    claimed, findings = _claimed(archive)
    # pip installs members that RECORD omits, unverified: a warning (a repair lists them).
    findings += [
        Finding("member-not-in-record", name, "is not listed in RECORD", severity="warning")
        for name in archive.unlisted
    ]
    tag_lines = archive.wheel_info.tag_lines
    if tag_lines and tag_lines != set(archive.tags):
        findings.append(
            Finding(
                "wheel-tag-mismatch",
                f"{archive.dist_info}/WHEEL",
                f"Tag lines ({', '.join(sorted(map(str, tag_lines)))}) disagree with the file "
                "name; pip selects the wheel by its file name (a repair rewrites them)",
                severity="warning",
            )
        )
    binaries = scan(archive, options.jobs, known)
    if not options.isa_check:
        binaries = {m: _without_isa_level(b) for m, b in binaries.items()}
    ctx = WheelContext(
        label=archive.label,
        dist_name=archive.label.split("-", 1)[0],
        dist_info=archive.dist_info,
        data_dir=archive.data_dir,
        root_is_purelib=archive.wheel_info.root_is_purelib,
        claimed=claimed,
        claimed_abis=tuple(sorted({t.abi for t in archive.tags})),
        claimed_interpreters=tuple(sorted({t.interpreter for t in archive.tags})),
        members=tuple(archive.members),
        binaries=binaries,
        options=options,
        source=archive.path,
        providers=_providers(archive, options, claimed) if options.knows_providers else None,
    )
    return ctx, findings


def _providers(
    archive: WheelArchive, options: AuditOptions, claimed: tuple[PlatformTag, ...]
) -> Providers:
    """The wheel's declared dependencies (METADATA) and the libraries they ship."""
    from mwheel.audit.providers import build_providers, metadata_requirements

    requires, extras = metadata_requirements(archive.read_text(f"{archive.dist_info}/METADATA"))
    return build_providers(
        requires, extras, claimed, options.provided_by, options.find_links, options.index_url
    )


def _without_isa_level(binary: Binary) -> Binary:
    """``--disable-isa-ext-check``: the ISA note is disregarded, as if the file had none."""
    if binary.elf is None or binary.elf.isa_level is None:
        return binary
    return replace(binary, elf=replace(binary.elf, isa_level=None))


def _generic_findings(ctx: WheelContext) -> list[Finding]:
    out: list[Finding] = []
    platform_tags = [t for t in ctx.claimed if t.family != "any"]
    if platform_tags and not ctx.binaries:
        out.append(
            Finding(
                "no-binary",
                None,
                f"tagged {platform_tags[0].name} but contains no ELF, Mach-O or PE "
                "binary: pip installs it where the tag matches and it works there, but a "
                "py3-none-any wheel would serve every platform",
                severity="warning",
            )
        )
    purelib = f"{ctx.data_dir}/purelib/"
    for member in ctx.binaries:
        if member.startswith(purelib):
            # Installers put purelib where the OS keeps architecture-independent files
            # (/usr/lib rather than /usr/lib64 on some distributions): a real error.
            out.append(
                Finding(
                    "binary-in-purelib",
                    member,
                    f"is a binary in {purelib}; binaries belong in {ctx.data_dir}/platlib/",
                )
            )
        elif ctx.root_is_purelib and not member.startswith(ctx.data_dir + "/"):
            # The root of a Root-Is-Purelib wheel also installs to purelib; pip puts
            # purelib and platlib in one directory on most systems, and real wheels on
            # PyPI (xgboost 2.1.0) do this, so it is a warning, as auditwheel treats it.
            out.append(
                Finding(
                    "binary-in-purelib",
                    member,
                    "is a binary at the root of a Root-Is-Purelib wheel; binaries belong in "
                    "platlib (set Root-Is-Purelib: false)",
                    severity="warning",
                )
            )
    claimed_oses = {t.os for t in ctx.claimed} - {"any"}
    for member, binary in ctx.binaries.items():
        os_name = os_of(binary, claimed_oses)
        if claimed_oses and os_name not in claimed_oses:
            out.append(
                Finding(
                    "wrong-platform",
                    member,
                    f"is a {binary.format} binary for {os_name}, but the wheel is "
                    f"tagged for {', '.join(sorted(claimed_oses))}",
                )
            )
    return out


def audit_archive(
    archive: WheelArchive,
    options: AuditOptions,
    known: Mapping[str, Binary | None] | None = None,
) -> WheelReport:
    ctx, findings = build_context(archive, options, known)
    # A pure wheel's binaries are data unless Python imports them (pure.py): the platform
    # rules judge only its extension modules.
    judged = ctx
    if is_pure(t.platform for t in archive.tags):
        split = split_pure(ctx)
        judged, findings = split.judged, findings + list(split.findings)
    findings += _generic_findings(judged)
    claimed_oses = {t.os for t in judged.claimed} - {"any"}
    oses = {os_of(b, claimed_oses) for b in judged.binaries.values()}
    verdicts = {os_name: RULES[os_name].evaluate(judged) for os_name in sorted(oses)}
    honoured: dict[str, bool] = {}
    externals: dict[str, str | None] = {}
    best_tags: list[str] = []
    repair_tags: list[str | None] = []
    for verdict in verdicts.values():
        honoured.update(verdict.honoured)
        findings.extend(verdict.findings)
        externals.update(verdict.graph.external_map())
        if judged.providers:
            from mwheel.audit.providers import provided_findings

            findings.extend(provided_findings(verdict.graph))
        if verdict.best_tag:
            best_tags.append(verdict.best_tag)
        repair_tags.append(verdict.repair_tag)
    for rule in WHEEL_RULES:
        findings.extend(rule.check(ctx))
    claimed_names = tuple(sorted({t.platform for t in archive.tags}))
    for tag in ctx.claimed:
        if tag.family == "any":
            honoured.setdefault(tag.name, not judged.binaries)
        elif tag.name not in honoured:
            # A tag for an OS none of the binaries is for (checked in _generic_findings);
            # with no binary at all, nothing can fail to load: the tag holds (no-binary
            # warns that py3-none-any would serve every platform).
            honoured[tag.name] = not judged.binaries
    best = best_tags[0] if len(best_tags) == 1 else ("any" if not judged.binaries else None)
    repair = repair_tags[0] if len(repair_tags) == 1 else best
    compliant = all(honoured.values()) and not any(f.severity == "error" for f in findings)
    return WheelReport(
        wheel=archive.label,
        path=archive.path,
        compliant=compliant,
        claimed_tags=claimed_names,
        best_tag=best,
        repair_tag=repair,
        external_libraries=externals,
        findings=tuple(findings),
        binaries=tuple(ctx.binaries),
        verdicts=verdicts,
        context=ctx,
    )


def check_input(path: Path) -> None:
    """A missing input is the caller's mistake (exit 10), told apart from a broken wheel."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a wheel file")


def audit_wheel(
    path: Path,
    options: AuditOptions | None = None,
    known: Mapping[str, Binary | None] | None = None,
) -> WheelReport:
    """Audit one wheel. Invalid input gives a report carrying the error, never a raise.

    ``known``: members already verified and parsed (see ``scan``), not read again.
    """
    options = options or AuditOptions()
    try:
        check_input(Path(path))
        with WheelArchive(Path(path)) as archive:
            return audit_archive(archive, options, known)
    except MwheelError as exc:
        return WheelReport(
            wheel=Path(path).name,
            path=Path(path),
            compliant=False,
            claimed_tags=(),
            best_tag=None,
            repair_tag=None,
            external_libraries={},
            findings=(),
            binaries=(),
            error=exc,
        )


def _audit_one(args: tuple[Path, AuditOptions]) -> WheelReport:
    # In a worker process: the report travels back without its parse tree, which the
    # caller of audit_wheels (reports only) does not need and which is costly to pickle.
    report = audit_wheel(*args)
    return replace(report, verdicts={}, context=None)


def audit_wheels(
    paths: list[Path],
    options: AuditOptions | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[WheelReport]:
    """Audit several wheels, in parallel processes when there are several and cores to spare.

    Each wheel then scans its own members with one process (``jobs=1``), so the two levels
    of parallelism never multiply. ``progress(done, total, wheel)`` is called as wheels finish.
    """
    options = options or AuditOptions()
    workers = min(options.jobs or os.cpu_count() or 1, len(paths))
    if workers <= 1:
        reports = []
        for n, p in enumerate(paths, 1):
            reports.append(audit_wheel(p, options))
            if progress:
                progress(n, len(paths), p.name)
        return reports
    # Imported here: a single-wheel audit (the common command) never pays for them.
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    inner = replace(options, jobs=1)
    out: list[WheelReport] = []
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        for n, report in enumerate(pool.map(_audit_one, [(p, inner) for p in paths]), 1):
            out.append(report)
            if progress:
                progress(n, len(paths), report.wheel)
    return out
