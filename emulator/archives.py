"""Extract model and code archives (``model.tar.gz``, ``sourcedir.tar.gz``) without trusting them.

The archives come from users' S3 buckets, so they are hostile input. ``tarfile``'s
``filter="data"`` is not enough on its own: on Python 3.11.7 it can be walked around
(CVE-2025-4517, a chain of symlinks whose resolved path exceeds PATH_MAX), and nothing in
``tarfile`` caps how much a small gzip expands to on disk. So :func:`safe_extract` does every
check itself and only uses ``tarfile`` to parse headers and decompress data:

* only regular files and directories are extracted; symlinks, hardlinks, devices and FIFOs are
  refused. SageMaker's containers write ``model.tar.gz`` from ``/opt/ml/model`` and the SageMaker
  Python SDK bundles ``source_dir`` from plain files, so neither needs links, and refusing them
  removes the whole class of link-based escapes instead of trying to resolve them safely;
* member names must be relative, without ``..``, NUL or an over-long path, and every directory
  on the way is opened with ``O_NOFOLLOW`` relative to its parent's descriptor, so an existing
  symlink under the target cannot redirect a write either;
* file data is copied in 1 MiB chunks and the real decompressed bytes are counted, so the limit
  holds whatever the headers claim; files get mode 0o644 (0o755 when executable), directories
  0o755, and owners and timestamps are not taken from the archive;
* on any failure everything this call created is removed again, then :class:`UnsafeArchive`
  (or its subclass :class:`CorruptArchive` for unreadable archives) is raised.

Limits, read each time :func:`safe_extract` runs unless the caller passes them explicitly:

``EMULATOR_ARCHIVE_MAX_BYTES``
    Most decompressed file bytes one archive may write (default 10 GiB).
``EMULATOR_ARCHIVE_MAX_MEMBERS``
    Most members (files and directories) one archive may hold (default 100,000).
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import zlib
from pathlib import Path
from typing import BinaryIO

DEFAULT_MAX_TOTAL_BYTES = 10 * 1024**3
DEFAULT_MAX_MEMBERS = 100_000
MAX_BYTES_ENV = "EMULATOR_ARCHIVE_MAX_BYTES"
MAX_MEMBERS_ENV = "EMULATOR_ARCHIVE_MAX_MEMBERS"

CHUNK = 1024**2
# tarfile reads a pax extended header or GNU long name in a single read() of the size its
# header announces; a hostile header could make that gigabytes of memory. Real ones are a few
# KiB, and file data is read in CHUNK-sized pieces, so anything larger is refused.
MAX_SINGLE_READ = 4 * CHUNK
# Linux's PATH_MAX. Longer destinations are what CVE-2025-4517 relies on (realpath() gives up
# resolving them), and no model or code bundle needs them.
MAX_PATH = 4096
# After the end-of-archive marker, read at most this much more to let gzip/bz2/xz verify their
# trailer (a truncated .tar.gz shows up there), without decompressing arbitrary trailing data.
TRAILER_CHECK = CHUNK

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# What reading a damaged compressed stream can raise besides tarfile's own errors.
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)


class UnsafeArchive(Exception):
    """The archive was not extracted; the message names the archive, member and problem."""


class CorruptArchive(UnsafeArchive):
    """The archive is not a tar archive, or is damaged or truncated."""


def safe_extract(
    archive: Path,
    target: Path,
    *,
    what: str,
    max_total_bytes: int | None = None,
    max_members: int | None = None,
) -> None:
    """Extract ``archive`` (tar, optionally gzip/bz2/xz compressed) into ``target``.

    ``what`` says what the archive is for (e.g. ``"ModelDataUrl"``) and starts every error
    message. ``max_total_bytes`` and ``max_members`` default to ``EMULATOR_ARCHIVE_MAX_BYTES``
    and ``EMULATOR_ARCHIVE_MAX_MEMBERS`` when set, else to the module's defaults. Raises
    :class:`UnsafeArchive` after removing whatever this call created under ``target``.
    """
    archive = Path(archive)
    target = Path(target)
    label = f"{what} {archive.name}".strip()
    limit_bytes, bytes_source = _limit(max_total_bytes, MAX_BYTES_ENV, DEFAULT_MAX_TOTAL_BYTES)
    limit_members, members_source = _limit(max_members, MAX_MEMBERS_ENV, DEFAULT_MAX_MEMBERS)
    # Remember the outermost directory this call creates, so a failure can remove it whole.
    created_root = _first_missing(Path(os.path.abspath(target)))
    extraction = None
    try:
        target.mkdir(parents=True, exist_ok=True)
        extraction = _Extraction(label, target.resolve(), limit_bytes, bytes_source)
        extraction.run(archive, limit_members, members_source)
    except BaseException as exc:
        if created_root is not None:
            shutil.rmtree(created_root, ignore_errors=True)
        elif extraction is not None:
            extraction.undo()
        if isinstance(exc, UnsafeArchive) or not isinstance(exc, Exception):
            raise  # KeyboardInterrupt and friends go through unchanged, after the cleanup
        # Anything else (disk full, a name the filesystem refuses...) still must not leave
        # half an archive behind, and callers handle a single exception type.
        raise UnsafeArchive(f"{label}: could not be extracted: {exc}") from exc
    finally:
        if extraction is not None:
            extraction.close()


def _limit(explicit: int | None, env: str, default: int) -> tuple[int, str]:
    """The limit to apply and where it came from (for the error message)."""
    if explicit is not None:
        return explicit, "set by the caller"
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default, env
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise UnsafeArchive(f"{env}={raw!r} is not a positive whole number")
    return value, f"{env}={raw}"


def _first_missing(path: Path) -> Path | None:
    """The outermost ancestor of ``path`` (or ``path`` itself) that does not exist yet."""
    missing = None
    while not os.path.lexists(path):
        missing = path
        if path.parent == path:
            break
        path = path.parent
    return missing


def _human(size: int) -> str:
    for unit, name in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if size >= unit:
            return f"{size / unit:.4g} {name}"
    return f"{size} bytes"


def _open_decompressed(raw: BinaryIO) -> BinaryIO:
    """The decompressed stream of ``raw``, by magic number, as ``tarfile.open("r:*")`` would."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    return raw


