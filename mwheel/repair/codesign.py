"""Ad-hoc code signatures, as Apple's linker writes them, without Apple's tools.

macOS on arm64 refuses to map code whose pages do not match a code signature, so every
binary a repair modifies must be signed again. ``codesign`` exists only on macOS; what
``ld`` writes with ``-adhoc_codesign`` is simple enough to produce here: an embedded
signature SuperBlob (``CSMAGIC_EMBEDDED_SIGNATURE``) holding a single CodeDirectory
(``CSMAGIC_CODEDIRECTORY``, version 0x20400 with the executable-segment fields), flags
``CS_ADHOC | CS_LINKER_SIGNED``, SHA-256 hashes of every 4096-byte page of the file up to
the signature, no special slots (no requirements, entitlements or CMS blob: ad hoc means
unsigned by any identity). All fields are big-endian. Layout from the public headers
(``xnu osfmk/kern/cs_blobs.h``); the patcher decides where the signature goes.
"""

from __future__ import annotations

import hashlib
import struct

CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CSSLOT_CODEDIRECTORY = 0
CS_ADHOC = 0x2
CS_LINKER_SIGNED = 0x20000
CS_HASHTYPE_SHA256 = 2
CS_EXECSEG_MAIN_BINARY = 0x1
CD_VERSION = 0x20400  # CS_SUPPORTSEXECSEG: the newest layout ld writes
PAGE_SHIFT = 12  # 4096-byte pages, whatever the VM page size (16 KiB on arm64)
PAGE_SIZE = 1 << PAGE_SHIFT
HASH_SIZE = 32

# magic, length, version, flags, hashOffset, identOffset, nSpecialSlots, nCodeSlots,
# codeLimit, hashSize, hashType, platform, pageSize, spare2, scatterOffset, teamOffset,
# spare3, codeLimit64, execSegBase, execSegLimit, execSegFlags
_CODE_DIRECTORY = struct.Struct(">9I4B4I4Q")
_SUPERBLOB = struct.Struct(">3I")  # magic, length, count
_BLOB_INDEX = struct.Struct(">2I")  # type, offset


def _layout(code_limit: int, identifier: str) -> tuple[bytes, int, int]:
    ident = identifier.encode("utf-8") + b"\0"
    slots = (code_limit + PAGE_SIZE - 1) // PAGE_SIZE
    cd_length = _CODE_DIRECTORY.size + len(ident) + slots * HASH_SIZE
    return ident, slots, cd_length


def signature_size(code_limit: int, identifier: str) -> int:
    """Bytes of the SuperBlob for ``code_limit`` bytes of code (known before hashing, so
    the load commands can announce it before the pages holding them are hashed)."""
    _, _, cd_length = _layout(code_limit, identifier)
    return _SUPERBLOB.size + _BLOB_INDEX.size + cd_length


def build_signature(
    code: bytes, identifier: str, exec_seg_base: int, exec_seg_limit: int, main_binary: bool
) -> bytes:
    """The SuperBlob signing ``code`` (the slice's bytes up to the signature's offset).

    ``exec_seg_*`` describe the __TEXT segment (file offset and size); ``main_binary`` is
    set for MH_EXECUTE, as ld does.
    """
    code_limit = len(code)
    if code_limit >= 1 << 32:
        raise ValueError("code signatures of slices over 4 GiB need codeLimit64")
    ident, slots, cd_length = _layout(code_limit, identifier)
    view = memoryview(code)
    hashes = b"".join(
        hashlib.sha256(view[i * PAGE_SIZE : (i + 1) * PAGE_SIZE]).digest() for i in range(slots)
    )
    ident_offset = _CODE_DIRECTORY.size
    directory = (
        _CODE_DIRECTORY.pack(
            CSMAGIC_CODEDIRECTORY,
            cd_length,
            CD_VERSION,
            CS_ADHOC | CS_LINKER_SIGNED,
            ident_offset + len(ident),
            ident_offset,
            0,
            slots,
            code_limit,
            HASH_SIZE,
            CS_HASHTYPE_SHA256,
            0,
            PAGE_SHIFT,
            0,
            0,
            0,
            0,
            0,
            exec_seg_base,
            exec_seg_limit,
            CS_EXECSEG_MAIN_BINARY if main_binary else 0,
        )
        + ident
        + hashes
    )
    header_size = _SUPERBLOB.size + _BLOB_INDEX.size
    return (
        _SUPERBLOB.pack(CSMAGIC_EMBEDDED_SIGNATURE, header_size + len(directory), 1)
        + _BLOB_INDEX.pack(CSSLOT_CODEDIRECTORY, header_size)
        + directory
    )
