"""Where imported recordings' files live: one small interface, a local directory behind it.

The layout is BBB's own (``<dir>/<format>/<recordID>/<path>``, as under
``/var/bigbluebutton/published``), so nginx can serve the directory as a BBB node does. Another
store (S3-compatible object storage) implements :class:`RecordingFiles` the same way: uploads
are written under a temporary name and appear only once complete and verified.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: A BBB record ID: the meeting's internal ID, ``<sha1>-<13-digit ms>``.
RECORD_ID = re.compile(r"^[0-9a-f]{40}-[0-9]{13}$")
#: A playback format's name (presentation, video, podcast, notes, screenshare, ...).
FORMAT = re.compile(r"^[a-z0-9_-]{1,32}$")
#: One path segment of a recording's file: no hidden files, no traversal.
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
PARTIAL_SUFFIX = ".b3s-part"


class BadPath(ValueError):
    """A record ID, format or file path that cannot name a recording's file."""


@dataclass(frozen=True, slots=True)
class FileState:
    #: The complete file's size and SHA-256, or None.
    size: int | None
    sha256: str | None
    #: Bytes of an interrupted upload waiting to be resumed.
    partial: int


class RecordingFiles(Protocol):
    def state(self, record_id: str, fmt: str, path: str) -> FileState: ...

    def append(self, record_id: str, fmt: str, path: str, offset: int, data: bytes) -> int:
        """Write ``data`` at ``offset`` of the upload (0 starts over); returns its size."""

    def complete(self, record_id: str, fmt: str, path: str, size: int, sha256: str) -> bool:
        """Publish the upload if it has ``size`` bytes with this SHA-256 (else discard it)."""

    def open(self, record_id: str, fmt: str, path: str) -> Path | None: ...

    def remove(self, record_id: str) -> None: ...


def check_path(record_id: str, fmt: str, path: str) -> tuple[str, ...]:
    if not RECORD_ID.match(record_id) or not FORMAT.match(fmt):
        raise BadPath("not a recording's ID or format")
    segments = tuple(path.split("/"))
    if not path or len(segments) > 8 or not all(_SEGMENT.match(s) for s in segments):
        raise BadPath("not a recording's file path")
    if segments[-1].endswith(PARTIAL_SUFFIX):
        raise BadPath("not a recording's file path")
    return segments


class LocalFiles:
    """B3SCALE_RECORDINGS_DIR on local disk (or a mounted volume)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, record_id: str, fmt: str, path: str) -> Path:
        return self.root.joinpath(fmt, record_id, *check_path(record_id, fmt, path))

    def state(self, record_id: str, fmt: str, path: str) -> FileState:
        final = self._path(record_id, fmt, path)
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        partial_size = partial.stat().st_size if partial.is_file() else 0
        if not final.is_file():
            return FileState(None, None, partial_size)
        digest = hashlib.sha256()
        with final.open("rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
        return FileState(final.stat().st_size, digest.hexdigest(), partial_size)

    def append(self, record_id: str, fmt: str, path: str, offset: int, data: bytes) -> int:
        final = self._path(record_id, fmt, path)
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        partial.parent.mkdir(parents=True, exist_ok=True)
        current = partial.stat().st_size if partial.is_file() else 0
        if offset not in (0, current):
            raise BadPath(f"the upload has {current} bytes, not {offset}: resume from there")
        with partial.open("r+b" if offset else "wb") as target:
            target.seek(offset)
            target.write(data)
            target.truncate()
            return target.tell()

    def complete(self, record_id: str, fmt: str, path: str, size: int, sha256: str) -> bool:
        final = self._path(record_id, fmt, path)
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        if not partial.is_file():
            return False
        digest = hashlib.sha256()
        with partial.open("rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
        if partial.stat().st_size != size or digest.hexdigest() != sha256.lower():
            partial.unlink()
            return False
        os.replace(partial, final)  # atomic: readers see the old file or the new one
        return True

    def open(self, record_id: str, fmt: str, path: str) -> Path | None:
        try:
            final = self._path(record_id, fmt, path)
        except BadPath:
            return None
        return final if final.is_file() else None

    def remove(self, record_id: str) -> None:
        if not RECORD_ID.match(record_id) or not self.root.is_dir():
            return
        for fmt_dir in self.root.iterdir():
            target = fmt_dir / record_id
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
