"""``repair_wheel``: audit, plan, graft and patch, write, audit again, rename into place.

The plan is built by a pure function (``plan_repair``) from the audit report, so
``--dry-run`` prints exactly what would be done. Applying it edits each binary once, copies
every unchanged member's compressed bytes as they are, and writes the result atomically;
the output is audited before it gets its final name, and a repair that does not honour its
new tags fails instead of leaving a dishonest wheel behind.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mwheel.audit import WheelReport, audit_archive, audit_wheel, check_input
from mwheel.audit.context import AuditOptions
from mwheel.audit.findings import Finding
from mwheel.audit.pure import is_pure
from mwheel.binary.model import Format
from mwheel.errors import MwheelError, OutputError, RepairError
from mwheel.repair.model import FileEdit, Graft, RepairOptions, RepairPlan
from mwheel.repair.registry import PATCHERS, PLANNERS
from mwheel.repair.sbom import sbom_document
from mwheel.wheel.archive import WheelArchive
from mwheel.wheel.filename import Tag
from mwheel.wheel.writer import WheelWriter, copy_verbatim, rewrite_wheel_file


@dataclass(frozen=True)
class RepairResult:
    input: Path
    output: Path | None  # None for a dry run
    plan: RepairPlan
    report: WheelReport  # of the output (of the input for a dry run)


def _output_name(
    report: WheelReport, archive_tags: frozenset[Tag], platform_tags: tuple[str, ...]
) -> tuple[str, list[str]]:
    """The wheel file name and WHEEL Tag lines for the new platform tags."""
    pairs = sorted({(t.interpreter, t.abi) for t in archive_tags})
    interpreters = ".".join(sorted({i for i, _ in pairs}))
    abis = ".".join(sorted({a for _, a in pairs}))
    stem = report.wheel[: -len(".whl")]
    parts = stem.split("-")
    head = "-".join(parts[:-3])
    name = f"{head}-{interpreters}-{abis}-{'.'.join(platform_tags)}.whl"
    tag_lines = [f"{i}-{a}-{p}" for i, a in pairs for p in platform_tags]
    return name, tag_lines


def plan_repair(
    report: WheelReport, options: RepairOptions, archive_tags: frozenset[Tag]
) -> RepairPlan:
    """The plan for one audited wheel. Pure: reads nothing but the report."""
    if report.error is not None:
        raise report.error
    assert report.context is not None
    grafts: list[Graft] = []
    edits: list[FileEdit] = []
    files: list[tuple[str, bytes]] = []
    tags: list[str] = []
    notes: list[str] = []
    for os_name, verdict in sorted(report.verdicts.items()):
        planner = PLANNERS.get(os_name)
        if planner is None:
            raise RepairError(f"{report.wheel}: repair of {os_name} wheels is not supported")
        part = planner.plan(report.context, verdict, options)
        grafts += part.grafts
        edits += part.edits
        files += part.files
        tags += [t for t in part.platform_tags if t not in tags]
        notes += part.notes
    if not tags:
        tags = sorted({t.platform for t in archive_tags})
    if not options.update_tags:
        kept = sorted({t.platform for t in archive_tags})
        if kept != sorted(tags):
            notes.append(f"--no-update-tags: keeps {', '.join(kept)} (would be {', '.join(tags)})")
        tags = kept
    if not report.binaries:
        notes.append("not a platform wheel (no ELF, Mach-O or PE binary): copied unchanged")
    notes += _record_notes(report)
    name, _ = _output_name(report, archive_tags, tuple(tags))
    return RepairPlan(
        report.wheel, name, tuple(grafts), tuple(edits), tuple(files), tuple(tags), tuple(notes)
    )


def _record_notes(report: WheelReport) -> list[str]:
    """What the new RECORD changes: members it now lists, signatures it invalidates."""
    assert report.context is not None
    dist_info = report.context.dist_info
    notes = [
        f"{f.member}: not listed in the input's RECORD; listed in the new one"
        for f in report.findings
        if f.code == "member-not-in-record"
    ]
    # RECORD.jws / RECORD.p7s sign the input's RECORD, which the repair rewrites: a kept
    # signature would no longer match, so it is dropped.
    notes += [
        f"{member}: dropped, it signs the input's RECORD, which the repair rewrites"
        for member in report.context.members
        if member in (f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s")
    ]
    return notes


def _patched(source: Path, edit: FileEdit, scratch: Path) -> bytes:
    work = scratch / "edit.bin"
    shutil.copyfile(source, work)
    fmt: Format = edit.format
    PATCHERS[fmt].apply(work, edit)
    return work.read_bytes()


def apply_plan(
    plan: RepairPlan,
    report: WheelReport,
    out_dir: Path,
    options: RepairOptions,
    archive: WheelArchive | None = None,
    progress: Progress | None = None,
) -> tuple[Path, list[str]]:
    """Write the repaired wheel into a scratch directory of ``out_dir``.

    Returns its path and the members copied unchanged (as compressed bytes). ``archive``
    is the input, still open from the audit, so that the output is built from the very
    bytes that were audited (opened again from ``report.path`` when not given).
    ``progress(phase, done, total, item)`` is told of each member as it is written.
    """
    tell = progress or _silent
    assert report.context is not None
    ctx = report.context
    edits = {e.member: e for e in plan.edits}
    new_files = dict(plan.files)
    with contextlib.ExitStack() as stack:
        if archive is None:
            archive = stack.enter_context(WheelArchive(report.path))
        dates = [archive.info(n).date_time for n in archive.members]
        writer = WheelWriter(
            out_dir / plan.output_name,
            compresslevel=options.compresslevel,
            default_date=max(dates) if dates else None,
        )
        try:
            # Edits are staged inside the writer's scratch directory, which a later run
            # removes if this one is killed (nothing is left under /tmp).
            scratch = writer.scratch / "edits"
            scratch.mkdir()
            _, tag_lines = _output_name(report, archive.tags, plan.platform_tags)
            copied: list[str] = []
            wheel_path = f"{ctx.dist_info}/WHEEL"
            total = len(archive.members)
            for done, (name, member) in enumerate(archive.members.items(), 1):
                if name in (archive.record_path, *archive.signatures) or name in new_files:
                    continue
                tell("patching" if name in edits else "writing", done, total, name)
                info = archive.info(name)
                if name == wheel_path:
                    writer.add_bytes(
                        name,
                        rewrite_wheel_file(archive.wheel_info.text, tag_lines),
                        date=info.date_time,
                    )
                elif name in edits:
                    src = scratch / "member.bin"
                    src.write_bytes(archive.read(name))
                    writer.add_bytes(
                        name,
                        _patched(src, edits[name], scratch),
                        mode=member.mode or 0o755,
                        date=info.date_time,
                    )
                else:
                    writer.copy_raw(info, archive.raw_blocks(name), archive.record_entry(name))
                    copied.append(name)
            for done, graft in enumerate(plan.grafts, 1):
                tell("grafting", done, len(plan.grafts), graft.member)
                source = Path(graft.source)
                edit = edits.get(graft.member)
                data = _patched(source, edit, scratch) if edit else source.read_bytes()
                writer.add_bytes(graft.member, data, mode=0o755)
            for name, data in plan.files:
                mode = archive.members[name].mode if name in archive.members else 0o644
                writer.add_bytes(name, data, mode=mode or 0o644)
            if plan.grafts:
                writer.add_bytes(
                    f"{ctx.dist_info}/sboms/mwheel.cdx.json",
                    sbom_document(plan, ctx.dist_name, str(archive.version)),
                )
            return writer.finish(ctx.dist_info), copied
        except OSError as exc:  # staging an edit: no space, no permission
            writer.abort()
            code = errno.errorcode.get(exc.errno or 0, "")
            raise OutputError(
                f"{writer.dest}: cannot write {exc.filename or 'the output'}: "
                f"{exc.strerror or exc} ({code})"
            ) from None
        except BaseException:
            writer.abort()
            raise


def _located(finding: Finding) -> str:
    """A finding's message, after the member it is about (if it is about one)."""
    return f"{finding.member}: {finding.message}" if finding.member else finding.message