class _GuardedStream:
    """What tarfile reads through: refuses outsized single reads and reports damaged data.

    We open the decompressor ourselves (instead of ``tarfile.open(path, "r:*")``) only to put
    this between it and tarfile, so the very first header is already guarded.
    """

    def __init__(self, stream: BinaryIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.member = ""  # the last member seen, for messages
        self.last_read = b""  # tarfile's last header-sized read, to tell why iteration stopped

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > MAX_SINGLE_READ:
            after = f" after member {self.member!r}" if self.member else ""
            raise UnsafeArchive(
                f"{self.label}: a header{after} is larger than {_human(MAX_SINGLE_READ)} "
                "(a pax header or long name this size is corrupt or hostile)"
            )
        try:
            data = self.stream.read(size)
        except _READ_ERRORS as exc:
            raise self.corrupt(exc) from exc
        if size <= tarfile.BLOCKSIZE:
            self.last_read = data
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        try:
            return self.stream.seek(offset, whence)
        except _READ_ERRORS as exc:
            raise self.corrupt(exc) from exc

    def tell(self) -> int:
        return self.stream.tell()

    def corrupt(self, exc: BaseException) -> CorruptArchive:
        where = f" (after member {self.member!r})" if self.member else ""
        return CorruptArchive(
            f"{self.label}: corrupt or truncated archive{where}: {str(exc) or type(exc).__name__}"
        )


class _Extraction:
    """One extraction's state: what it created (to undo) and how many bytes it wrote."""

    def __init__(self, label: str, root: Path, max_bytes: int, bytes_source: str) -> None:
        self.label = label
        self.root = root
        self.max_bytes = max_bytes
        self.bytes_source = bytes_source
        self.written = 0
        # Relative paths this call created, in creation order; undone in reverse.
        self.created: list[tuple[str, ...]] = []
        self.created_set: set[tuple[str, ...]] = set()
        self.root_fd = os.open(root, _DIR_FLAGS)

    def close(self) -> None:
        os.close(self.root_fd)

    def run(self, archive: Path, max_members: int, members_source: str) -> None:
        try:
            raw = archive.open("rb")
        except OSError as exc:
            raise CorruptArchive(f"{self.label}: cannot be read: {exc}") from exc
        with raw, _open_decompressed(raw) as stream:
            guarded = _GuardedStream(stream, self.label)
            with self.open_tar(guarded) as tar:
                count = 0
                while True:
                    try:
                        member = tar.next()
                    except tarfile.TarError as exc:
                        raise guarded.corrupt(exc) from exc
                    if member is None:
                        break
                    count += 1
                    if count > max_members:
                        raise UnsafeArchive(
                            f"{self.label}: more than {max_members:,} members, stopped at "
                            f"{member.name!r} (limit {members_source})"
                        )
                    guarded.member = member.name
                    try:
                        self.extract(tar, member)
                    except tarfile.TarError as exc:  # e.g. the data ends before its header said
                        raise guarded.corrupt(exc) from exc
                    # tarfile keeps every header it has read; we never look back, so drop
                    # them to keep memory flat on archives with many members.
                    tar.members.clear()
            self.check_end(guarded)

    def open_tar(self, guarded: _GuardedStream) -> tarfile.TarFile:
        try:
            return tarfile.open(fileobj=guarded, mode="r:")
        except tarfile.TarError as exc:
            raise CorruptArchive(f"{self.label}: not a tar archive ({exc})") from exc

    def check_end(self, guarded: _GuardedStream) -> None:
        """tarfile stops silently at a damaged header after the first; we don't."""
        block = guarded.last_read
        # tarfile reads a 512-byte header and stops at b"" (end of data without the end
        # marker, which tar accepts too), at zeros (the end marker) or at anything damaged.
        if len(block) not in (0, tarfile.BLOCKSIZE) or block.count(0) != len(block):
            raise guarded.corrupt(ValueError("unreadable header, data is missing or damaged"))
        # Let the decompressor reach its checksum/trailer: that's where truncation shows.
        remaining = TRAILER_CHECK
        while remaining > 0 and (data := guarded.read(min(CHUNK, remaining))):
            remaining -= len(data)

    def extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = member.name
        parts = self.parts(name)
        if member.isdir():
            if parts:
                os.close(self.open_dirs(parts, name))
            return
        if not member.isreg():
            raise UnsafeArchive(
                f"{self.label}: member {name!r} is {_kind(member)}; only regular "
                "files and directories are extracted"
            )
        if not parts:
            raise UnsafeArchive(f"{self.label}: member {name!r} has no file name")
        parent = self.open_dirs(parts[:-1], name) if len(parts) > 1 else os.dup(self.root_fd)
        try:
            self.check_resolved(parts, name)
            mode = 0o755 if member.mode & 0o111 else 0o644
            fd = self.create_file(parent, parts, name)
            with os.fdopen(fd, "wb") as out:
                # umask must not decide what a model server or script can read or run.
                os.fchmod(out.fileno(), mode)
                source = tar.extractfile(member)
                if source is None:  # isreg() members always have data; belt and braces
                    raise UnsafeArchive(f"{self.label}: member {name!r} has no data")
                with source:
                    self.copy(source, out, name)
        finally:
            os.close(parent)

    def parts(self, name: str) -> tuple[str, ...]:
        """The member's path components, or UnsafeArchive if it could leave the target."""
        if "\x00" in name:
            raise UnsafeArchive(f"{self.label}: member {name!r} has a NUL byte in its name")
        if name.startswith("/"):
            raise UnsafeArchive(f"{self.label}: member {name!r} has an absolute path")
        parts = tuple(part for part in name.split("/") if part not in ("", "."))
        if ".." in parts:
            raise UnsafeArchive(f"{self.label}: member {name!r} would extract outside the target")
        if len(os.fsencode(self.root.joinpath(*parts))) >= MAX_PATH:
            shown = f"{name[:80]!r}..." if len(name) > 80 else repr(name)
            raise UnsafeArchive(
                f"{self.label}: member {shown} would extract to a path longer than {MAX_PATH} bytes"
            )
        # "./" names the target itself (tar -C dir . writes it); any other empty name is refused
        # by the callers of parts() where a file name is needed.
        return parts

    def open_dirs(self, parts: tuple[str, ...], name: str) -> int:
        """Open (creating as needed) ``parts`` under the target without following symlinks."""
        fd = os.dup(self.root_fd)
        try:
            for depth, part in enumerate(parts, start=1):
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    self.remember(parts[:depth])
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                    os.fchmod(child, 0o755)
                except OSError as exc:
                    # O_NOFOLLOW makes a symlink fail with ELOOP; a file fails with ENOTDIR.
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    raise UnsafeArchive(
                        f"{self.label}: member {name!r} needs directory "
                        f"{'/'.join(parts[:depth])!r}, which exists in the target as a symlink "
                        f"or non-directory ({exc.strerror})"
                    ) from exc
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    def check_resolved(self, parts: tuple[str, ...], name: str) -> None:
        """Second, path-based check: the destination's real path stays inside the target."""
        destination = Path(os.path.realpath(self.root.joinpath(*parts)))
        if not destination.is_relative_to(self.root):
            raise UnsafeArchive(f"{self.label}: member {name!r} would extract outside the target")

    def create_file(self, parent: int, parts: tuple[str, ...], name: str) -> int:
        leaf = parts[-1]
        try:
            fd = os.open(leaf, _FILE_FLAGS, 0o600, dir_fd=parent)
        except FileExistsError:
            # A later member of the same name wins, as with tar; but only over a regular file.
            existing = os.stat(leaf, dir_fd=parent, follow_symlinks=False)
            if not stat.S_ISREG(existing.st_mode):
                raise UnsafeArchive(
                    f"{self.label}: member {name!r} would replace a directory, symlink or "
                    "special file already in the target"
                ) from None
            os.unlink(leaf, dir_fd=parent)
            fd = os.open(leaf, _FILE_FLAGS, 0o600, dir_fd=parent)
        self.remember(parts)
        return fd

    def copy(self, source: BinaryIO, out: BinaryIO, name: str) -> None:
        # Count what decompression really yields, not the header's size field.
        while chunk := source.read(CHUNK):
            # Checked before writing, so the disk never holds more than the limit.
            if self.written + len(chunk) > self.max_bytes:
                raise UnsafeArchive(
                    f"{self.label}: more than {_human(self.max_bytes)} once decompressed, "
                    f"reached at member {name!r} (limit {self.bytes_source})"
                )
            out.write(chunk)
            self.written += len(chunk)

    def remember(self, parts: tuple[str, ...]) -> None:
        if parts not in self.created_set:
            self.created_set.add(parts)
            self.created.append(parts)

    def undo(self) -> None:
        """Remove what this call created; best effort, the original error matters more."""
        # Nothing under root is a symlink we made (we make none), and rmtree/rmdir/unlink do not
        # follow symlinks, so path-based removal stays inside the target.
        for parts in reversed(self.created):
            path = self.root.joinpath(*parts)
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"a hard link to {member.linkname!r}"
    if member.ischr() or member.isblk():
        return "a device file"
    if member.isfifo():
        return "a FIFO"
    return f"of unsupported tar type {member.type!r}"
