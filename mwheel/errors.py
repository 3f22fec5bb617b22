"""The one exception hierarchy of mwheel.

Every failure mwheel reports is an ``MwheelError`` whose message is a single line naming the
wheel, member or path at fault, and whose class fixes the process exit code. Third-party
exceptions (zipfile, zlib, struct, subprocess) are converted into these
where the third-party library is called, so the CLI maps errors to exit codes in one place.

Exit codes (also in the README):

== =====================================================================
0  every wheel honours its tags (or the command succeeded)
1  some wheel does not honour its tags (audit findings)
2  usage error: bad arguments, unknown or malformed tag
3  invalid wheel: not a zip, truncated, hostile member names, bad RECORD
4  malformed binary inside a wheel (ELF, Mach-O or PE)
5  a library a repair needs cannot be found
6  repair cannot produce a wheel honouring the requested tag
7  build failed (cargo, interpreter, crate layout)
8  configuration error (pyproject.toml ``[tool.mwheel]``)
9  I/O error writing output
10 an input file is missing or unreadable (no such file, a directory, no permission)
== =====================================================================
"""

from __future__ import annotations


class MwheelError(Exception):
    """Base class: a one-line message and the exit code the CLI returns for it."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        # Collapse to one line: messages from third-party libraries sometimes span several.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self.args[0])


class UsageError(MwheelError):
    """Bad command-line arguments or an unknown platform tag."""

    exit_code = 2


class TagError(UsageError):
    """A platform tag that does not parse or that no policy knows."""


class WheelError(MwheelError):
    """The wheel archive itself is unusable or hostile."""

    exit_code = 3


class BinaryError(MwheelError):
    """A binary member is not a well-formed ELF, Mach-O or PE file."""

    exit_code = 4


class MissingLibraryError(MwheelError):
    """A library that a repair must graft was not found anywhere it may be looked for."""

    exit_code = 5


class RepairError(MwheelError):
    """The repaired wheel would not honour the requested tag, or an edit failed."""

    exit_code = 6


class BuildError(MwheelError):
    """cargo, the interpreter search or the crate layout failed."""

    exit_code = 7


class ConfigError(MwheelError):
    """Bad ``[tool.mwheel]`` configuration."""

    exit_code = 8


class OutputError(MwheelError):
    """Writing the output failed (disk full, permissions, name clash)."""

    exit_code = 9


class PolicyError(MwheelError):
    """A policy data file is invalid: a packaging bug, reported like any other error."""

    exit_code = 3


class InputError(MwheelError):
    """An input file named on the command line is missing, a directory or unreadable.

    A usage/I-O problem of the caller, not a defect of any wheel: its own code, so that CI
    scripts tell a typo in a path from a broken wheel.
    """

    exit_code = 10
