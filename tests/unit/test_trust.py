"""trust: a directory (and file) is trusted only when nobody but the user could have written it.

Tests that need a file owned by another user or group make one with ``os.chown``, which
needs root; as another user they are skipped (the mode rules are tested for everyone).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from wasm_ext.runtime import trust

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX owners and modes only")
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
NOBODY = 65534  # another uid and gid


@pytest.fixture
def private(tmp_path: Path) -> Path:
    """A directory only this user can write, below pytest's private base directory."""
    directory = tmp_path / "private"
    directory.mkdir(mode=0o700)
    return directory


def test_a_private_directory_below_tmp_is_trusted(private: Path) -> None:
    assert trust.untrusted(private) is None  # /tmp above it is world-writable but sticky


@pytest.mark.parametrize("mode", [0o777, 0o703, 0o1777])
def test_a_directory_others_can_write_is_not(private: Path, mode: int) -> None:
    private.chmod(mode)  # even sticky: the cache directory itself must be ours alone
    reason = trust.untrusted(private)
    assert reason == (
        f"{private}: it is writable by others (mode {mode:04o}); "
        "only a directory that you own and nobody else can write is trusted"
    )


def test_a_directory_above_that_others_can_write_is_not(private: Path) -> None:
    (private / "cache").mkdir(mode=0o700)
    private.chmod(0o777)
    reason = trust.untrusted(private / "cache")
    assert reason is not None and reason.startswith(f"{private}: it is writable by others (mode 0777)")


def test_a_sticky_directory_above_is_allowed(private: Path) -> None:
    (private / "cache").mkdir(mode=0o700)
    private.chmod(0o1777)
    assert trust.untrusted(private / "cache") is None


def test_group_write_is_allowed_only_for_the_users_private_group(
    private: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private.chmod(0o770)
    monkeypatch.setattr(trust, "_private_group", lambda gid: False)
    assert "it is writable by its group (mode 0770)" in str(trust.untrusted(private))
    monkeypatch.setattr(trust, "_private_group", lambda gid: gid == private.stat().st_gid)
    assert trust.untrusted(private) is None


def test_the_users_private_group_is_recognised() -> None:
    import grp
    import pwd

    gid = os.getgid()
    alone = set(grp.getgrgid(gid).gr_mem) <= {pwd.getpwuid(os.getuid()).pw_name}
    assert trust._private_group(gid) is alone
    assert trust._private_group(gid + 1) is False  # not the user's primary group


def test_a_symlink_is_checked_where_it_points(private: Path) -> None:
    shared = private / "shared"
    (shared / "real").mkdir(parents=True)
    shared.chmod(0o777)
    link = private / "link"
    link.symlink_to(shared / "real")
    reason = trust.untrusted(link)
    assert reason is not None and reason.startswith(f"{shared}: it is writable by others")


@as_root
def test_a_directory_owned_by_another_user_is_not(private: Path) -> None:
    os.chown(private, NOBODY, -1)
    assert f"{private}: it is owned by uid {NOBODY}, not by you (uid 0)" in str(trust.untrusted(private))


@as_root
def test_a_directory_above_may_be_owned_by_root_but_not_by_another_user(private: Path) -> None:
    (private / "cache").mkdir(mode=0o700)
    os.chown(private, NOBODY, -1)
    assert str(trust.untrusted(private / "cache")).startswith(f"{private}: it is owned by uid {NOBODY}")


@as_root
def test_group_write_by_another_group_is_not_allowed(private: Path) -> None:
    os.chown(private, -1, NOBODY)
    private.chmod(0o770)
    assert "writable by its group (mode 0770)" in str(trust.untrusted(private))


def test_a_missing_directory_cannot_be_checked(private: Path) -> None:
    assert str(trust.untrusted(private / "missing")).startswith(f"{private / 'missing'}: cannot be checked")


def test_make_private_creates_each_missing_part_0700(private: Path) -> None:
    old = os.umask(0o002)  # a umask that would make group-writable directories
    try:
        assert trust.make_private(private / "a" / "b") is None
    finally:
        os.umask(old)
    assert {(p.stat().st_mode & 0o777) for p in (private / "a", private / "a" / "b")} == {0o700}
    assert trust.make_private(private / "a" / "b") is None  # existing: fine


def test_make_private_reports_an_untrusted_existing_directory(private: Path) -> None:
    private.chmod(0o777)
    assert str(trust.make_private(private / "new")).startswith(f"{private}: it is writable by others")


def test_make_private_raises_when_it_cannot_create(private: Path) -> None:
    with pytest.raises(OSError):
        trust.make_private(Path(os.devnull) / "cache")


def test_read_gives_a_trusted_files_bytes(private: Path) -> None:
    (private / "entry").write_bytes(b"data")
    assert trust.read(private / "entry") == b"data"


@pytest.mark.parametrize("mode", [0o666, 0o620])
def test_read_refuses_a_file_others_could_write(private: Path, mode: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trust, "_private_group", lambda gid: False)
    (private / "entry").write_bytes(b"data")
    (private / "entry").chmod(mode)
    with pytest.raises(PermissionError, match=r"entry: not trusted: it is writable by"):
        trust.read(private / "entry")


def test_read_does_not_follow_a_symlink(private: Path) -> None:
    (private / "elsewhere").write_bytes(b"data")
    (private / "entry").symlink_to(private / "elsewhere")
    with pytest.raises(OSError):
        trust.read(private / "entry")


@as_root
def test_read_refuses_a_file_owned_by_another_user(private: Path) -> None:
    (private / "entry").write_bytes(b"data")
    os.chown(private / "entry", NOBODY, -1)
    with pytest.raises(PermissionError, match=f"it is owned by uid {NOBODY}"):
        trust.read(private / "entry")


def test_untrusted_file_allows_root_or_you_and_no_other_writer(private: Path) -> None:
    exe = private / "zig"
    exe.write_bytes(b"")
    exe.chmod(0o755)
    assert trust.untrusted_file(exe) is None
    exe.chmod(0o757)
    assert trust.untrusted_file(exe) == f"{exe}: it is writable by others (mode 0757)"
