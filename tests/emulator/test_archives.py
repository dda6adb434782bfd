"""emulator/archives.py: hostile model and code archives are refused and leave nothing behind."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path

import pytest

from emulator import archives
from emulator.archives import CorruptArchive, UnsafeArchive, safe_extract

MiB = 1024**2


def info(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    for key, value in fields.items():
        setattr(member, key, value)
    return member


def build(
    path: Path,
    entries: Iterable[tuple[tarfile.TarInfo, bytes | None]],
    mode: str = "w:gz",
    **options: object,
) -> Path:
    with tarfile.open(path, mode, **options) as tar:
        for member, data in entries:
            if data is not None:
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` (symlinks not followed) with its type bits and size."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            st = path.lstat()
            found[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_size)
    return found


def disk_bytes(root: Path) -> int:
    return sum(size for _, size in snapshot(root).values())


class Zeros(io.RawIOBase):
    """``size`` zero bytes, produced as read, so a bomb never sits in the test's memory."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_normal_archive_extracts_byte_identically(tmp_path: Path) -> None:
    files = {
        "xgboost-model": os.urandom(300_000),
        "code/inference.py": b"def model_fn(model_dir):\n    return model_dir\n",
        "code/lib/deep/er/data.bin": os.urandom(5000),
        "empty.txt": b"",
    }
    entries = [(info("./", tarfile.DIRTYPE, mode=0o700), None)]  # as `tar -C dir .` writes
    entries += [(info("code", tarfile.DIRTYPE, mode=0o700), None)]
    entries += [(info(f"./{name}", mode=0o600), data) for name, data in files.items()]
    entries += [(info("code/run.sh", mode=0o700), b"#!/bin/sh\necho hi\n")]
    entries += [(info("code/empty-dir", tarfile.DIRTYPE), None)]
    archive = build(tmp_path / "model.tar.gz", entries)
    target = tmp_path / "out" / "model"

    old_umask = os.umask(0o077)  # modes must not depend on the umask
    try:
        safe_extract(archive, target, what="ModelDataUrl")
    finally:
        os.umask(old_umask)

    for name, data in files.items():
        assert (target / name).read_bytes() == data, name
        assert stat.S_IMODE((target / name).stat().st_mode) == 0o644, name
    assert stat.S_IMODE((target / "code/run.sh").stat().st_mode) == 0o755
    for folder in ("code", "code/lib/deep", "code/empty-dir"):
        assert (target / folder).is_dir()
        assert stat.S_IMODE((target / folder).stat().st_mode) == 0o755, folder
    folders = ["code", "code/lib", "code/lib/deep", "code/lib/deep/er", "code/empty-dir"]
    assert sorted(snapshot(target)) == sorted([*files, "code/run.sh", *folders])


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_every_tar_compression_is_read(tmp_path: Path, mode: str) -> None:
    data = os.urandom(70_000)
    archive = build(tmp_path / "sourcedir.tar", [(info("train.py"), data)], mode)
    safe_extract(archive, tmp_path / "code", what="code")
    assert (tmp_path / "code/train.py").read_bytes() == data


def test_several_archives_share_a_target(tmp_path: Path) -> None:
    """Hosting unpacks every .tar.gz of a prefix into one model directory."""
    first = build(tmp_path / "a.tar.gz", [(info("a/one"), b"1")])
    second = build(tmp_path / "b.tar.gz", [(info("a/two"), b"2"), (info("one"), b"x")])
    target = tmp_path / "model"
    safe_extract(first, target, what="ModelDataUrl")
    safe_extract(second, target, what="ModelDataUrl")
    assert (target / "a/one").read_bytes() == b"1"
    assert (target / "a/two").read_bytes() == b"2"
    assert (target / "one").read_bytes() == b"x"


