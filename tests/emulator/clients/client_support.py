"""Imported by the client scripts beside it, in whichever SDK's environment they run.

The scripts run in the SDK 2 environment, which holds nothing of the project, so this module
imports the standard library only; boto3 and pandas, which both SDKs' environments hold, are
imported by the helpers that use them. The test copies this file beside the script into the
client's working directory.
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

# The built-in XGBoost setting the hosting clients train with (numeric features, 40 rounds).
HOSTING_HYPERPARAMETERS = {
    "objective": "binary:logistic",
    "num_round": 40,
    "max_depth": 4,
    "eta": 0.3,
    "eval_metric": "logloss",
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


def sdk_session(session_class: Any, bucket: str, *, runtime: bool = True) -> Any:
    """An SDK session (either SDK's ``Session``, or ``PipelineSession``, which takes no runtime
    client: ``runtime=False``) whose clients reach the emulator, as a user points the SDK at an
    endpoint of their own."""
    import boto3

    boto_session = boto3.Session(region_name="us-east-1")
    clients = {"sagemaker_client": boto_session.client("sagemaker", endpoint_url=endpoint_url())}
    if runtime:
        clients["sagemaker_runtime_client"] = boto_session.client(
            "sagemaker-runtime", endpoint_url=endpoint_url()
        )
    return session_class(boto_session=boto_session, default_bucket=bucket, **clients)


def numeric_adult(data_csv: str) -> Any:
    """Numeric features of the Adult data, label first: the built-in algorithm's CSV contract."""
    import pandas as pd

    raw = pd.read_csv(data_csv)
    return pd.DataFrame(
        {
            "label": (raw["income"] == ">50K").astype(int),
            "age": raw["age"],
            "education": raw["education.num"],
            "gain": raw["capital.gain"],
            "loss": raw["capital.loss"],
            "hours": raw["hours.per.week"],
            "married": (raw["marital.status"] == "Married-civ-spouse").astype(int),
        }
    )


def upload_channels(session: Any, bucket: str, prefix: str, parts: dict[str, Any]) -> dict:
    """Each frame as a headerless CSV under ``<prefix>/<name>``; name -> its S3 URI."""
    uris = {}
    for name, part in parts.items():
        part.to_csv(f"{name}.csv", header=False, index=False)
        uris[name] = session.upload_data(
            f"{name}.csv", bucket=bucket, key_prefix=f"{prefix}/{name}"
        )
    return uris


def execution_outcome(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A pipeline execution's steps as the tests read them: status and failure per step, and
    the outcomes of its conditions."""
    return {
        "steps": {step["StepName"]: step["StepStatus"] for step in steps},
        "failures": {step["StepName"]: step.get("FailureReason") for step in steps},
        "condition": [
            s["Metadata"]["Condition"] for s in steps if "Condition" in s.get("Metadata", {})
        ],
    }


def run_pipeline(
    pipeline_class: Any, session: Any, role: str, name: str, parameters: list, steps: list
) -> tuple[Any, Any]:
    """Either SDK's Pipeline of ``steps``: upserted, started with its defaults and waited for
    (polling every 2 s, not the SDK's 30); returns (pipeline, execution)."""
    pipeline = pipeline_class(
        name=name, parameters=parameters, steps=steps, sagemaker_session=session
    )
    pipeline.upsert(role_arn=role)
    execution = pipeline.start()
    execution.wait(delay=2, max_attempts=300)
    return pipeline, execution


def write_wheel(directory: str, name: str, source: str, version: str = "1.0") -> str:
    """A pure-Python wheel of one module ``name`` in ``directory`` (a user's own package, built
    beforehand and shipped in a source dir); returns its file name."""
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": source,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: client_support\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{dist}/RECORD"])
    wheel = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, wheel), "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return wheel
