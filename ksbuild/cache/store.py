"""What every cache store is: blobs by SHA-256 and action entries by key, nothing more.

A store is read as hostile input. A blob comes back only as a regular file of the size the entry
declares with the SHA-256 it is named by, checked while it is copied and stopped as soon as it
goes wrong; an entry only as a regular file of at most MAX_ENTRY_SIZE bytes. Anything else is
`Untrusted`: a miss with a warning, never a failure and never a hang.

`DiskStore` serves the local cache and a shared directory (`file://`) alike. It opens what it reads
with O_NOFOLLOW|O_NONBLOCK and checks that it is a regular file before reading a byte (a symbolic
link, FIFO, device or directory is refused; a FIFO cannot block), never follows a symbolic link
below its own directory, and marks use (for `cache-gc`) on the file it opened. Every write goes to
a temporary file in the same directory and is renamed into place, so readers never see a partial
file and concurrent writers of the same key or blob leave one complete copy. A store made
`read_only` (the remote in `ro` mode) refuses every write and does not even mark use.
"""
from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from typing import BinaryIO, Callable, Protocol

from ksbuild.cache.config import MAX_BLOB_SIZE, MAX_ENTRY_SIZE

CHUNK = 1 << 20


class StoreError(Exception):
    """A store could not answer (unreachable, timed out, refused); never a miss."""


class Untrusted(Exception):
    """What a store holds is not what was asked for: not a regular file, too big, not the declared
    size, not the content its digest names. A miss with a warning; a rewrite replaces it."""


class Store(Protocol):
    name: str  # "local" or "remote": what last-run.json says a hit came from

    def get_entry(self, key: str) -> bytes | None:
        """The action entry stored under `key` (at most MAX_ENTRY_SIZE bytes), or None; Untrusted
        when what is there is not a regular file of that size."""

    def put_entry(self, key: str, data: bytes) -> None: ...

    def get_blob(self, digest: str, destination: str, size: int | None = None) -> bool:
        """Write the blob to `destination`, verified: exactly `size` bytes (when given, else at most
        MAX_BLOB_SIZE) whose SHA-256 is `digest`; False when it is not there, Untrusted when it is
        not that."""

    def put_blob(self, digest: str, source: str, force: bool = False) -> None:
        """Store the file as the blob `digest`; one already there is kept unless `force`."""

    def has_blob(self, digest: str) -> bool: ...


def copy_blob(read: Callable[[int], bytes], writer: BinaryIO, digest: str, size: int | None, where: str) -> None:
    """Copy from `read` (b'' at the end) into `writer` while hashing; stop as soon as more than
    `size` (or MAX_BLOB_SIZE) bytes come. Untrusted unless it was exactly the blob `digest`."""
    limit = MAX_BLOB_SIZE if size is None else min(size, MAX_BLOB_SIZE)
    hashed = hashlib.sha256()
    total = 0
    while True:
        chunk = read(min(CHUNK, limit + 1 - total))
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise Untrusted(f"{where} holds more than the {limit} bytes "
                            f"{'the entry declares' if size is not None and size <= MAX_BLOB_SIZE else 'allowed'}")
        hashed.update(chunk)
        writer.write(chunk)
    if size is not None and total != size:
        raise Untrusted(f"{where} holds {total} bytes, the entry declares {size}")
    if hashed.hexdigest() != digest:
        raise Untrusted(f"{where} does not match its SHA-256")


