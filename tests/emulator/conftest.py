"""The emulator fixtures live in tests/conftest.py; these names are re-exported for imports."""

from tests.conftest import (
    ROLE,
    SKLEARN_IMAGE,
    XGBOOST_IMAGE,
    TrainedModel,
    image_scores,
    tar_bytes,
    wait_for,
)

__all__ = [
    "ROLE",
    "SKLEARN_IMAGE",
    "XGBOOST_IMAGE",
    "TrainedModel",
    "image_scores",
    "tar_bytes",
    "wait_for",
]
