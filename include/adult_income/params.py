"""The DAG's params: a JSON schema Airflow shows as the trigger form and checks before a run."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

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


def resolved(params: dict[str, Any]) -> dict[str, Any]:
    """Params as plain values (Airflow hands tasks a ParamsDict)."""
    return {key: params[key] for key in pipeline_params()}
