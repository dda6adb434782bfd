"""Pure builders of the SageMaker request bodies the DAGs send.

Each takes plain values and returns the dict boto3 would send; tests validate every one against
botocore's SageMaker service model, so a body that works offline is well-formed for AWS.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROCESSING_ROOT = "/opt/ml/processing"
SKLEARN_FRAMEWORK = ("sklearn", "1.2-1")
XGBOOST_FRAMEWORK = ("xgboost", "1.7-1")
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "objective": "binary:logistic",
    "num_round": 50,
    "max_depth": 5,
    "eta": 0.3,
    "subsample": 1.0,
    "min_child_weight": 1.0,
    "gamma": 0.0,
    "eval_metric": "logloss",
}
MAX_RUNTIME_SECONDS = 3600
INFERENCE_SCRIPT = "inference.py"
TRAINING_SCRIPT = "train.py"
# Script mode's code archive (the SDK's name for it): train.py, tarred by the task's upload.
SOURCE_ARCHIVE = "sourcedir.tar.gz"
TRAINING_MODES = ("builtin", "script")
# inference.py takes raw records as CSV with a header row or as JSON records.
SERVED_CONTENT_TYPES = ["text/csv", "application/json"]


@dataclass(frozen=True)
class RunLayout:
    """Where one run reads and writes in S3: its own prefix, so dates never collide."""

    input_uri: str
    run_uri: str
    # Where the job scripts are; per run by default, shared by a native pipeline's executions.
    code_prefix: str | None = None

    @property
    def code_uri(self) -> str:
        return self.code_prefix or f"{self.run_uri}/code"

    def data_uri(self, split: str) -> str:
        return f"{self.run_uri}/data/{split}"

    @property
    def model_output_uri(self) -> str:
        return f"{self.run_uri}/model"

    @property
    def evaluation_uri(self) -> str:
        return f"{self.run_uri}/evaluation"

    @property
    def inference_code_uri(self) -> str:
        """inference.py with the run's schema.json (packaged by preprocess.py), as the model's
        SAGEMAKER_SUBMIT_DIRECTORY."""
        return f"{self.data_uri('schema')}/inference.tar.gz"

    @property
    def report_uri(self) -> str:
        """report.html and its charts (the summary task renders them)."""
        return f"{self.run_uri}/report"

    @property
    def summary_uri(self) -> str:
        return f"{self.run_uri}/summary.json"

    def training_artifact_uri(self, training_job_name: str) -> str:
        """Where SageMaker puts a training job's model: ``<S3OutputPath>/<job>/output/``."""
        return f"{self.model_output_uri}/{training_job_name}/output/model.tar.gz"


def script_uploads(scripts_dir: Path, code_uri: str, scripts: tuple[str, ...]) -> dict[str, Any]:
    """An ``S3Operations`` block (the provider's format) uploading each script under
    ``code_uri``. The job's operator runs it before fingerprinting its request, so the
    fingerprint sees the script as it is when the task runs (operators.PlannedRequest)."""
    return {"S3Upload": [_upload(scripts_dir / script, code_uri, script) for script in scripts]}


def source_upload(scripts_dir: Path, code_uri: str, script: str) -> dict[str, Any]:
    """An ``S3Operations`` block uploading ``script`` as script mode's code archive
    (``<code_uri>/sourcedir.tar.gz``): ``Tar`` is the provider's flag, and the operators tar it
    reproducibly (operators.PlannedRequest), so the same script gives the same object."""
    return {"S3Upload": [_upload(scripts_dir / script, code_uri, SOURCE_ARCHIVE, tar=True)]}


def _upload(path: Path, code_uri: str, name: str, tar: bool = False) -> dict[str, Any]:
    """One S3Upload entry: ``path`` as ``<code_uri>/<name>``, tarred first if ``tar``."""
    bucket, _, prefix = code_uri.removeprefix("s3://").partition("/")
    return {"Path": str(path), "Bucket": bucket, "Key": f"{prefix}/{name}", "Tar": tar}


def script_mode_hyperparameters(hyperparameters: dict[str, str], code_uri: str) -> dict[str, str]:
    """Script mode's hyperparameters as the SDK's framework estimators send them: every value
    JSON-encoded (the training toolkit decodes each), plus ``sagemaker_program`` and
    ``sagemaker_submit_directory`` naming train.py in the code archive."""
    encoded = {key: json.dumps(value) for key, value in hyperparameters.items()}
    encoded["sagemaker_program"] = json.dumps(TRAINING_SCRIPT)
    encoded["sagemaker_submit_directory"] = json.dumps(f"{code_uri}/{SOURCE_ARCHIVE}")
    return encoded


