"""How the DAG's params become the native pipeline's parameters (light: no SageMaker SDK)."""

from __future__ import annotations

from typing import Any

from include.adult_income import sagemaker_requests

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


# champion.evaluate_inputs key -> pipeline parameter
CHAMPION_PARAMETERS = {
    "model": "ChampionModelUri",
    "code": "ChampionCodeUri",
    "arn": "ChampionArn",
}


def execution_parameters(
    params: dict[str, Any], input_uri: str, champion_inputs: dict[str, str] | None = None
) -> dict[str, str]:
    """StartPipelineExecution parameters (all values as text) for a DAG run's params and the
    champion it is measured against (champion.evaluate_inputs; None: the definition's default,
    the no-champion marker)."""
    values = {PARAM_NAMES[k]: v for k, v in params.items() if k in PARAM_NAMES}
    if params.get("max_regression") is not None:
        values["MaxRegression"] = sagemaker_requests.format_value(params["max_regression"])
    for key, parameter in CHAMPION_PARAMETERS.items():
        if champion_inputs is not None:
            values[parameter] = champion_inputs[key]
    hyperparameters = sagemaker_requests.hyperparameters_for(params)
    for parameter, key in HYPERPARAMETER_PARAMETERS.items():
        values[parameter] = hyperparameters[key]
    values["InputDataUrl"] = input_uri
    return {name: str(value) for name, value in sorted(values.items())}
