"""The rest of an image's Python packages: what a SageMaker container ships beside its frameworks.

A script written for ``sagemaker-scikit-learn:1.2-1`` may ``import requests`` or ``boto3``, and
an inference script may import the toolkits (``sagemaker_containers``, ``sagemaker_inference``),
because the container installs its whole ``requirements.txt`` (and its base image brings a few
more). ``images/<repository>/<tag>.txt`` records that set per image, in requirements format,
with a header naming the files and the ref it was read from; lines the emulator cannot use are
kept as ``# left out (why): <requirement>``.

``environments.build`` installs the frameworks first (from ``SPECS``, wheels only), then these
with the frameworks held at what was installed. Pure functions here; the uv calls are there.
"""

from __future__ import annotations

import re
from pathlib import Path

IMAGES_DIR = Path(__file__).parent / "images"

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# ``==1.0.*`` is a range (conda's ``pyarrow=1.0``), not an exact pin.
_EXACT = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*==\s*([^\s,;*]+)\s*$")
# Toolkit and client packages worth naming in a job's first log line.
KEY_PACKAGES = ("boto3", "requests", "sagemaker-training", "sagemaker-containers")


def normalize(name: str) -> str:
    """PEP 503 names: ``PyYAML`` and ``pyyaml``, ``scikit_learn`` and ``scikit-learn`` match."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return normalize(match.group(1))


def exact_pin(requirement: str) -> str | None:
    """``Flask==1.1.1`` -> ``1.1.1``; None for a range or a bare name."""
    match = _EXACT.match(requirement)
    return match.group(2) if match else None


def packages_file(repository: str, tag: str) -> Path:
    return IMAGES_DIR / repository / f"{tag}.txt"


def read_requirements(path: Path) -> list[str]:
    """The file's requirements in order, comments and blank lines dropped."""
    requirements = []
    for line in path.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            requirements.append(requirement)
    return requirements


def image_requirements(path: Path, frameworks: set[str]) -> list[str]:
    """The file's requirements minus the frameworks (installed first, at their nearest)."""
    skip = {normalize(name) for name in frameworks}
    return [req for req in read_requirements(path) if requirement_name(req) not in skip]


def candidates(requirement: str) -> list[str]:
    """What to try in order when ``requirement`` cannot be installed as written.

    An exact pin that the index lacks (smdebug's git-only tags, a release newer than the
    resolution date) or that does not build for this interpreter: the newest release of its
    major line, then any release. A range or a bare name: as written, then any release.
    """
    name = requirement_name(requirement)
    version = exact_pin(requirement)
    extras = re.search(r"\[[^\]]*\]", requirement.split("==", 1)[0])
    spelled = name + (extras.group(0) if extras else "")
    options = [requirement]
    if version is not None:
        major = re.match(r"\d+", version)
        if major:
            options.append(f"{spelled}>={version},<{int(major.group(0)) + 1}")
            options.append(f"{spelled}>={major.group(0)},<{int(major.group(0)) + 1}")
    options.append(spelled)
    return list(dict.fromkeys(options))


def version_notes(requirements: list[str], installed: dict[str, str]) -> list[str]:
    """``smdebug 1.0.34 for 1.0.29`` for each exact pin installed at another release."""
    by_name = {normalize(name): version for name, version in installed.items()}
    notes = []
    for requirement in requirements:
        wanted = exact_pin(requirement)
        got = by_name.get(requirement_name(requirement))
        if wanted is not None and got is not None and got != wanted:
            notes.append(f"{requirement_name(requirement)} {got} for {wanted}")
    return notes


# sagemaker-containers 2.8.6.post2 uses ``collections.Mapping``, gone in Python 3.10; the
# containers on 3.10+ rewrite it in place after installing (xgboost v3.0-5's and scikit-learn
# v1.4-2-py312's final Dockerfile.cpu), and so does the emulator.
MAPPING_PATCH = (
    "sagemaker_containers/_mapping.py",
    "collections.Mapping",
    "collections.abc.Mapping",
)


def apply_container_patches(site_packages: Path, python_minor: tuple[int, int]) -> list[str]:
    """The in-place edits the images make to installed packages; returns the files edited."""
    edited = []
    if python_minor >= (3, 10):
        relative, old, new = MAPPING_PATCH
        path = site_packages / relative
        if path.is_file():
            text = path.read_text()
            patched = re.sub(rf"{re.escape(old)}\b", new, text)
            if patched != text:
                path.write_text(patched)
                edited.append(relative)
    return edited