def _pure_wheel(
    archive: WheelArchive,
    report: WheelReport,
    path: Path,
    out_dir: Path,
    options: RepairOptions,
    dry_run: bool,
    claim: Callable[[Path], None] | None,
) -> RepairResult:
    """A pure wheel is never rewritten: left alone, or copied byte for byte on request.

    pip installs it everywhere and nothing in it is loaded by a platform's loader, so there
    is nothing to graft and no tag to find; rewriting it would only churn its bytes.
    """
    if not report.compliant:
        why = next(
            (_located(f) for f in report.findings if f.severity == "error"),
            "it does not honour its tags",
        )
        raise RepairError(f"{report.wheel}: a pure wheel is not retagged by a repair: {why}")
    final = out_dir / report.wheel
    what = (
        "pure wheel (platform tag any)"
        if is_pure(t.platform for t in archive.tags)
        else "no ELF, Mach-O or PE binary"
    )
    if options.allow_pure:
        note = f"{what}: nothing to repair, copied byte for byte"
    else:
        note = (
            f"{what}: nothing to repair, nothing written "
            "(--allow-pure-python-wheel copies it unchanged)"
        )
    plan = RepairPlan(report.wheel, report.wheel, (), (), (), report.claimed_tags, (note,))
    if dry_run or not options.allow_pure:
        return RepairResult(path, None, plan, report)
    if claim is not None:
        claim(final)
    if not (final.exists() and final.resolve() == path.resolve()):
        # From the handle that was audited, staged in the scratch a later run cleans.
        copy_verbatim(archive.fd, final, archive.check_unchanged)
    return RepairResult(path, final, plan, report)


