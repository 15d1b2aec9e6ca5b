"""Checksums of stored rows, shared by every store: CRC-32 over length-framed fields.

They catch torn or damaged writes (a torn SQLite tail, a flipped bit); they are not a security
measure (the Merkle log is).
"""

import struct
import zlib
from typing import Any

__all__ = ["head_crc", "record_crc", "row_is_intact", "tagged_crc"]

_LOG_HEADER = struct.Struct(">QIIII")
_LEN = struct.Struct(">I")


def record_crc(index: int, time: bytes, event: bytes, salt: bytes, leaf_hash: bytes) -> int:
    """CRC-32 of a log record's fields, framed with their lengths (``time`` as UTF-8)."""
    crc = zlib.crc32(_LOG_HEADER.pack(index, len(time), len(event), len(salt), len(leaf_hash)))
    crc = zlib.crc32(time, crc)
    crc = zlib.crc32(event, crc)
    crc = zlib.crc32(salt, crc)
    return zlib.crc32(leaf_hash, crc)


def tagged_crc(tag: bytes, *parts: bytes) -> int:
    crc = zlib.crc32(tag)
    for part in parts:
        crc = zlib.crc32(part, zlib.crc32(_LEN.pack(len(part)), crc))
    return crc


def head_crc(tree_size: int, root: bytes, timestamp: str, signature: bytes, key_id: str) -> int:
    return tagged_crc(
        b"head",
        tree_size.to_bytes(8, "big"),
        root,
        timestamp.encode(),
        signature,
        key_id.encode(),
    )


def row_is_intact(row: tuple[Any, ...]) -> bool:
    """Whether a ``(idx, time, event, salt, leaf_hash, crc)`` row matches its checksum.

    A field of the wrong type (SQLite stores any type in any column) makes it not intact.
    """
    idx, time, event, salt, leaf_hash, crc = row
    crc32 = zlib.crc32
    try:
        tb = time.encode()
        header = _LOG_HEADER.pack(idx, len(tb), len(event), len(salt), len(leaf_hash))
        return bool(crc32(leaf_hash, crc32(salt, crc32(event, crc32(tb, crc32(header))))) == crc)
    except (AttributeError, TypeError, ValueError, OverflowError, struct.error):
        return False
