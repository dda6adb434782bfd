"""How the DAG's params become the native pipeline's parameters (light: no SageMaker SDK)."""

from __future__ import annotations

from typing import Any

from include.adult_income import sagemaker_requests, tuning_requests

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


def tuning_strategy_of(params: dict[str, Any]) -> str | None:
    """The search a run's params ask for (None: no tuning, ``tuning_max_jobs`` is 0)."""
    if int(params.get("tuning_max_jobs") or 0) <= 0:
        return None
    return str(params.get("tuning_strategy") or tuning_requests.DEFAULT_STRATEGY)


def tuning_values(params: dict[str, Any]) -> dict[str, Any]:
    """A tuning pipeline's parameters for the run's params, limited as the main DAG limits its
    tuning job: no more at once than in all (Grid runs its whole grid, whatever max_jobs says)."""
    max_jobs = int(params["tuning_max_jobs"])
    parallel = int(params.get("tuning_max_parallel_jobs") or 1)
    objective = params.get("tuning_objective") or tuning_requests.DEFAULT_OBJECTIVE
    return {
        "TuningMaxJobs": max_jobs,
        "TuningMaxParallelJobs": (
            parallel if tuning_strategy_of(params) == "Grid" else min(parallel, max_jobs)
        ),
        "TuningObjective": objective,
        "TuningObjectiveType": tuning_requests.OBJECTIVES[objective],
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
    if tuning_strategy_of(params):  # only tuning pipelines declare these
        values.update(tuning_values(params))
    values["InputDataUrl"] = input_uri
    return {name: str(value) for name, value in sorted(values.items())}
