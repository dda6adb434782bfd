"""Imported by the client scripts beside it, in whichever SDK's environment they run.

Standard library only: the scripts run in the SDK 2 environment, which holds nothing of the
project. The test copies this file beside the script into the client's working directory.
"""

from __future__ import annotations

import json
import os
from typing import Any

RESULT_PREFIX = "CLIENT-RESULT "  # tests/support/sdk2_environment.py reads this line
ROLE_NAME = "ClientTestRole"
ROLE = f"arn:aws:iam::123456789012:role/{ROLE_NAME}"
# SageMaker's execution-role trust policy, which SDK 3 reads (iam:GetRole) before a job starts.
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def endpoint_url() -> str:
    """The emulator, as the test handed it over (boto3 itself reads the same variable)."""
    return os.environ["AWS_ENDPOINT_URL"]


def report(value: Any) -> None:
    """What the script found, for the test to assert on: one JSON line, printed last."""
    # On a line of its own even after an SDK's progress panel that ends without a newline.
    print("\n" + RESULT_PREFIX + json.dumps(value, default=str), flush=True)


def ensure_execution_role(iam: Any) -> str:
    """The execution role, created with SageMaker's trust policy if the account lacks it."""
    try:
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        pass
    try:
        return iam.create_role(
            RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY)
        )["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        # The client scripts start together: another one created it in between.
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
