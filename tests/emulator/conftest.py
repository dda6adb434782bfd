"""The emulator fixtures live in tests/conftest.py; these names are re-exported for imports."""

from tests.conftest import (
    ONE_INSTANCE,
    ROLE,
    SKLEARN_IMAGE,
    XGBOOST_IMAGE,
    TrainedModel,
    image_scores,
    processing_request,
    tar_bytes,
    wait_for,
)

__all__ = [
    "ONE_INSTANCE",
    "ROLE",
    "SKLEARN_IMAGE",
    "XGBOOST_IMAGE",
    "TrainedModel",
    "image_scores",
    "processing_request",
    "tar_bytes",
    "wait_for",
]
