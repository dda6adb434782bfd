"""SageMaker error responses with AWS's codes, so boto3 raises the same ClientErrors it would."""

from __future__ import annotations

from typing import Any


class SageMakerError(Exception):
    """An error answered to the client as ``{"__type": code, "message": ...}``.

    Each kind names its code (and HTTP status: a client's fault is 400) where it is declared:
    ``class ResourceInUse(SageMakerError, code="ResourceInUse")``.
    """

    code = "InternalFailure"
    status = 500

    def __init_subclass__(cls, code: str = "", status: int = 400, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = code or cls.code
        cls.status = status

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(SageMakerError, code="ValidationException"):
    """A request AWS refuses, and also what it answers for a missing job, model or endpoint
    ("Could not find ...", not ResourceNotFound, for most SageMaker resources); callers (the
    Airflow provider among them) match on that text."""


class ResourceNotFound(SageMakerError, code="ResourceNotFound"):
    """A missing lineage entity, pipeline, pipeline execution or tuning job."""


class ResourceInUse(SageMakerError, code="ResourceInUse"):
    """A name already taken, for the resources that do not answer ValidationException."""


class UnknownOperation(SageMakerError, code="UnknownOperationException"):
    """An action the SageMaker service model does not have."""
