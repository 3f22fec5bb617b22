"""The ``Key: value`` header block of a WHEEL file (PEP 427: "in the same basic key: value
format" as METADATA), read without the ``email`` package.

``email.parser`` pulls in a dozen modules (feedparser, header, utils, socket, datetime...),
which cost more start-up time than auditing a small wheel; a WHEEL file needs none of them:
its header block ends at the first empty line, a line starting with a space or a tab
continues the previous field, names are matched case-insensitively and may repeat (``Tag``).
The values are what ``email.parser.HeaderParser`` gives for the same text (a test compares
them on every corpus wheel).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Headers:
    """Fields in file order; ``get``/``get_all`` as ``email.message.Message`` has them."""

    fields: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.fields if k.lower() == wanted), None)

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [v for k, v in self.fields if k.lower() == wanted]


def parse_headers(text: str) -> Headers:
    fields: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip():
            break  # the end of the header block
        if line[0] in " \t":
            if fields:
                fields[-1][1] += "\n" + line
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            break  # not a header line: email's parser takes the rest as the body
        fields.append([name, value.lstrip(" \t")])
    return Headers(tuple((k, v) for k, v in fields))
