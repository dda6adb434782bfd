"""Per-image Python environments: jobs run with their container's own libraries.

A SageMaker framework image ships one Python and pinned pandas/numpy/scikit-learn/xgboost. A
script written for ``sagemaker-scikit-learn:0.23-1`` (pandas 1.1.3) may call APIs that the
emulator's own pandas 3 refuses (``read_csv(error_bad_lines=False)``), and the reverse, so every
processing job, training job (script mode and the built-in XGBoost algorithm) and model server
runs with the interpreter of an environment built for its image's repository and tag.

``SPECS`` below is the table image -> framework versions, read from the containers' public
sources at the version branches/tags named in each row (requirements.txt for the libraries,
``docker/<tag>/base/Dockerfile.cpu`` for Python and XGBoost) and the tag list of the SageMaker
Python SDK's ``image_uri_config/sklearn.json`` / ``xgboost.json``.

Building (``environment_for``): on first use, an environment per (repository, tag) is created
with uv (``uv venv`` + ``uv pip install --only-binary :all: --compile-bytecode``) under
``$EMULATOR_ENV_CACHE`` (default ``~/.cache/adult-income-emulator/envs``) as
``<repo>-<tag>-<hash>``; the hash covers the spec, the image's package set (image_packages) and
the interpreter used, so a change of any builds a new one. The frameworks go in first, wheels
only; then the rest of the image's set with the frameworks held (``install_image_packages``).
Later jobs reuse it. Concurrent first uses build once: an ``fcntl`` lock per environment around
the build, which goes into a temporary directory renamed into place, with
``emulator-env.json`` (what was installed) written last.

Interpreter: the container's Python minor version if this machine has it (``~/.pyenv/versions``,
then ``python3.X`` on PATH), else this machine's Python 3.11 (``FALLBACK_PYTHON``). Each package
is installed at the container's exact version when a wheel exists for that interpreter; else at
the nearest installable release (``candidates``): the newest of the same major line
(pandas 1.1.3 -> 1.5.3 on Python 3.11), failing that the oldest later release (scikit-learn
0.23.2 -> 1.x). uv resolves with ``--exclude-newer`` fixed (``EXCLUDE_NEWER``) so "newest"
means the same thing on every machine. What was installed, and why it differs, is the first
line of every job log, e.g.::

    [emulator] environment sagemaker-scikit-learn:1.2-1: Python 3.9.18, pandas 1.1.3, ... (exact)

An unknown tag fails the job naming the supported tags; an environment that cannot be built
fails the job with the last lines of uv's stderr. ``EMULATOR_JOB_ENVIRONMENT=emulator`` runs
jobs with the emulator's own interpreter and libraries instead (explicit opt-in, logged loudly).

The emulator's scripts that run inside these environments (algorithms/xgboost_builtin.py,
algorithms/model_server.py) import only the standard library, numpy and xgboost, and must keep
running on Python 3.7 and xgboost 1.0.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from emulator import image_packages

CACHE_VARIABLE = "EMULATOR_ENV_CACHE"
MODE_VARIABLE = "EMULATOR_JOB_ENVIRONMENT"
DEFAULT_CACHE = Path("~/.cache/adult-income-emulator/envs")
MARKER = "emulator-env.json"
FALLBACK_PYTHON = "3.11"
# "Newest release of a major line" must not drift as PyPI grows: resolve as of this date.
EXCLUDE_NEWER = "2026-01-01T00:00:00Z"
# Part of every environment's hash: bump it when build() changes what an environment holds.
# 3: packages are installed with their bytecode compiled. 4: the image's whole package set.
BUILD_RECIPE = 4
UV_TIMEOUT_S = 900
STDERR_LINES = 8

SKLEARN_REPO = "https://github.com/aws/sagemaker-scikit-learn-container"
XGBOOST_REPO = "https://github.com/aws/sagemaker-xgboost-container"


class EnvironmentFailure(Exception):
    """The job cannot get its image's environment; the message is its FailureReason."""