# ``progress(phase, done, total, item)``: phases are reading, patching, writing, grafting,
# checking.
Progress = Callable[[str, int, int, str], None]


def _silent(phase: str, done: int, total: int, item: str) -> None:
    return None


def _missing_libraries(report: WheelReport) -> tuple[str, ...]:
    """Exclusion globs (escaped) naming every external library that was not found."""
    names = {e.name for v in report.verdicts.values() for e in v.graph.externals if not e.path}
    return tuple(glob.escape(n) for n in sorted(names))


def repair_wheel(
    path: Path,
    out_dir: Path,
    options: RepairOptions | None = None,
    audit_options: AuditOptions | None = None,
    dry_run: bool = False,
    claim: Callable[[Path], None] | None = None,
    progress: Progress | None = None,
) -> RepairResult:
    """Repair one wheel into ``out_dir``.

    ``claim`` is called with the final path before anything is written; it raises to refuse
    (the CLI uses it so that two inputs of one call never write the same output).

    The input is opened once: the audit, the raw copies and the final check that it did
    not change all use that one handle, so the output is made of the bytes audited.
    ``progress(phase, done, total, item)`` hears of each step (a display on a terminal).
    """
    check_input(Path(path))
    with WheelArchive(Path(path)) as archive:
        return _repair_open(
            archive, Path(path), out_dir, options, audit_options, dry_run, claim, progress
        )


def _repair_open(
    archive: WheelArchive,
    path: Path,
    out_dir: Path,
    options: RepairOptions | None,
    audit_options: AuditOptions | None,
    dry_run: bool,
    claim: Callable[[Path], None] | None,
    progress: Progress | None = None,
) -> RepairResult:
    tell = progress or _silent
    options = options or RepairOptions()
    audit_options = replace(audit_options or AuditOptions(), exclude=options.exclude)
    tell("reading", 0, 1, path.name)
    report = audit_archive(archive, audit_options)
    missing = _missing_libraries(report) if options.ignore_missing else ()
    if missing:
        # --ignore-missing-dependencies: what cannot be found stays external, exactly as
        # if the user had excluded it (noted in the plan, not counted against the tag).
        options = replace(options, exclude=options.exclude + missing)
        audit_options = replace(audit_options, exclude=options.exclude)
        report = audit_archive(archive, audit_options)
    tags = frozenset(archive.tags)
    if is_pure(t.platform for t in tags) or not report.binaries:
        # Also a platform-tagged wheel with no binary at all: nothing is loaded, so nothing
        # to graft or patch, and its tag is the author's choice (pip installs it as it is).
        return _pure_wheel(archive, report, Path(path), Path(out_dir), options, dry_run, claim)
    plan = plan_repair(report, options, tags)
    if dry_run:
        return RepairResult(Path(path), None, plan, report)
    out_dir = Path(out_dir)
    final = out_dir / plan.output_name
    if claim is not None:
        claim(final)
    if final.exists() and final.resolve() == Path(path).resolve():
        raise OutputError(f"{final}: the output would overwrite the input")
    written, copied = apply_plan(plan, report, out_dir, options, archive, progress)
    tell("checking", 1, 1, plan.output_name)
    # Unchanged members were verified and parsed by the first audit and copied byte for
    # byte: the re-audit reads only what the repair wrote.
    binaries = report.context.binaries if report.context else {}
    known = {name: binaries.get(name) for name in copied}
    scratch = written.parent
    try:
        after = audit_wheel(
            written,
            AuditOptions(
                lib_paths=(),
                host_libs=False,
                jobs=audit_options.jobs,
                exclude=options.exclude,
                # Libraries of declared dependencies stay provided (providers.py).
                provided_by=audit_options.provided_by,
                find_links=audit_options.find_links,
                index_url=audit_options.index_url,
            ),
            known,
        )
        if after.error is not None:
            raise RepairError(
                f"{plan.output_name}: the repaired wheel is invalid: {after.error.message}"
            )
        if not after.compliant:
            why = next(
                (_located(f) for f in after.findings if f.severity == "error"),
                "tags not honoured",
            )
            raise RepairError(
                f"{plan.output_name}: the repaired wheel does not honour "
                f"{', '.join(plan.platform_tags)}: {why}"
            )
        archive.check_unchanged()
        try:
            written.replace(final)
        except OSError as exc:
            raise OutputError(
                f"{final}: cannot move the repaired wheel into place: {exc}"
            ) from None
    except MwheelError:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    shutil.rmtree(scratch, ignore_errors=True)
    return RepairResult(Path(path), final, plan, replace(after, wheel=final.name, path=final))
