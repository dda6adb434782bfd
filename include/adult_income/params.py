"""The DAG's params: a JSON schema Airflow shows as the trigger form and checks before a run.

Airflow validates each declared param when a run is created, but it accepts keys it does not
know (`{"num_rounds": 500}` would run with the default `num_round`) and numbers that JSON
Schema cannot compare (NaN passes `minimum`/`maximum`). ``conf_problems`` covers both; the DAG's
first task and `make run` refuse a conf that has any, before any job starts.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from airflow.sdk import Param

from include.adult_income import sagemaker_requests, tuning_requests

INSTANCE_TYPES = [
    "ml.t3.medium",
    "ml.t3.large",
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.m5.2xlarge",
    "ml.m5.4xlarge",
    "ml.c5.xlarge",
    "ml.c5.2xlarge",
]


def pipeline_params() -> dict[str, Param]:
    return {
        "input_data_uri": Param(
            None,
            type=["null", "string"],
            pattern=r"^s3://[a-z0-9.\-]{3,63}/.*$",
            description="S3 prefix of the raw CSVs; default: <root>/raw/ds=<logical date>/",
        ),
        "accuracy_threshold": Param(
            0.8, type="number", minimum=0, maximum=1, description="register only at or above"
        ),
        "max_regression": Param(
            0.0,
            type="number",
            minimum=0,
            maximum=1,
            description="how far below the approved champion's accuracy (on this run's test "
            "set) a new version may fall and still pass",
        ),
        "num_round": Param(50, type="integer", minimum=1, maximum=1000),
        "max_depth": Param(5, type="integer", minimum=1, maximum=20),
        "eta": Param(0.3, type="number", exclusiveMinimum=0, maximum=1),
        "subsample": Param(1.0, type="number", exclusiveMinimum=0, maximum=1),
        "min_child_weight": Param(1.0, type="number", minimum=0, maximum=100),
        "gamma": Param(0.0, type="number", minimum=0, maximum=100),
        "early_stopping_rounds": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=100,
            description="stop when validation logloss has not improved for this many rounds",
        ),
        "seed": Param(42, type="integer", minimum=0, maximum=2**31 - 1),
        "training_mode": Param(
            "builtin",
            type="string",
            enum=list(sagemaker_requests.TRAINING_MODES),
            description="builtin: SageMaker's XGBoost algorithm; script: include/scripts/"
            "train.py in the XGBoost 1.7-1 framework container (script mode)",
        ),
        "tuning_max_jobs": Param(
            0,
            type="integer",
            minimum=0,
            maximum=100,
            description="0: train once with the hyperparameters above; more: a hyperparameter "
            "tuning job of at most this many training jobs (Grid runs its whole grid), whose "
            "best job's model is evaluated and registered",
        ),
        "tuning_max_parallel_jobs": Param(
            2,
            type="integer",
            minimum=1,
            maximum=10,
            description="training jobs at once (no more than tuning_max_jobs)",
        ),
        "tuning_strategy": Param(
            tuning_requests.DEFAULT_STRATEGY, type="string", enum=list(tuning_requests.STRATEGIES)
        ),
        "tuning_objective": Param(
            tuning_requests.DEFAULT_OBJECTIVE,
            type="string",
            enum=list(tuning_requests.OBJECTIVES),
            description="the validation metric the tuning job maximises (auc, aucpr) or "
            "minimises (logloss, error)",
        ),
        "processing_instance_type": Param("ml.m5.xlarge", type="string", enum=INSTANCE_TYPES),
        "processing_instance_count": Param(1, type="integer", minimum=1, maximum=1),
        "training_instance_type": Param("ml.m5.xlarge", type="string", enum=INSTANCE_TYPES),
        "training_instance_count": Param(1, type="integer", minimum=1, maximum=10),
        "model_package_group": Param(
            "adult-income-xgboost",
            type="string",
            pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
        ),
        "model_approval_status": Param(
            "PendingManualApproval", type="string", enum=["PendingManualApproval", "Approved"]
        ),
        "human_approval": Param(
            False,
            type="boolean",
            description="register PendingManualApproval and ask a person in the Airflow UI "
            "(Required actions) to approve or reject the version",
        ),
        "approval_timeout_minutes": Param(
            1440,
            type="integer",
            minimum=1,
            maximum=7 * 24 * 60,
            description="with human_approval: unanswered after this long, the version stays "
            "PendingManualApproval and nothing is deployed",
        ),
        "deploy": Param(False, type="boolean", description="deploy an Approved version"),
        "endpoint_name": Param(
            "adult-income-xgboost",
            type="string",
            pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
            description="the endpoint created, or updated in place, when deploy is true",
        ),
        "endpoint_instance_type": Param("ml.m5.large", type="string", enum=INSTANCE_TYPES),
        "endpoint_instance_count": Param(1, type="integer", minimum=1, maximum=10),
    }


def native_pipeline_params() -> dict[str, Param]:
    """The native SageMaker Pipeline DAG's params: the main DAG's but deploy and human approval
    (that DAG's tasks) and early stopping (a pipeline parameter cannot be left unset, and the
    built-in algorithm refuses an empty value). Its ``training_mode`` and, with
    ``tuning_max_jobs`` > 0, ``tuning_strategy`` pick the pipeline
    (native_tasks.pipeline_name_for)."""
    return {
        k: v
        for k, v in pipeline_params().items()
        if not k.startswith(("deploy", "endpoint", "human_approval", "approval_"))
        and k != "early_stopping_rounds"
    }


def non_finite(value: Any, path: str) -> list[tuple[str, float]]:
    """(path, value) of every NaN or ±Infinity in a JSON value, nested ones included."""
    if isinstance(value, float) and not math.isfinite(value):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [found for k, v in value.items() for found in non_finite(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in non_finite(v, f"{path}[{i}]")]
    return []


def conf_problems(conf: Mapping[str, Any], known: set[str] | None = None) -> list[str]:
    """What is wrong with a run's conf beyond what Airflow's param validation catches."""
    known = set(pipeline_params()) if known is None else known
    problems = []
    for key in sorted(set(conf) - known):
        nearest = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {nearest[0]}?" if nearest else ""
        problems.append(f"unknown param {key!r}{hint}")
    for key in sorted(set(conf) & known):
        for path, value in non_finite(conf[key], key):
            problems.append(f"{path} is {value}: numbers must be finite")
    if conf.get("human_approval") and conf.get("model_approval_status") == "Approved":
        problems.append(
            "human_approval asks a person to approve the version: leave model_approval_status "
            "PendingManualApproval"
        )
    return problems
