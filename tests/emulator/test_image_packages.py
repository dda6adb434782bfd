"""The rest of an image's package set: the files per image, candidates, notes and patches."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator import environments, image_packages

FRAMEWORKS = {"numpy", "pandas", "scikit-learn", "scipy", "xgboost"}


@pytest.mark.parametrize("key", sorted(environments.SPECS), ids="{0[0]}:{0[1]}".format)
def test_every_image_has_its_package_set_naming_where_it_was_read(key) -> None:
    spec = environments.SPECS[key]
    path = spec.packages_file
    text = path.read_text()
    header = text.splitlines()[:2]
    assert header[0].startswith(f"# {spec.image}: ") and "github.com/aws/" in header[0]
    assert "requirements.txt" in header[1]
    names = {image_packages.requirement_name(req) for req in image_packages.read_requirements(path)}
    # What scripts written for the image import beside the frameworks.
    assert {"boto3", "botocore", "requests", "psutil", "sagemaker-inference"} <= names
    toolkit = "sagemaker-training" if spec.repository == "sagemaker-scikit-learn" else "pyarrow"
    assert toolkit in names and "sagemaker-containers" in names
    rest = image_packages.image_requirements(path, {name for name, _ in spec.packages})
    assert not {image_packages.requirement_name(req) for req in rest} & FRAMEWORKS
    # GPU-only packages are recorded as left out, never installed.
    assert not names & {"dask-cuda", "cuda-python", "pynvml"}


def test_gpu_only_lines_stay_in_the_file_as_left_out() -> None:
    text = environments.SPECS[("sagemaker-xgboost", "1.7-1")].packages_file.read_text()
    assert "# left out (CUDA only; jobs here run on the CPU): dask-cuda==22.12.0" in text


@pytest.mark.parametrize(
    ("requirement", "name", "pin"),
    [
        ("Flask==1.1.1", "flask", "1.1.1"),
        ("PyYAML==5.4.1", "pyyaml", "5.4.1"),
        ("dask[dataframe]==2024.11.2", "dask", "2024.11.2"),
        ("botocore>=1.31.57,<1.32.0", "botocore", None),
        ("setuptools<81", "setuptools", None),
        ("certifi", "certifi", None),
        ("pyarrow==1.0.*", "pyarrow", None),
        ("sagemaker_containers==2.8.6.post2", "sagemaker-containers", "2.8.6.post2"),
    ],
)
def test_names_are_normalized_and_only_exact_pins_count(requirement, name, pin) -> None:
    assert image_packages.requirement_name(requirement) == name
    assert image_packages.exact_pin(requirement) == pin


def test_candidates_widen_an_exact_pin_to_its_major_line_then_any_release() -> None:
    assert image_packages.candidates("smdebug==1.0.29") == [
        "smdebug==1.0.29",
        "smdebug>=1.0.29,<2",
        "smdebug>=1,<2",
        "smdebug",
    ]
    assert image_packages.candidates("dask[dataframe]==2024.11.2")[-1] == "dask[dataframe]"
    assert image_packages.candidates("setuptools<81") == ["setuptools<81", "setuptools"]


def test_version_notes_name_each_pin_installed_at_another_release() -> None:
    notes = image_packages.version_notes(
        ["smdebug==1.0.29", "Flask==1.1.1", "certifi"],
        {"smdebug": "1.0.34", "Flask": "1.1.1", "certifi": "2025.1.1"},
    )
    assert notes == ["smdebug 1.0.34 for 1.0.29"]


def test_the_containers_mapping_patch_applies_from_python_3_10_only(tmp_path: Path) -> None:
    module = tmp_path / "sagemaker_containers" / "_mapping.py"
    module.parent.mkdir()
    module.write_text("import collections\nclass M(collections.Mapping):\n    pass\n")
    assert image_packages.apply_container_patches(tmp_path, (3, 9)) == []
    assert "collections.Mapping)" in module.read_text()
    assert image_packages.apply_container_patches(tmp_path, (3, 10)) == [
        "sagemaker_containers/_mapping.py"
    ]
    assert "collections.abc.Mapping)" in module.read_text()
    assert image_packages.apply_container_patches(tmp_path, (3, 12)) == []  # already done


def test_a_build_installs_the_set_and_says_what_it_could_not_have(tmp_path, monkeypatch) -> None:
    images = tmp_path / "images"
    (images / "sagemaker-scikit-learn").mkdir(parents=True)
    (images / "sagemaker-scikit-learn" / "0.0-sets.txt").write_text(
        "# sagemaker-scikit-learn:0.0-sets: a test image\n"
        "six==1.16.0\n"
        "# a release line that never existed: the newest release instead, with a note\n"
        "retrying==999.0.1\n"
        "no-such-package-for-the-emulator-tests==1.0\n"
    )
    monkeypatch.setattr(image_packages, "IMAGES_DIR", images)
    spec = environments.Spec(
        "sagemaker-scikit-learn", "0.0-sets", "3.11", (("packaging", "24.0"),), "test"
    )
    environment = environments.ensure(spec, cache=tmp_path / "cache")
    marker = (environment.path / environments.MARKER).read_text()
    assert '"six": "1.16.0"' in marker and '"packaging": "24.0"' in marker
    assert '"retrying": "' in marker
    assert any(
        note.startswith("retrying ") and note.endswith(" for 999.0.1") for note in environment.notes
    )
    assert any(
        note.startswith("no-such-package-for-the-emulator-tests==1.0 left out")
        for note in environment.notes
    )
    assert "nearest:" in environment.description()