_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class DiskStore:
    def __init__(self, directory: str, name: str = "local", read_only: bool = False):
        self.directory = directory
        self.name = name
        self.read_only = read_only

    def _path(self, kind: str, name: str) -> str:
        return os.path.join(self.directory, kind, name[:2], name)

    # reading ------------------------------------------------------------------------------------
    def get_entry(self, key: str) -> bytes | None:
        handle = self._open("ac", key)
        if handle is None:
            return None
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_ENTRY_SIZE:
                raise Untrusted(f"{self._path('ac', key)} holds {size} bytes, more than an entry may "
                                f"({MAX_ENTRY_SIZE})")
            data = self._read(handle, MAX_ENTRY_SIZE + 1, "ac", key)
            if len(data) > MAX_ENTRY_SIZE:
                raise Untrusted(f"{self._path('ac', key)} is larger than an entry may be ({MAX_ENTRY_SIZE} bytes)")
            self._touch(handle)
        return data

    def has_entry(self, key: str) -> bool:
        try:
            return self._lstat("ac", key) is not None
        except (Untrusted, StoreError):
            return True  # let the restore say what is wrong

    def has_blob(self, digest: str) -> bool:
        try:
            found = self._lstat("cas", digest)
        except Untrusted:
            return False
        return found is not None and stat.S_ISREG(found.st_mode)

    def get_blob(self, digest: str, destination: str, size: int | None = None) -> bool:
        handle = self._open("cas", digest)
        if handle is None:
            return False
        where = self._path("cas", digest)
        with handle:
            stored = os.fstat(handle.fileno()).st_size
            if (size is not None and stored != size) or stored > MAX_BLOB_SIZE:
                raise Untrusted(f"{where} holds {stored} bytes, the entry declares {size}" if size is not None else
                                f"{where} holds {stored} bytes, more than a blob may ({MAX_BLOB_SIZE})")
            try:
                with open(destination, "wb") as writer:
                    copy_blob(handle.read, writer, digest, size, where)
            except OSError as err:
                raise StoreError(f"cannot read {where} into {destination}: {err.strerror}") from None
            self._touch(handle)
        return True

    def _open(self, kind: str, name: str) -> BinaryIO | None:
        """The regular file `kind/name`, opened without following a link and without blocking;
        None when it is not there."""
        path = self._path(kind, name)
        found = self._lstat(kind, name)  # refuse a device or FIFO before even opening it
        if found is None:
            return None
        _check_regular(found, path)
        directory = self._directory(kind, name)
        if directory is None:
            return None
        try:
            fd = os.open(name, _READ, dir_fd=directory)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.EMLINK):
                raise Untrusted(f"{path} is a symbolic link") from None
            raise StoreError(f"cannot read {path}: {err.strerror}") from None
        finally:
            os.close(directory)
        try:
            _check_regular(os.fstat(fd), path)  # what was opened, not what was looked at
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb", buffering=0)

    def _read(self, handle: BinaryIO, limit: int, kind: str, name: str) -> bytes:
        data = bytearray()
        try:
            while len(data) < limit and (chunk := handle.read(limit - len(data))):
                data += chunk
            return bytes(data)
        except OSError as err:
            raise StoreError(f"cannot read {self._path(kind, name)}: {err.strerror}") from None

    def _lstat(self, kind: str, name: str) -> os.stat_result | None:
        directory = self._directory(kind, name)
        if directory is None:
            return None
        try:
            return os.lstat(name, dir_fd=directory)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StoreError(f"cannot read {self._path(kind, name)}: {err.strerror}") from None
        finally:
            os.close(directory)

    def _directory(self, kind: str, name: str, create: bool = False) -> int | None:
        """A descriptor of `kind/<first two characters>` below the store's directory (which may be
        reached through links: it is the configuration's), each step opened without following a
        link; None when it is not there (and not `create`)."""
        try:
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.makedirs(self.directory, exist_ok=True)
                fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError as err:
                raise StoreError(f"cannot open {self.directory}: {err.strerror}") from None
        except OSError as err:
            raise StoreError(f"cannot open {self.directory}: {err.strerror}") from None
        current = self.directory
        try:
            for part in (kind, name[:2]):
                current = os.path.join(current, part)
                try:
                    step = os.open(part, _DIRECTORY, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        os.close(fd)
                        return None
                    try:  # made only when missing: a mkdir that finds it there costs as much as a file
                        os.mkdir(part, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                    step = os.open(part, _DIRECTORY, dir_fd=fd)
                except OSError as err:
                    os.close(fd)
                    if err.errno in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR):
                        if create:
                            raise StoreError(f"cannot write in {current}: it is not a directory") from None
                        raise Untrusted(f"{current} is not a directory of the store (a link or a file)") from None
                    raise StoreError(f"cannot open {current}: {err.strerror}") from None
                os.close(fd)
                fd = step
        except OSError as err:
            os.close(fd)
            raise StoreError(f"cannot write in {current}: {err.strerror}") from None
        return fd

    def _touch(self, handle: BinaryIO) -> None:
        """Mark as recently used, for `doit cache-gc` (which removes the least recently used first):
        on the file that was opened, so never through a link; never in a read-only store."""
        if self.read_only:
            return
        try:
            os.utime(handle.fileno())
        except OSError:
            pass

    # writing ------------------------------------------------------------------------------------
    def put_entry(self, key: str, data: bytes) -> None:
        self._write("ac", key, lambda writer: writer.write(data))

    def put_blob(self, digest: str, source: str, force: bool = False) -> None:
        self._check_writable()
        if not force and self.has_blob(digest):
            self._touch_name("cas", digest)
            return

        def copy(writer):
            fd = os.open(source, _READ)
            with os.fdopen(fd, "rb") as reader:
                _check_regular(os.fstat(reader.fileno()), source)
                while chunk := reader.read(CHUNK):
                    writer.write(chunk)

        self._write("cas", digest, copy)

    def remove_blob(self, digest: str) -> None:
        self._check_writable()
        directory = self._directory("cas", digest)
        if directory is None:
            return
        try:
            os.unlink(digest, dir_fd=directory)
        except OSError:  # gone, or a directory: a later forced write says so
            pass
        finally:
            os.close(directory)

    def _touch_name(self, kind: str, name: str) -> None:
        directory = self._directory(kind, name)
        if directory is None:
            return
        try:
            os.utime(name, dir_fd=directory, follow_symlinks=False)
        except OSError:
            pass
        finally:
            os.close(directory)

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.directory} is read only here (remote_mode ro): nothing is written to it")

    def _write(self, kind: str, name: str, fill) -> None:
        self._check_writable()
        path = self._path(kind, name)
        directory = self._directory(kind, name, create=True)
        temporary = f".tmp-{secrets.token_hex(8)}"
        try:
            fd = os.open(temporary, _WRITE, 0o644, dir_fd=directory)
            with os.fdopen(fd, "wb") as writer:
                fill(writer)
                os.fchmod(writer.fileno(), 0o644)
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        except (OSError, Untrusted) as err:
            raise StoreError(f"cannot write {path}: {getattr(err, 'strerror', None) or err}") from None
        finally:
            try:
                os.unlink(temporary, dir_fd=directory)
            except OSError:
                pass
            os.close(directory)


def _check_regular(found: os.stat_result, path: str) -> None:
    if not stat.S_ISREG(found.st_mode):
        raise Untrusted(f"{path} is {_kind(found.st_mode)}, not a regular file")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"