@dataclass(frozen=True)
class Spec:
    """What one image ships: its Python (major.minor) and pinned framework packages."""

    repository: str
    tag: str
    python: str
    packages: tuple[tuple[str, str], ...]
    source: str

    @property
    def image(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def packages_file(self) -> Path:
        """The rest of the image's package set (image_packages); may not exist for a test spec."""
        return image_packages.packages_file(self.repository, self.tag)


def _sklearn(tag: str, python: str, source: str, **pins: str) -> Spec:
    packages = tuple((name.replace("_", "-"), version) for name, version in pins.items())
    return Spec("sagemaker-scikit-learn", tag, python, packages, f"{SKLEARN_REPO} {source}")


def _xgboost(tag: str, python: str, source: str, **pins: str) -> Spec:
    packages = tuple((name.replace("_", "-"), version) for name, version in pins.items())
    return Spec("sagemaker-xgboost", tag, python, packages, f"{XGBOOST_REPO} {source}")


# Python: ARG PYTHON_VERSION of docker/<tag>/base/Dockerfile.cpu (conda pins it); libraries:
# requirements.txt at the same ref; XGBoost: ARG XGBOOST_VERSION of the base Dockerfile.
SPECS: dict[tuple[str, str], Spec] = {
    (spec.repository, spec.tag): spec
    for spec in (
        _sklearn(
            "0.23-1",
            "3.7",
            "branch 0.23-1",
            pandas="1.1.3",
            numpy="1.19.2",
            scikit_learn="0.23.2",
            scipy="1.5.3",
        ),
        _sklearn(
            "1.0-1",
            "3.8",
            "branch 1.0-1",
            pandas="1.1.3",
            numpy="1.24.1",
            scikit_learn="1.0.2",
            scipy="1.8.0",
        ),
        _sklearn(
            "1.2-1",
            "3.9",
            "branch 1.2-1",
            pandas="1.1.3",
            numpy="1.24.1",
            scikit_learn="1.2.1",
            scipy="1.8.0",
        ),
        # requirements.txt says scipy>=1.9.0 (unpinned): pinned here to the release uv resolves
        # that to with these pins on Python 3.12 as of EXCLUDE_NEWER, so the spec is explicit.
        _sklearn(
            "1.4-2",
            "3.12",
            "tag v1.4-2-py312",
            pandas="2.3.2",
            numpy="2.1.0",
            scikit_learn="1.4.2",
            scipy="1.16.3",
        ),
        # numpy is not pinned in 1.0-1's requirements.txt; its final Dockerfile removes a stale
        # numpy-1.19.5.dist-info, which is the release its conda base carries.
        _xgboost(
            "1.0-1",
            "3.7",
            "branch 1.0-1",
            xgboost="1.0.0",
            pandas="1.1.3",
            numpy="1.19.5",
            scikit_learn="0.24.1",
            scipy="1.2.2",
        ),
        # 1.2-2 is 1.2-1 rebuilt: the same Python and pins.
        *(
            _xgboost(
                tag,
                "3.7",
                f"branch {tag}",
                xgboost="1.2.0",
                pandas="1.1.3",
                numpy="1.21.6",
                scikit_learn="0.23.2",
                scipy="1.5.3",
            )
            for tag in ("1.2-1", "1.2-2")
        ),
        _xgboost(
            "1.3-1",
            "3.7",
            "branch 1.3-1",
            xgboost="1.3.3",
            pandas="1.2.4",
            numpy="1.21.6",
            scikit_learn="0.24.1",
            scipy="1.6.2",
        ),
        _xgboost(
            "1.5-1",
            "3.8",
            "branch 1.5-1",
            xgboost="1.5.2",
            pandas="1.5.3",
            numpy="1.24.4",
            scikit_learn="0.24.1",
            scipy="1.8.0",
        ),
        # The image first published as 1.7-1 (branch 1.7-1, Python 3.9); the later rebuild
        # (tag v1.7-1-1: Python 3.10, pandas 1.4.4, scikit-learn 1.0.2) kept the 1.7-1 URI.
        _xgboost(
            "1.7-1",
            "3.9",
            "branch 1.7-1",
            xgboost="1.7.4",
            pandas="1.2.4",
            numpy="1.24.1",
            scikit_learn="0.24.1",
            scipy="1.8.0",
        ),
        _xgboost(
            "3.0-5",
            "3.10",
            "tag v3.0-5",
            xgboost="3.0.5",
            pandas="2.2.3",
            numpy="2.1.0",
            scikit_learn="1.5.2",
            scipy="1.15.0",
        ),
    )
}

# The SDK's image URIs carry suffixes (1.2-1-cpu-py3) the containers' versions do not.
_TAG_SUFFIX = re.compile(r"(-(cpu|gpu))?(-py3\d*)?$")


def supported_tags() -> dict[str, list[str]]:
    """Repository -> its known tags, for error messages and the README."""
    table: dict[str, list[str]] = {}
    for repository, tag in SPECS:
        table.setdefault(repository, []).append(tag)
    return table


def parse_image(image: str) -> tuple[str, str]:
    """``<acct>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:1.7-1`` -> (repository, tag)."""
    path = image.split("/", 1)[-1].split("@", 1)[0]
    repository, _, tag = path.partition(":")
    return repository, _TAG_SUFFIX.sub("", tag)


def spec_for(image: str) -> Spec:
    """The image's spec, or EnvironmentFailure naming the supported tags."""
    repository, tag = parse_image(image)
    spec = SPECS.get((repository, tag))
    if spec is None:
        known = "; ".join(f"{repo}: {', '.join(tags)}" for repo, tags in supported_tags().items())
        raise EnvironmentFailure(
            f"ClientError: image {image!r}: tag {tag or '(none)'!r} of {repository} is not "
            f"emulated; supported tags: {known}"
        )
    return spec


# --- "nearest" versions: pure functions ------------------------------------------------------


# A "release line" is what a package keeps compatible: pandas/numpy/scipy break APIs across
# major versions; scikit-learn and XGBoost change behaviour and pickle formats across minors.
LINE_DEPTH = {"scikit-learn": 2, "xgboost": 2}


def next_line(name: str, version: str) -> str:
    """The first version past ``version``'s release line: pandas 1.1.3 -> 2, scikit-learn
    1.0.2 -> 1.1."""
    depth = LINE_DEPTH.get(name, 1)
    parts = [int(part) for part in re.findall(r"\d+", version)[:depth]]
    parts += [0] * (depth - len(parts))
    parts[-1] += 1
    return ".".join(str(part) for part in parts)


def same_line(name: str, version: str) -> str:
    """The requirement for the newest release of ``version``'s line, at least ``version``."""
    return f"{name}>={version},<{next_line(name, version)}"


def candidates(name: str, version: str) -> list[tuple[str, str, str]]:
    """(requirement, uv resolution strategy, label) to try in order for one pinned package.

    The exact pin; else the newest release of the same line (APIs change least within one,
    and a newer release is what has wheels for a newer Python); else the first later release
    with a wheel (scikit-learn 0.23 never got one for Python 3.11), whose line ``build`` then
    widens to that line's newest release.
    """
    return [
        (f"{name}=={version}", "highest", "exact"),
        (same_line(name, version), "highest", "same line"),
        (f"{name}>{version}", "lowest", "later line"),
    ]


def nearest_note(name: str, wanted: str, got: str, python: str, no_wheel: bool) -> str | None:
    """``pandas 1.5.3 for 1.1.3 — no wheel for Python 3.11``; None when exact."""
    if wanted == got:
        return None
    why = f"no wheel for Python {python}" if no_wheel else "to fit the others"
    return f"{name} {got} for {wanted} — {why}"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_VARIABLE) or DEFAULT_CACHE).expanduser()


