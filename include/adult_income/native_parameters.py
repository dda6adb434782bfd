"""How the DAG's params become the native pipeline's parameters (light: no SageMaker SDK)."""

from __future__ import annotations

from typing import Any

from include.adult_income import requests

# pipeline parameter -> the XGBoost hyperparameter it sets (strings, as the DAG formats them)
HYPERPARAMETER_PARAMETERS = {
    "NumRound": "num_round",
    "MaxDepth": "max_depth",
    "Eta": "eta",
    "Subsample": "subsample",
    "MinChildWeight": "min_child_weight",
    "Gamma": "gamma",
}
# DAG param -> pipeline parameter, passed as they are
PARAM_NAMES = {
    "accuracy_threshold": "AccuracyThreshold",
    "model_approval_status": "ModelApprovalStatus",
    "model_package_group": "ModelPackageGroupName",
    "processing_instance_type": "ProcessingInstanceType",
    "processing_instance_count": "ProcessingInstanceCount",
    "training_instance_type": "TrainingInstanceType",
    "training_instance_count": "TrainingInstanceCount",
    "seed": "Seed",
}


def executions_uri(root_uri: str, pipeline_name: str) -> str:
    """Each execution of ``pipeline_name`` writes under ``<this>/<execution id>/``."""
    return f"{root_uri}/pipelines/{pipeline_name}"


def execution_parameters(params: dict[str, Any], input_uri: str) -> dict[str, str]:
    """StartPipelineExecution parameters (all values as text) for a DAG run's params."""
    values = {PARAM_NAMES[k]: v for k, v in params.items() if k in PARAM_NAMES}
    hyperparameters = requests.hyperparameters_for(params)
    for parameter, key in HYPERPARAMETER_PARAMETERS.items():
        values[parameter] = hyperparameters[key]
    values["InputDataUrl"] = input_uri
    return {name: str(value) for name, value in sorted(values.items())}
