"""SageMaker error responses with AWS's codes, so boto3 raises the same ClientErrors it would."""

from __future__ import annotations


class SageMakerError(Exception):
    """An error answered to the client as ``{"__type": code, "message": ...}``."""

    code = "InternalFailure"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(SageMakerError):
    # AWS answers a missing job, model or endpoint with ValidationException "Could not find ...",
    # not ResourceNotFound, for most SageMaker resources; callers (the Airflow provider among
    # them) match on that text.
    code = "ValidationException"
    status = 400


class ResourceNotFound(SageMakerError):
    code = "ResourceNotFound"
    status = 400


class ResourceInUse(SageMakerError):
    code = "ResourceInUse"
    status = 400


class UnknownOperation(SageMakerError):
    code = "UnknownOperationException"
    status = 400
