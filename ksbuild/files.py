"""Small state files under .ksbuild/: read forgivingly, written atomically.

State is ksbuild's own and can always be rebuilt: a file that is not what ksbuild writes (garbage,
a truncated write, a hand edit) is moved aside as `NAME.corrupt` with one warning, and the run goes
on as if it were missing. A write that finds the disk full names the disk.
"""
from __future__ import annotations

import errno
import os
import sys

_FULL = {errno.ENOSPC: "no space left", errno.EDQUOT: "disk quota exceeded"}


class DiskFull(OSError):
    """Writing `filename` failed because its filesystem is full (or the user's quota is spent); the
    message names the filesystem as `df` does."""

    def __init__(self, code: int, path: str):
        message = (f"ksbuild: {_FULL.get(code, os.strerror(code))} on {describe_filesystem(path)}, writing "
                   f"{path}: free some space there, then run again")
        super().__init__(code, message, path)

    def __str__(self) -> str:
        return self.strerror


def disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in _FULL


def describe_filesystem(path: str) -> str:
    """`df`-style: the device, where it is mounted, and its free and total space."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    mount = _mount_point(probe)
    device = _device_of(mount)
    try:
        stat = os.statvfs(probe)
        space = f" ({_size(stat.f_bavail * stat.f_frsize)} free of {_size(stat.f_blocks * stat.f_frsize)})"
    except OSError:
        space = ""
    return f"the filesystem {device + ' ' if device else ''}mounted on {mount}{space}"


def _mount_point(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _device_of(mount: str) -> str:
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as handle:
            found = [line.split()[0] for line in handle if len(line.split()) > 1 and line.split()[1] == mount]
    except OSError:
        return ""
    return found[-1] if found else ""


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def read_json(path: str) -> dict:
    """The JSON object in `path`, or {} when it is missing or unreadable (state can be rebuilt); a file
    holding anything but a JSON object is moved aside (see set_aside)."""
    import json  # not on the no-op fast path, which writes through this module

    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError:
        return {}
    except ValueError:  # not JSON, or not UTF-8: garbage
        set_aside(path, "not JSON")
        return {}
    if not isinstance(data, dict):
        set_aside(path, "not a JSON object")
        return {}
    return data


_WARNED: set[str] = set()


def set_aside(path: str, why: str, companions: tuple[str, ...] = ()) -> None:
    """Move a corrupt state file to `path.corrupt` (replacing an older one) with one warning on
    stderr, so that the run rebuilds it and the bad copy can still be looked at. `companions` are
    suffixes of files that belong with it (`-wal`, `-journal`...): they are removed."""
    aside = path + ".corrupt"
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return  # another process of this run did it
    except OSError:
        try:
            os.unlink(path)
        except OSError:
            return
        aside = ""
    for suffix in companions:
        try:
            os.unlink(path + suffix)
        except OSError:
            pass
    if path not in _WARNED:
        _WARNED.add(path)
        kept = f"moved it to {_shown(aside)}" if aside else "removed it"
        sys.stderr.write(f"ksbuild: warning: {_shown(path)} was corrupt ({why}); {kept} and start it anew\n")
        sys.stderr.flush()


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else path


def write_atomically(path: str, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one. A full disk raises DiskFull, which
    names the filesystem; the partial temporary file is removed."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError as err:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if disk_full(err) and not isinstance(err, DiskFull):
            raise DiskFull(err.errno, path) from None
        raise


def write_if_changed(path: str, data: bytes) -> None:
    """Leave an unchanged file alone, timestamp included, so what depends on it stays up to date."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return
    except OSError:
        pass
    write_atomically(path, data)