def with_model_artifact(request: dict[str, Any], model_artifact_uri: str) -> dict[str, Any]:
    """A copy of ``request`` reading the model at ``model_artifact_uri``: the ``model`` input
    of a processing job, the container(s) of a model or of a model package."""
    bound = copy.deepcopy(request)
    for item in bound.get("ProcessingInputs", []):
        if item["InputName"] == "model":
            item["S3Input"]["S3Uri"] = model_artifact_uri
    containers = [bound.get("PrimaryContainer") or {}]
    containers += bound.get("InferenceSpecification", {}).get("Containers", [])
    for container in containers:
        if "ModelDataUrl" in container:
            container["ModelDataUrl"] = model_artifact_uri
    return bound


def cluster(instance_type: str, instance_count: int, volume_gb: int = 30) -> dict[str, Any]:
    return {
        "ClusterConfig": {
            "InstanceCount": instance_count,
            "InstanceType": instance_type,
            "VolumeSizeInGB": volume_gb,
        }
    }


def processing_input(name: str, uri: str, local: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def processing_output(name: str, uri: str, local: str) -> dict[str, Any]:
    return {
        "OutputName": name,
        "S3Output": {"S3Uri": uri, "LocalPath": local, "S3UploadMode": "EndOfJob"},
    }


def preprocess_request(
    *,
    job_name: str,
    image_uri: str,
    role_arn: str,
    layout: RunLayout,
    seed: int,
    instance_type: str,
    instance_count: int,
) -> dict[str, Any]:
    """CreateProcessingJob for include/scripts/preprocess.py in the scikit-learn image."""
    root = PROCESSING_ROOT
    return {
        "ProcessingJobName": job_name,
        "RoleArn": role_arn,
        "AppSpecification": {
            "ImageUri": image_uri,
            "ContainerEntrypoint": ["python3", f"{root}/input/code/preprocess.py"],
            "ContainerArguments": [
                "--seed",
                str(seed),
                "--bundle-script",
                f"{root}/input/serving/{INFERENCE_SCRIPT}",
            ],
        },
        "ProcessingResources": cluster(instance_type, instance_count),
        "ProcessingInputs": [
            processing_input("raw", layout.input_uri, f"{root}/input"),
            processing_input("code", f"{layout.code_uri}/preprocess.py", f"{root}/input/code"),
            processing_input(
                "serving", f"{layout.code_uri}/{INFERENCE_SCRIPT}", f"{root}/input/serving"
            ),
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                processing_output(split, layout.data_uri(split), f"{root}/{split}")
                for split in ("train", "validation", "test", "schema")
            ]
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
    }


def hyperparameters_for(params: dict[str, Any]) -> dict[str, str]:
    """The algorithm's hyperparameters as SageMaker wants them: every value a string."""
    chosen = dict(DEFAULT_HYPERPARAMETERS)
    for key in ("num_round", "max_depth", "eta", "subsample", "min_child_weight", "gamma"):
        if params.get(key) is not None:
            chosen[key] = params[key]
    if params.get("early_stopping_rounds"):
        chosen["early_stopping_rounds"] = params["early_stopping_rounds"]
    if params.get("seed") is not None:
        chosen["seed"] = params["seed"]
    return {key: format_value(value) for key, value in chosen.items()}


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def training_request(
    *,
    job_name: str,
    image_uri: str,
    role_arn: str,
    layout: RunLayout,
    hyperparameters: dict[str, str],
    instance_type: str,
    instance_count: int,
    metric_definitions: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """CreateTrainingJob on the preprocessed CSVs: the built-in XGBoost algorithm, or script
    mode in the same (framework) image when ``hyperparameters`` name a program; script mode
    gives ``metric_definitions``, the regexes SageMaker reads its metrics from the log with
    (the built-in algorithm's metrics are its own, and it takes no definitions)."""

    def channel(name: str) -> dict[str, Any]:
        return {
            "ChannelName": name,
            "ContentType": "text/csv",
            "InputMode": "File",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": layout.data_uri(name),
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }

    specification: dict[str, Any] = {"TrainingImage": image_uri, "TrainingInputMode": "File"}
    if metric_definitions:
        specification["MetricDefinitions"] = copy.deepcopy(metric_definitions)
    return {
        "TrainingJobName": job_name,
        "RoleArn": role_arn,
        "AlgorithmSpecification": specification,
        "HyperParameters": hyperparameters,
        "InputDataConfig": [channel("train"), channel("validation")],
        "OutputDataConfig": {"S3OutputPath": layout.model_output_uri},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": instance_count,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
    }


def evaluate_request(
    *,
    job_name: str,
    image_uri: str,
    role_arn: str,
    layout: RunLayout,
    model_artifact_uri: str,
    instance_type: str,
    instance_count: int,
    champion_model_uri: str,
    champion_code_uri: str,
    champion_arn: str,
    max_regression: float | str,
) -> dict[str, Any]:
    """CreateProcessingJob for include/scripts/evaluate.py in the XGBoost framework image.

    The group's champion (its model archive and serving bundle, or the no-champion marker) is
    scored on the same test set, against this run's feature schema; ``max_regression`` sets
    evaluation.json's ``champion_floor`` for the native pipeline's condition."""
    root = PROCESSING_ROOT
    return {
        "ProcessingJobName": job_name,
        "RoleArn": role_arn,
        "AppSpecification": {
            "ImageUri": image_uri,
            "ContainerEntrypoint": ["python3", f"{root}/input/code/evaluate.py"],
            "ContainerArguments": [
                "--model-dir",
                f"{root}/model",
                "--test-dir",
                f"{root}/test",
                "--output-dir",
                f"{root}/evaluation",
                "--schema-dir",
                f"{root}/schema",
                "--champion-dir",
                f"{root}/champion",
                "--champion-arn",
                champion_arn,
                "--max-regression",
                format_value(max_regression),
            ],
        },
        "ProcessingResources": cluster(instance_type, instance_count),
        "ProcessingInputs": [
            processing_input("model", model_artifact_uri, f"{root}/model"),
            processing_input("test", layout.data_uri("test"), f"{root}/test"),
            processing_input(
                "schema", f"{layout.data_uri('schema')}/schema.json", f"{root}/schema"
            ),
            processing_input("champion-model", champion_model_uri, f"{root}/champion/model"),
            processing_input("champion-code", champion_code_uri, f"{root}/champion/code"),
            processing_input("code", f"{layout.code_uri}/evaluate.py", f"{root}/input/code"),
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                processing_output("evaluation", layout.evaluation_uri, f"{root}/evaluation")
            ]
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
    }


def serving_container(image_uri: str, model_data_url: str, code_uri: str) -> dict[str, Any]:
    """The trained booster behind include/scripts/inference.py in the XGBoost image, so the
    model scores raw census records (the script carries the run's feature schema)."""
    return {
        "Image": image_uri,
        "ModelDataUrl": model_data_url,
        "Environment": {
            "SAGEMAKER_PROGRAM": INFERENCE_SCRIPT,
            "SAGEMAKER_SUBMIT_DIRECTORY": code_uri,
        },
    }


def model_request(
    *, model_name: str, image_uri: str, model_data_url: str, code_uri: str, role_arn: str
) -> dict[str, Any]:
    """CreateModel serving the trained booster through inference.py."""
    return {
        "ModelName": model_name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": serving_container(image_uri, model_data_url, code_uri),
    }


def model_package_request(
    *,
    group_name: str,
    image_uri: str,
    model_data_url: str,
    code_uri: str,
    evaluation_json_uri: str,
    approval_status: str,
    metadata: dict[str, str],
    description: str,
) -> dict[str, Any]:
    """CreateModelPackage: a version in the group, metrics attached, metadata for look-ups."""
    return {
        "ModelPackageGroupName": group_name,
        "ModelPackageDescription": description,
        "ModelApprovalStatus": approval_status,
        "InferenceSpecification": {
            "Containers": [serving_container(image_uri, model_data_url, code_uri)],
            "SupportedContentTypes": SERVED_CONTENT_TYPES,
            "SupportedResponseMIMETypes": SERVED_CONTENT_TYPES,
        },
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": evaluation_json_uri}
            }
        },
        "CustomerMetadataProperties": metadata,
    }


def endpoint_request(*, endpoint_name: str, config_name: str) -> dict[str, Any]:
    return {"EndpointName": endpoint_name, "EndpointConfigName": config_name}


def endpoint_config_request(
    *, config_name: str, model_name: str, instance_type: str, instance_count: int
) -> dict[str, Any]:
    return {
        "EndpointConfigName": config_name,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": model_name,
                "InitialInstanceCount": instance_count,
                "InstanceType": instance_type,
                "InitialVariantWeight": 1.0,
            }
        ],
    }
