"""A built wheel read whole, its RECORD checked, and written again with some files changed.

``wasm-ext precompile`` and ``wasm-ext merge`` change only precompiled artifacts and the
manifests that list them; everything else must come out as it went in. So every member
keeps its ``ZipInfo`` (name, date, mode, compression) and its bytes, new members copy the
``ZipInfo`` of a member beside them (so a wheel built under ``SOURCE_DATE_EPOCH`` stays
reproducible), and RECORD is written anew from the members' real hashes. A wheel whose
RECORD does not match its files is refused: it was changed after it was built.

Hand-written over :mod:`zipfile` rather than taken from the ``wheel`` package: the plugin
does not depend on ``wheel`` (setuptools builds wheels without it), and this is the
whole of what is needed.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


class WheelError(Exception):
    """A wheel that cannot be read, does not match its RECORD, or cannot be written."""


def record_hash(data: bytes) -> str:
    """The ``sha256=...`` form RECORD uses (PEP 376/427: urlsafe base64, no padding)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


@dataclass
class Member:
    info: zipfile.ZipInfo
    data: bytes

    @property
    def name(self) -> str:
        return self.info.filename


class Wheel:
    """The members of one wheel, in archive order, with the file it was read from."""

    def __init__(self, path: Path, members: list[Member]) -> None:
        self.path = path
        self.members = members
        self.changed = False

    @property
    def record_name(self) -> str:
        records = [m.name for m in self.members if _is_record(m.name)]
        if len(records) != 1:
            raise WheelError(f"{self.path}: expected one *.dist-info/RECORD, found {len(records)}")
        return records[0]

    @classmethod
    def read(cls, path: Path) -> Wheel:
        """The wheel at *path*, after checking every file against its RECORD."""
        if path.suffix != ".whl":
            raise WheelError(f"{path}: not a wheel (.whl)")
        try:
            with zipfile.ZipFile(path) as zf:
                members = [Member(info, zf.read(info)) for info in zf.infolist() if not info.is_dir()]
        except (OSError, zipfile.BadZipFile) as exc:
            raise WheelError(f"{path}: not a readable wheel: {exc}") from exc
        wheel = cls(path, members)
        wheel._check_record()
        return wheel

    def _check_record(self) -> None:
        record = self.record_name
        rows = {row[0]: row for row in csv.reader(io.StringIO(self.get(record).decode("utf-8"))) if row}
        for member in self.members:
            if member.name == record or member.name.endswith((".dist-info/RECORD.jws", ".dist-info/RECORD.p7s")):
                continue
            row = rows.get(member.name)
            if row is None:
                raise WheelError(f"{self.path}: {member.name} is not listed in {record}")
            if len(row) < 3 or row[1] != record_hash(member.data) or row[2] != str(len(member.data)):
                raise WheelError(
                    f"{self.path}: {member.name} does not match its hash or size in {record}: "
                    "the wheel was changed after it was built; build it again"
                )

    # -- members ---------------------------------------------------------------------------

    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def get(self, name: str) -> bytes:
        for member in self.members:
            if member.name == name:
                return member.data
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(m.name == name for m in self.members)

    def put(self, name: str, data: bytes, *, after: str) -> None:
        """Replace *name*'s bytes, or add it after the member *after* with a copy of that one's ZipInfo."""
        for member in self.members:
            if member.name == name:
                if member.data != data:
                    member.data = data
                    self.changed = True
                return
        index = self.names().index(after)
        like = self.members[index].info
        info = zipfile.ZipInfo(name, like.date_time)
        info.compress_type = like.compress_type
        info.external_attr = like.external_attr
        info.create_system = like.create_system
        self.members.insert(index + 1, Member(info, data))
        self.changed = True

    # -- writing ---------------------------------------------------------------------------

    def _record(self) -> bytes:
        record = self.record_name
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for member in self.members:
            if member.name != record:
                writer.writerow([member.name, record_hash(member.data), len(member.data)])
        writer.writerow([record, "", ""])
        return out.getvalue().encode("utf-8")

    def write(self, path: Path) -> None:
        """Write the wheel to *path* (atomically: a temporary file in its directory, then renamed)."""
        record = self.record_name
        if self.changed:
            self.put(record, self._record(), after=record)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".whl")
        try:
            with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
                for member in self.members:
                    zf.writestr(member.info, member.data)
            os.chmod(tmp, _mode_like(self.path))
            os.replace(tmp, path)
        except BaseException as exc:
            os.unlink(tmp)
            if isinstance(exc, OSError):
                raise WheelError(f"{path}: cannot write: {exc}") from exc
            raise


def _is_record(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD"


def _mode_like(path: Path) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return 0o644
