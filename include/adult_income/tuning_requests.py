"""CreateHyperParameterTuningJob bodies: a pure builder, for the DAG's tuning route.

``tuning_job_request`` turns a CreateTrainingJob body (the built-in algorithm's, or script
mode's: ``sagemaker_program`` in its hyperparameters) into a tuning job over the XGBoost
hyperparameters the issue names — eta, max_depth, min_child_weight, subsample,
colsample_bytree, alpha, lambda, and num_round with early stopping — keeping every other
hyperparameter static. The tuned hyperparameters are removed from the static ones (SageMaker
refuses a hyperparameter that is both). Grid can search only categorical and integer ranges, so
it gets a small grid of its own, and no MaxNumberOfTrainingJobs (SageMaker runs each
combination once). Hyperband's resource is the training rounds: MinResource and MaxResource are
rounds, MaxResource the top of num_round's range.

Script mode reads its metrics with ``METRIC_DEFINITIONS``: the names the built-in algorithm's
metrics have (``validation:auc``), the regexes over the log line train.py prints (the built-in
container's format, tabs as CloudWatch shows them, ``#011``), so one objective name serves both
modes.
"""

from __future__ import annotations

import copy
from typing import Any

STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
# Objective metric -> whether larger is better.
OBJECTIVES = {
    "validation:auc": "Maximize",
    "validation:aucpr": "Maximize",
    "validation:logloss": "Minimize",
    "validation:error": "Minimize",
}
DEFAULT_OBJECTIVE = "validation:auc"
DEFAULT_STRATEGY = "Bayesian"
# Rounds without improvement on the validation channel before a job stops itself. The
# objective's metric is the one watched (the algorithm puts it last in eval_metric): validation
# AUC on the 3,000-row validation split wobbles by more than a round's gain: with 10 rounds,
# small-eta jobs stopped at half the rounds validation logloss wanted.
EARLY_STOPPING_ROUNDS = 25
# Early stopping decides the rounds; the range only has to reach past where it stops for the
# smallest eta (about 350 rounds at eta 0.05 on this data).
MIN_ROUNDS, MAX_ROUNDS = 400, 800
# Hyperband judges a job first after this many rounds.
HYPERBAND_MIN_ROUNDS = 10

# Where good models of this data are (README, "Measured here"): small steps, moderate
# depth, little regularisation. Wider ranges (eta to 0.4, min_child_weight to 20, alpha to 2)
# spent most of eight jobs on worse models that a 3,000-row validation split cannot tell apart.
TUNED_RANGES: dict[str, list[dict[str, str]]] = {
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.2", "ScalingType": "Logarithmic"},
        {"Name": "min_child_weight", "MinValue": "1", "MaxValue": "8",
         "ScalingType": "Logarithmic"},
        {"Name": "subsample", "MinValue": "0.6", "MaxValue": "1", "ScalingType": "Linear"},
        {"Name": "colsample_bytree", "MinValue": "0.4", "MaxValue": "1", "ScalingType": "Linear"},
        {"Name": "alpha", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"},
        {"Name": "lambda", "MinValue": "0.5", "MaxValue": "5", "ScalingType": "Logarithmic"},
    ],
    "IntegerParameterRanges": [
        {"Name": "max_depth", "MinValue": "4", "MaxValue": "8", "ScalingType": "Linear"},
        {"Name": "num_round", "MinValue": str(MIN_ROUNDS), "MaxValue": str(MAX_ROUNDS),
         "ScalingType": "Linear"},
    ],
}  # fmt: skip
# Grid: 3 x 3 = 9 combinations around the seed setting (eta 0.3, max_depth 5).
GRID_RANGES: dict[str, list[dict[str, Any]]] = {
    "CategoricalParameterRanges": [{"Name": "eta", "Values": ["0.1", "0.2", "0.3"]}],
    "IntegerParameterRanges": [
        {"Name": "max_depth", "MinValue": "4", "MaxValue": "6", "ScalingType": "Linear"}
    ],
}

METRIC_PATTERN = r".*\[[0-9]+\].*#011{data}-{metric}:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*"
METRIC_DEFINITIONS = [
    {"Name": f"{data}:{metric}", "Regex": METRIC_PATTERN.format(data=data, metric=metric)}
    for data in ("train", "validation")
    for metric in ("logloss", "auc", "error", "aucpr")
]


def ranges_for(strategy: str) -> dict[str, list[dict[str, Any]]]:
    return copy.deepcopy(GRID_RANGES if strategy == "Grid" else TUNED_RANGES)


def tuned_names(ranges: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {item["Name"] for items in ranges.values() for item in items}


def tuning_job_request(
    *,
    tuning_job_name: str,
    training_request: dict[str, Any],
    max_jobs: int,
    max_parallel_jobs: int,
    strategy: str = DEFAULT_STRATEGY,
    objective: str = DEFAULT_OBJECTIVE,
    seed: int | None = None,
    tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """CreateHyperParameterTuningJob for the training job ``training_request`` describes."""
    if strategy not in STRATEGIES:
        raise ValueError(f"tuning strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    if objective not in OBJECTIVES:
        raise ValueError(f"tuning objective {objective!r}: one of {', '.join(OBJECTIVES)}")
    if max_parallel_jobs < 1 or (strategy != "Grid" and max_jobs < max_parallel_jobs):
        raise ValueError(
            f"tuning needs 1 <= max_parallel_jobs <= max_jobs; got {max_parallel_jobs} and "
            f"{max_jobs}"
        )
    ranges = ranges_for(strategy)
    hyperparameters = dict(training_request["HyperParameters"])
    static = {k: v for k, v in hyperparameters.items() if k not in tuned_names(ranges)}
    if "num_round" in tuned_names(ranges):
        static["early_stopping_rounds"] = str(EARLY_STOPPING_ROUNDS)
    script_mode = "sagemaker_program" in hyperparameters
    specification: dict[str, Any] = {
        "TrainingImage": training_request["AlgorithmSpecification"]["TrainingImage"],
        "TrainingInputMode": training_request["AlgorithmSpecification"]["TrainingInputMode"],
    }
    if script_mode:
        specification["MetricDefinitions"] = copy.deepcopy(METRIC_DEFINITIONS)
    limits: dict[str, int] = {"MaxParallelTrainingJobs": max_parallel_jobs}
    if strategy != "Grid":
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    config: dict[str, Any] = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {
            "Type": OBJECTIVES[objective],
            "MetricName": objective,
        },
        "ResourceLimits": limits,
        "ParameterRanges": ranges,
        "TrainingJobEarlyStoppingType": "Off",
    }
    if strategy == "Hyperband" and not script_mode:
        # Hyperband stops jobs; the built-in algorithm keeps a stopped job's model only with
        # this (train.py saves on SIGTERM by itself).
        static["save_model_on_termination"] = "true"
    if strategy == "Hyperband":
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {
                "MinResource": HYPERBAND_MIN_ROUNDS,
                "MaxResource": MAX_ROUNDS,
            }
        }
    if seed is not None:
        config["RandomSeed"] = seed
    definition: dict[str, Any] = {
        "StaticHyperParameters": static,
        "AlgorithmSpecification": specification,
        **{
            key: copy.deepcopy(training_request[key])
            for key in (
                "RoleArn",
                "InputDataConfig",
                "OutputDataConfig",
                "ResourceConfig",
                "StoppingCondition",
            )
        },
    }
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": tuning_job_name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
    }
    if tags:
        request["Tags"] = copy.deepcopy(tags)
    return request