HOSTILE = {
    "dot-dot": (info("../evil"), b"x", "would extract outside the target"),
    "dot-dot-inside": (info("a/../../evil"), b"x", "would extract outside the target"),
    "absolute": (info("/tmp/evil-absolute"), b"x", "absolute path"),
    "symlink-out": (
        info("link", tarfile.SYMTYPE, linkname="../../outside"),
        None,
        "symbolic link to '../../outside'",
    ),
    "symlink-in": (info("alias", tarfile.SYMTYPE, linkname="good.txt"), None, "symbolic link"),
    "hardlink": (info("hard", tarfile.LNKTYPE, linkname="good.txt"), None, "hard link"),
    "hardlink-out": (info("hard", tarfile.LNKTYPE, linkname="/etc/passwd"), None, "hard link"),
    "char-device": (info("null", tarfile.CHRTYPE, devmajor=1, devminor=3), None, "device"),
    "block-device": (info("sda", tarfile.BLKTYPE, devmajor=8, devminor=0), None, "device"),
    "fifo": (info("pipe", tarfile.FIFOTYPE), None, "FIFO"),
    "file-named-dot": (info("./"), b"x", "has no file name"),
    "file-under-file": (info("good.txt/inner"), b"x", "symlink or non-directory"),
    "too-long": (info("d/" * 2100 + "f"), b"x", "longer than 4096 bytes"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_member_is_refused_and_nothing_is_left(tmp_path: Path, case: str) -> None:
    member, data, problem = HOSTILE[case]
    # A good file first, so the refusal has something to clean up.
    entries = [(info("sub/good.bin"), b"ok"), (info("good.txt"), b"ok"), (member, data)]
    archive = build(tmp_path / "model.tar.gz", entries, format=tarfile.PAX_FORMAT)
    before = snapshot(tmp_path)
    target = tmp_path / "target"

    with pytest.raises(UnsafeArchive) as caught:
        safe_extract(archive, target, what="ModelDataUrl")

    message = str(caught.value)
    assert message.startswith("ModelDataUrl model.tar.gz: member "), message
    assert problem in message
    assert member.name[:40] in message
    assert not target.exists()
    assert snapshot(tmp_path) == before
    assert not Path("/tmp/evil-absolute").exists()


def test_nul_in_a_pax_name_is_refused(tmp_path: Path) -> None:
    member = info("placeholder")
    member.pax_headers = {"path": "a\x00b"}
    archive = build(tmp_path / "m.tar", [(member, b"x")], "w", format=tarfile.PAX_FORMAT)
    with pytest.raises(UnsafeArchive, match="NUL byte"):
        safe_extract(archive, tmp_path / "target", what="code")
    assert not (tmp_path / "target").exists()


def test_refusal_keeps_what_the_target_already_held(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "earlier.bin").write_bytes(b"from the first archive")
    (target / "shared").mkdir()
    entries = [
        (info("shared/new.bin"), b"new"),
        (info("fresh/dir/new.bin"), b"new"),
        (info("bad", tarfile.SYMTYPE, linkname="/etc"), None),
    ]
    archive = build(tmp_path / "model.tar.gz", entries)
    with pytest.raises(UnsafeArchive, match="'bad' is a symbolic link"):
        safe_extract(archive, target, what="ModelDataUrl")
    assert snapshot(target) == {
        "earlier.bin": (stat.S_IFREG, len(b"from the first archive")),
        "shared": (stat.S_IFDIR, (target / "shared").lstat().st_size),
    }


def test_symlink_already_in_the_target_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "model"
    target.mkdir()
    (target / "sub").symlink_to(outside)
    (target / "leaf").symlink_to(outside / "leaf")
    for name in ("sub/file", "leaf"):
        archive = build(tmp_path / "model.tar.gz", [(info(name), b"x")])
        with pytest.raises(UnsafeArchive, match=f"member '{name}'"):
            safe_extract(archive, target, what="ModelDataUrl")
    assert list(outside.iterdir()) == []


def cve_2025_4517_archive(path: Path) -> Path:
    """The published shape: directory symlinks nest long names until the real path exceeds
    PATH_MAX, where os.path.realpath() stops resolving, so tarfile's "data" filter believes a
    link that really climbs out of the target stays inside; a file is then written through it."""
    long_dir = "d" * 247
    steps = "abcdefghijklmnop"
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
    prefix = ""
    for step in steps:
        entries.append((info(os.path.join(prefix, long_dir), tarfile.DIRTYPE), None))
        link = info(os.path.join(prefix, step), tarfile.SYMTYPE, linkname=long_dir)
        entries.append((link, None))
        prefix = os.path.join(prefix, long_dir)
    climb = os.path.join(*steps, "l" * 254)
    entries.append((info(climb, tarfile.SYMTYPE, linkname="../" * len(steps)), None))
    entries.append((info("escape", tarfile.SYMTYPE, linkname=climb + "/.."), None))
    entries.append((info("escape/pwned"), b"written outside the target\n"))
    return build(path, entries, "w")


def test_cve_2025_4517_archive_is_refused(tmp_path: Path) -> None:
    archive = cve_2025_4517_archive(tmp_path / "model.tar")
    box = tmp_path / "box"
    box.mkdir()
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeArchive, match="is a symbolic link"):
        try:
            safe_extract(archive, box / "target", what="ModelDataUrl")
        finally:  # checked even if extraction "succeeds", to fail for the right reason
            assert not (box / "pwned").exists(), "the archive wrote outside the target"
    assert snapshot(tmp_path) == before


def test_cve_2025_4517_archive_is_a_real_exploit_against_tarfile(tmp_path: Path) -> None:
    """Control for the test above: the archive does escape tarfile's own "data" filter on an
    unpatched Python, so refusing it is meaningful. The escape lands in tmp_path, nowhere else."""
    archive = cve_2025_4517_archive(tmp_path / "model.tar")
    box = tmp_path / "box"
    (box / "target").mkdir(parents=True)
    with tarfile.open(archive) as tar:
        try:
            tar.extractall(box / "target", filter="data")
        except tarfile.FilterError:
            pytest.skip("this Python's tarfile is patched against CVE-2025-4517")
    assert (box / "pwned").read_bytes() == b"written outside the target\n"


def test_gzip_bomb_stops_at_the_limit_and_leaves_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        bomb = info("zeros.bin", size=64 * MiB)
        tar.addfile(bomb, io.BufferedReader(Zeros(bomb.size)))
    assert archive.stat().st_size < MiB  # really a bomb: > 64x expansion
    target = tmp_path / "target"

    with pytest.raises(UnsafeArchive) as caught:
        safe_extract(archive, target, what="ModelDataUrl", max_total_bytes=8 * MiB)

    message = str(caught.value)
    assert "more than 8 MiB once decompressed" in message
    assert "'zeros.bin'" in message and "limit" in message
    assert not target.exists()
    assert disk_bytes(tmp_path) < MiB


def test_limit_counts_real_bytes_across_members(tmp_path: Path) -> None:
    entries = [(info(f"part{i:02}"), bytes(MiB)) for i in range(12)]
    archive = build(tmp_path / "model.tar.gz", entries)
    with pytest.raises(UnsafeArchive, match="more than 8 MiB once decompressed"):
        safe_extract(archive, tmp_path / "target", what="m", max_total_bytes=8 * MiB)
    assert not (tmp_path / "target").exists()


def test_limits_come_from_the_environment_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [(info(f"f{i}"), b"x" * 1000) for i in range(5)]
    archive = build(tmp_path / "model.tar.gz", entries)
    monkeypatch.setenv(archives.MAX_BYTES_ENV, "2500")
    with pytest.raises(UnsafeArchive, match=r"reached at member 'f2' \(limit .*=2500\)"):
        safe_extract(archive, tmp_path / "t1", what="m")
    monkeypatch.delenv(archives.MAX_BYTES_ENV)
    monkeypatch.setenv(archives.MAX_MEMBERS_ENV, "4")
    with pytest.raises(UnsafeArchive, match=r"more than 4 members, stopped at 'f4'"):
        safe_extract(archive, tmp_path / "t2", what="m")
    monkeypatch.setenv(archives.MAX_MEMBERS_ENV, "lots")
    with pytest.raises(UnsafeArchive, match="EMULATOR_ARCHIVE_MAX_MEMBERS='lots'"):
        safe_extract(archive, tmp_path / "t3", what="m")
    monkeypatch.delenv(archives.MAX_MEMBERS_ENV)
    safe_extract(archive, tmp_path / "t4", what="m")
    assert len(list((tmp_path / "t4").iterdir())) == 5
    assert not any((tmp_path / name).exists() for name in ("t1", "t2", "t3"))


def test_too_many_members(tmp_path: Path) -> None:
    archive = build(tmp_path / "code.tar.gz", [(info(f"f{i}"), b"") for i in range(11)])
    with pytest.raises(UnsafeArchive, match="more than 10 members"):
        safe_extract(archive, tmp_path / "target", what="code", max_members=10)
    assert not (tmp_path / "target").exists()


def raw_tar(path: Path, header: tarfile.TarInfo, data: bytes) -> Path:
    """A gzipped tar whose only header says what it likes about the data behind it."""
    path.write_bytes(gzip.compress(header.tobuf(tarfile.GNU_FORMAT) + data))
    return path


def test_header_claiming_more_data_than_there_is(tmp_path: Path) -> None:
    archive = raw_tar(tmp_path / "model.tar.gz", info("big", size=MiB), b"y" * 1000)
    with pytest.raises(CorruptArchive, match=r"corrupt or truncated archive.*'big'"):
        safe_extract(archive, tmp_path / "target", what="m")
    assert not (tmp_path / "target").exists()


def test_header_claiming_less_data_than_there_is(tmp_path: Path) -> None:
    """The surplus is parsed as a header; tarfile would stop there silently, as if done."""
    archive = raw_tar(tmp_path / "model.tar.gz", info("small", size=10), b"z" * 5000)
    with pytest.raises(CorruptArchive, match="unreadable header"):
        safe_extract(archive, tmp_path / "target", what="m")
    assert not (tmp_path / "target").exists()


def test_oversized_pax_header_is_refused_before_tarfile_reads_it(tmp_path: Path) -> None:
    member = info("model")
    member.pax_headers = {"comment": "x" * (5 * MiB)}
    archive = build(tmp_path / "model.tar.gz", [(member, b"m")], format=tarfile.PAX_FORMAT)
    with pytest.raises(UnsafeArchive, match="a header is larger than 4 MiB"):
        safe_extract(archive, tmp_path / "target", what="m")
    assert not (tmp_path / "target").exists()


def good_archive(tmp_path: Path) -> Path:
    entries = [(info(f"f{i}"), os.urandom(100_000)) for i in range(4)]
    return build(tmp_path / "model.tar.gz", entries)


@pytest.mark.parametrize("keep", [0.5, -4], ids=["half", "without-gzip-trailer"])
def test_truncated_archive(tmp_path: Path, keep: float) -> None:
    archive = good_archive(tmp_path)
    data = archive.read_bytes()
    archive.write_bytes(data[: int(len(data) * keep)] if keep > 0 else data[: int(keep)])
    with pytest.raises(CorruptArchive, match=r"ModelDataUrl model\.tar\.gz: corrupt or truncated"):
        safe_extract(archive, tmp_path / "target", what="ModelDataUrl")
    assert not (tmp_path / "target").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"just some text, not an archive\n" * 40, "not a tar archive"),
        (b"", "not a tar archive"),
        (gzip.compress(b"not a tar inside\n" * 100), "not a tar archive"),
        (b"\x1f\x8b" + b"garbage" * 100, "corrupt or truncated"),
    ],
    ids=["text", "empty", "gzipped-text", "bad-gzip"],
)
def test_not_a_tar(tmp_path: Path, content: bytes, problem: str) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(content)
    with pytest.raises(CorruptArchive, match=rf"model\.tar\.gz: {problem}"):
        safe_extract(archive, tmp_path / "target", what="")
    assert not (tmp_path / "target").exists()


def test_missing_archive(tmp_path: Path) -> None:
    with pytest.raises(CorruptArchive, match="cannot be read"):
        safe_extract(tmp_path / "nope.tar.gz", tmp_path / "target", what="m")
    assert not (tmp_path / "target").exists()


def test_callers_turn_refusals_into_their_failures(tmp_path: Path) -> None:
    from emulator.sagemaker import hosting, jobs, training_jobs

    entries = [(info("ok"), b"1"), (info("x", tarfile.SYMTYPE, linkname="/etc/passwd"), None)]
    archive = build(tmp_path / "model.tar.gz", entries)
    with pytest.raises(hosting.HostingFailure, match=r"^ModelDataUrl model\.tar\.gz: member 'x'"):
        hosting.extract_archive(archive, tmp_path / "model", "ModelDataUrl")
    with pytest.raises(jobs.JobFailure, match=r"^ClientError: sagemaker_submit_directory model"):
        training_jobs.safe_extract(archive, tmp_path / "code")
    assert snapshot(tmp_path) == {"model.tar.gz": (stat.S_IFREG, archive.stat().st_size)}
