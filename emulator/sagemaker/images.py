"""Which local runtime stands in for which SageMaker image.

| image (repository name)                   | how the emulator runs it                          |
| ----------------------------------------- | ------------------------------------------------- |
| sagemaker-scikit-learn (framework)        | entrypoint with the image environment's Python    |
| sagemaker-xgboost, processing / script    | entrypoint / training script, likewise            |
| sagemaker-xgboost, training, no program   | built-in XGBoost algorithm (emulator/algorithms)  |
| sagemaker-xgboost, hosting / transform    | the XGBoost model server contract                 |
| knn (built-in k-NN): training, hosting    | emulator/algorithms/knn_builtin.py                |
| anything else                             | refused: the job fails and names these images     |

The image environment: its tag's Python and pinned libraries, built on first use (see
emulator/environments.py); an unknown tag fails the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SUPPORTED = ("sagemaker-scikit-learn", "sagemaker-xgboost")
# Built-in algorithms (no user code) the emulator plays from their documented contracts.
BUILTIN_ALGORITHMS = ("knn",)


@dataclass(frozen=True)
class Runtime:
    description: str
    error: str | None = None


def repository(image: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:1.7-1`` -> sagemaker-xgboost."""
    path = image.split("/", 1)[-1]
    return path.split("@", 1)[0].split(":", 1)[0]


def processing_runtime(image: str) -> Runtime:
    name = repository(image)
    if name in SUPPORTED:
        return Runtime(f"image {name}: entrypoint run with the image environment's Python")
    return Runtime(
        f"image {name}: not emulated",
        error=f"ClientError: image {image!r} is not emulated; supported images: "
        + ", ".join(SUPPORTED),
    )


# The images' own packages that are on no package index (sagemaker_xgboost_container), as the
# emulator's stand-ins: on PYTHONPATH of every job and model server of the image.
CONTAINER_PACKAGES = Path(__file__).resolve().parents[1] / "container_packages"


def container_pythonpath(repository: str) -> dict[str, str]:
    """PYTHONPATH holding the image's own packages, for the images that ship some."""
    if repository == "sagemaker-xgboost":
        return {"PYTHONPATH": str(CONTAINER_PACKAGES)}
    return {}