def spec_hash(spec: Spec, python_version: str) -> str:
    path = spec.packages_file
    image_set = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    payload = json.dumps(
        [
            BUILD_RECIPE,
            spec.repository,
            spec.tag,
            spec.python,
            spec.packages,
            python_version,
            EXCLUDE_NEWER,
            image_set,
        ]
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


# --- interpreters -----------------------------------------------------------------------------


def _own_version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def _version_of(interpreter: str) -> str | None:
    try:
        result = subprocess.run(
            [interpreter, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _patch_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name))


@functools.cache  # probing runs interpreters: once per emulator process
def find_interpreter(minor: str) -> tuple[str, str] | None:
    """(path, full version) of a Python ``minor`` (e.g. "3.9") on this machine, or None.

    pyenv's versions first: PATH's ``python3.X`` may be a pyenv shim that refuses to run when
    that version is not selected, so every candidate is run once to check it.
    """
    pyenv = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "versions"
    found = sorted(pyenv.glob(f"{minor}.*/bin/python{minor}"), key=_patch_key, reverse=True)
    on_path = shutil.which(f"python{minor}")
    options = [str(path) for path in found] + ([on_path] if on_path else [])
    if sys.version_info[:2] == tuple(int(p) for p in minor.split(".")):
        options.append(sys.executable)
    for option in options:
        version = _version_of(option)
        if version is not None and version.startswith(f"{minor}."):
            return option, version
    return None


def choose_interpreter(spec: Spec) -> tuple[str, str, bool]:
    """(path, version, exact?) — the container's Python, else this machine's fallback."""
    found = find_interpreter(spec.python)
    if found is not None:
        return found[0], found[1], True
    fallback = find_interpreter(FALLBACK_PYTHON)
    if fallback is None:
        return sys.executable, _own_version(), False
    return fallback[0], fallback[1], False


# --- uv -----------------------------------------------------------------------------------------


def uv_binary() -> str:
    """uv is in requirements.txt, so it sits beside the emulator's interpreter."""
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if found is None:
        raise EnvironmentFailure(
            "InternalServerError: uv is needed to build job environments and was not found"
        )
    return found


def _uv(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_EXCLUDE_NEWER": EXCLUDE_NEWER, "UV_NO_PROGRESS": "1"}
    # The emulator's own venv must not leak into the environment being built.
    env.pop("VIRTUAL_ENV", None)
    env.pop("UV_PYTHON", None)
    try:
        return subprocess.run(
            [uv_binary(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=UV_TIMEOUT_S,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        what = " ".join(args[:2])
        raise EnvironmentFailure(f"uv {what} timed out after {UV_TIMEOUT_S} s") from exc


def _stderr_tail(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return "\n".join(lines[-STDERR_LINES:])


def _compile_one(
    requirement: str, resolution: str, python: str, *, wheels_only: bool = True
) -> str | None:
    """The version uv picks for ``requirement`` alone (wheels only, unless not), or None."""
    args = ["pip", "compile", "-", "--python", python, "--no-deps", "--no-header", "--quiet"]
    args += ["--no-annotate", "--resolution", resolution]
    if wheels_only:
        args += ["--only-binary", ":all:"]
    result = _uv(args, stdin=requirement + "\n")
    if result.returncode != 0:
        return None
    for line in result.stdout.splitlines():
        if "==" in line:
            return line.split("==", 1)[1].split(";", 1)[0].strip()
    return None


def nearest_requirements(spec: Spec, python: str) -> tuple[list[str], set[str]]:
    """Requirements to install together, and the packages whose exact pin has no wheel.

    Each package gets its first candidate that has a wheel for ``python`` on its own; ranges
    stay ranges so that uv, resolving them together, picks releases that fit one another (the
    newest scipy 1.x needs a newer numpy than the pinned one, for instance). A later major line
    is the line of the oldest later release with a wheel: the nearest one.
    """
    requirements: list[str] = []
    without_wheel: set[str] = set()
    for name, version in spec.packages:
        for requirement, resolution, label in candidates(name, version):
            got = _compile_one(requirement, resolution, python)
            if got is None:
                continue
            if label != "exact":
                without_wheel.add(name)
            # A later line: its newest release, as for the same line.
            requirements.append(same_line(name, got) if label == "later line" else requirement)
            break
        else:
            raise EnvironmentFailure(
                f"no release of {name} near {version} has a wheel for {python}"
            )
    return requirements, without_wheel


def _on_index(requirement: str, python: str) -> bool:
    """Whether the index has a release for ``requirement`` alone (sdists count)."""
    return _compile_one(requirement, "highest", python, wheels_only=False) is not None


def install_image_packages(
    spec: Spec, venv_python: str, frameworks: dict[str, str]
) -> tuple[list[str], list[str], list[str]]:
    """Install the rest of the image's packages; (the image's requirements, what was asked of
    uv instead where they could not be had, notes on what was left out).

    Together first, the frameworks held at what is installed. If uv finds no solution, each
    requirement becomes its first candidate the index has (image_packages.candidates), and
    the set is tried again; failing that, one at a time, and what installs in no form is left
    out with uv's reason in a note: a job needing it fails as it would on a machine without it.
    """
    path = spec.packages_file
    if not path.is_file():
        return [], [], []
    wanted = image_packages.image_requirements(path, {name for name, _ in spec.packages})
    with tempfile.TemporaryDirectory(prefix="emulator-env-") as scratch:
        constraints = Path(scratch) / "frameworks.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in frameworks.items()))
        # Sources are allowed here (unlike the frameworks): psutil, retrying and the toolkits
        # are published as sdists only, and the images pip-install them from source too.
        install = ["pip", "install", "--python", venv_python, "--quiet", "--compile-bytecode"]
        install += ["-c", str(constraints)]
        if _uv([*install, *wanted]).returncode == 0:
            return wanted, wanted, []
        notes: list[str] = []
        chosen: list[str] = []
        for requirement in wanted:
            option = next(
                (o for o in image_packages.candidates(requirement) if _on_index(o, venv_python)),
                None,
            )
            if option is None:
                notes.append(f"{requirement} left out — not on the package index")
            else:
                chosen.append(option)
        if _uv([*install, *chosen]).returncode == 0:
            return wanted, chosen, notes
        installed: list[str] = []
        for requirement in chosen:
            result = None
            for option in image_packages.candidates(requirement):
                result = _uv([*install, option])
                if result.returncode == 0:
                    installed.append(option)
                    break
            else:
                reason = _stderr_tail(result).splitlines()[-1:] if result else []
                notes.append(f"{requirement} left out — {' '.join(reason) or 'uv failed'}")
        return wanted, installed, notes


# --- environments -------------------------------------------------------------------------------


@dataclass
class Environment:
    """A built environment (or the emulator's own): the interpreter jobs of an image run with."""

    image: str
    python: str
    python_version: str
    packages: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # The toolkits and clients of the rest of the image's set (image_packages.KEY_PACKAGES).
    key_packages: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    own: bool = False
    # A built-in algorithm the emulator plays itself (STAND_INS): what it plays.
    stand_in: str | None = None

    def description(self) -> str:
        if self.stand_in:
            return (
                f"[emulator] environment {self.image}: the emulator's own {self.stand_in} "
                f"(the algorithm's container is not public), with Python {self.python_version}"
            )
        if self.own:
            return (
                f"[emulator] environment {self.image}: WARNING {MODE_VARIABLE}=emulator: the "
                f"emulator's OWN Python {self.python_version} and libraries, not the image's "
                f"({self.python})"
            )
        named = {**self.packages, **self.key_packages}
        versions = ", ".join(f"{name} {version}" for name, version in named.items())
        how = f"nearest: {'; '.join(self.notes)}" if self.notes else "exact"
        python = f"Python {self.python_version}"
        return f"[emulator] environment {self.image}: {python}, {versions} ({how})"


_MEMO: dict[Path, Environment] = {}
_MEMO_LOCK = threading.Lock()


def _from_marker(spec: Spec, directory: Path) -> Environment | None:
    try:
        data = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return Environment(
        image=spec.image,
        python=str(directory / "bin" / "python"),
        python_version=data["python_version"],
        packages=data["packages"],
        notes=data["notes"],
        key_packages=data.get("key_packages", {}),
        path=directory,
    )


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        # flock locks belong to the open file, so two threads of this process exclude each
        # other as two processes do.
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _frozen(venv_python: str) -> dict[str, str]:
    """Installed distributions, by normalized name, at their versions."""
    frozen = _uv(["pip", "freeze", "--python", venv_python])
    pairs = (line.split("==", 1) for line in frozen.stdout.splitlines() if "==" in line)
    return {image_packages.normalize(name): version.strip() for name, version in pairs}


def build(spec: Spec, target: Path, python: str, python_version: str, exact: bool) -> None:
    """Create the environment at ``target`` (a fresh directory), marker written last."""
    started = time.monotonic()
    notes: list[str] = []
    if not exact:
        notes.append(f"Python {python_version} for {spec.python} — not on this machine")
    # --seed: pip and setuptools, as the images have; xgboost 1.5 imports pkg_resources.
    created = _uv(["venv", "--relocatable", "--seed", "--quiet", "--python", python, str(target)])
    if created.returncode != 0:
        raise EnvironmentFailure(f"uv venv failed:\n{_stderr_tail(created)}")
    venv_python = str(target / "bin" / "python")
    # --compile-bytecode: as pip compiles in the images; jobs run with PYTHONDONTWRITEBYTECODE
    # (jobs.py), so without it every job compiled pandas, scikit-learn and xgboost from source,
    # more than a second of CPU each.
    install = ["pip", "install", "--python", venv_python, "--only-binary", ":all:", "--quiet"]
    install.append("--compile-bytecode")
    requirements = [f"{name}=={version}" for name, version in spec.packages]
    without_wheel: set[str] = set()
    result = _uv([*install, *requirements])
    if result.returncode != 0:
        # Some exact pin has no wheel for this interpreter: the nearest releases instead.
        try:
            requirements, without_wheel = nearest_requirements(spec, venv_python)
        except EnvironmentFailure as exc:  # uv's own reason for the exact pins says most
            raise EnvironmentFailure(
                f"uv pip install {' '.join(requirements)} failed:\n{_stderr_tail(result)}\n"
                f"and no nearest releases either: {exc}"
            ) from exc
        result = _uv([*install, *requirements])
        if result.returncode != 0:
            raise EnvironmentFailure(
                f"uv pip install {' '.join(requirements)} failed:\n{_stderr_tail(result)}"
            )
    short = ".".join(python_version.split(".")[:2])
    frameworks = dict(spec.packages)
    packages = {n: v for n, v in _frozen(venv_python).items() if n in frameworks}
    image_set, asked, image_notes = install_image_packages(spec, venv_python, packages)
    installed = _frozen(venv_python)
    packages = {name: installed.get(name, "?") for name, _ in spec.packages}
    for name, version in spec.packages:
        note = nearest_note(name, version, packages[name], short, name in without_wheel)
        if note:
            notes.append(note)
    notes += image_packages.version_notes(image_set, installed) + image_notes
    site_packages = next(target.glob("lib/python3*/site-packages"))
    minor = tuple(int(part) for part in short.split("."))
    patched = image_packages.apply_container_patches(site_packages, (minor[0], minor[1]))
    for relative in patched:  # the bytecode compiled at install is of the unpatched source
        subprocess.run(
            [venv_python, "-m", "py_compile", str(site_packages / relative)], check=False
        )
    key = {name: installed[name] for name in image_packages.KEY_PACKAGES if name in installed}
    marker = {
        "image": spec.image,
        "source": spec.source,
        "python": python,
        "python_version": python_version,
        "packages": packages,
        "requirements": requirements,
        "image_packages_file": spec.packages_file.name if image_set else None,
        "image_requirements": image_set,
        "image_requirements_installed": asked,
        "key_packages": key,
        "patched": patched,
        "notes": notes,
        "installed": installed,
        "build_seconds": round(time.monotonic() - started, 1),
    }
    (target / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


Builder = Callable[[Spec, Path, str, str, bool], None]


def ensure(spec: Spec, cache: Path | None = None, builder: Builder | None = None) -> Environment:
    """The spec's environment, built under the cache on first use, reused afterwards."""
    python, python_version, exact = choose_interpreter(spec)
    root = cache or cache_root()
    minor = ".".join(python_version.split(".")[:2])
    directory = root / f"{spec.repository}-{spec.tag}-{spec_hash(spec, minor)}"
    with _MEMO_LOCK:
        known = _MEMO.get(directory)
    if known is not None and (directory / MARKER).exists():
        return known
    environment = _from_marker(spec, directory)
    if environment is None:
        with _locked(root / f".{directory.name}.lock"):
            environment = _from_marker(spec, directory)  # another process may have built it
            if environment is None:
                if directory.exists():  # an interrupted rename left it without its marker
                    shutil.rmtree(directory, ignore_errors=True)
                temporary = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=root))
                try:
                    (builder or build)(spec, temporary / "env", python, python_version, exact)
                    os.rename(temporary / "env", directory)
                finally:
                    shutil.rmtree(temporary, ignore_errors=True)
                environment = _from_marker(spec, directory)
                if environment is None:
                    raise EnvironmentFailure(f"environment {directory} has no {MARKER}")
    with _MEMO_LOCK:
        _MEMO[directory] = environment
    return environment


def emulator_own(image: str) -> Environment:
    return Environment(image=image, python=sys.executable, python_version=_own_version(), own=True)


# Built-in algorithms whose containers are not public: the emulator's own implementation of the
# documented contract runs with its own Python (no user code runs in these images).
# repository -> (what it plays, the tags AWS publishes).
STAND_INS: dict[str, tuple[str, tuple[str, ...]]] = {
    "knn": ("k-NN algorithm (emulator/algorithms/knn_builtin.py)", ("1", "latest")),
}


def stand_in_for(image: str) -> Environment | None:
    """The emulator's own environment for a built-in algorithm's image, or None."""
    repository, tag = parse_image(image)
    if repository not in STAND_INS:
        return None
    what, tags = STAND_INS[repository]
    if tag not in tags:
        raise EnvironmentFailure(
            f"ClientError: image {image!r}: tag {tag or '(none)'!r} of {repository} is not "
            f"emulated; supported tags: {', '.join(tags)}"
        )
    return Environment(
        image=f"{repository}:{tag}",
        python=sys.executable,
        python_version=_own_version(),
        own=True,
        stand_in=what,
    )


def environment_for(image: str) -> Environment:
    """The environment jobs of ``image`` run with (EnvironmentFailure says why none)."""
    stand_in = stand_in_for(image)
    if stand_in is not None:
        return stand_in
    if os.environ.get(MODE_VARIABLE, "").strip().lower() == "emulator":
        repository, tag = parse_image(image)
        return emulator_own(f"{repository}:{tag}")
    spec = spec_for(image)
    try:
        return ensure(spec)
    except EnvironmentFailure as exc:
        message = str(exc)
        if message.startswith(("ClientError", "InternalServerError")):
            raise
        raise EnvironmentFailure(
            f"InternalServerError: the environment of image {spec.image} could not be built: "
            + message
        ) from exc
    except OSError as exc:
        raise EnvironmentFailure(
            f"InternalServerError: the environment of image {spec.image} could not be built: {exc}"
        ) from exc
