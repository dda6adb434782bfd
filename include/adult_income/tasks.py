"""The Python callables behind the DAG's tasks, and the config builders its operators call.

Everything heavy (the SageMaker SDK's image lookup, S3 reads) happens here, at task run time,
never while the DAG file is parsed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from include.adult_income import gate, names, requests, settings

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "scripts"
JOB_SCRIPTS = ("preprocess.py", "evaluate.py")
REGISTER_TASK = "register_model_version"
MODEL_TASK = "create_model"
REJECT_TASK = "model_rejected"


def s3_client(config: settings.Settings) -> Any:
    """S3 through the Airflow connection (its endpoint_url points offline runs at the emulator)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=config.aws_conn_id, region_name=config.region).conn


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def layout_for(context: Any, config: settings.Settings | None = None) -> requests.RunLayout:
    """The run's S3 layout: input partition of its logical date, outputs under its own run."""
    config = config or settings.load()
    params = context["params"]
    run_uri = f"{config.root_uri}/{names.run_path(context['dag'].dag_id, context['run_id'])}"
    input_uri = params.get("input_data_uri") or (f"{config.root_uri}/raw/ds={context['ds']}/")
    return requests.RunLayout(input_uri=input_uri, run_uri=run_uri)


def input_ready(**context: Any) -> bool:
    """Sensor callable: the date's input partition holds at least one CSV."""
    config = settings.load()
    bucket, prefix = split_uri(layout_for(context, config).input_uri)
    listing = s3_client(config).list_objects_v2(Bucket=bucket, Prefix=prefix)
    csvs = [item["Key"] for item in listing.get("Contents", []) if item["Key"].endswith(".csv")]
    print(f"input {bucket}/{prefix}: {len(csvs)} CSV file(s)")
    return bool(csvs)


def resolve_images(region: str) -> dict[str, str]:
    """Image URIs for the region from the SageMaker SDK's lookup (imported only here)."""
    from sagemaker.core import image_uris

    framework, version = requests.SKLEARN_FRAMEWORK
    sklearn = image_uris.retrieve(framework, region=region, version=version)
    framework, version = requests.XGBOOST_FRAMEWORK
    xgboost = image_uris.retrieve(framework, region=region, version=version)
    return {"sklearn": sklearn, "xgboost": xgboost}


def prepare_run(**context: Any) -> dict[str, Any]:
    """Upload the job scripts under the run's prefix and resolve the images for the region."""
    config = settings.load()
    layout = layout_for(context, config)
    s3 = s3_client(config)
    for script in JOB_SCRIPTS:
        bucket, key = split_uri(f"{layout.code_uri}/{script}")
        s3.upload_file(str(SCRIPTS_DIR / script), bucket, key)
    return {
        "images": resolve_images(config.region),
        "input_uri": layout.input_uri,
        "run_uri": layout.run_uri,
    }


def prepared(context: Any) -> dict[str, Any]:
    return context["ti"].xcom_pull(task_ids="prepare_run")


def preprocess_config(context: Any, job_name: str) -> dict[str, Any]:
    config = settings.load()
    params = context["params"]
    return requests.preprocess_request(
        job_name=job_name,
        image_uri=prepared(context)["images"]["sklearn"],
        role_arn=config.role_arn,
        layout=layout_for(context, config),
        seed=params["seed"],
        instance_type=params["processing_instance_type"],
        instance_count=params["processing_instance_count"],
    )


def training_config(context: Any, job_name: str) -> dict[str, Any]:
    config = settings.load()
    params = context["params"]
    return requests.training_request(
        job_name=job_name,
        image_uri=prepared(context)["images"]["xgboost"],
        role_arn=config.role_arn,
        layout=layout_for(context, config),
        hyperparameters=requests.hyperparameters_for(dict(params)),
        instance_type=params["training_instance_type"],
        instance_count=params["training_instance_count"],
    )


def trained(context: Any) -> dict[str, Any]:
    return context["ti"].xcom_pull(task_ids="train")["Training"]


def evaluate_config(context: Any, job_name: str) -> dict[str, Any]:
    config = settings.load()
    params = context["params"]
    return requests.evaluate_request(
        job_name=job_name,
        image_uri=prepared(context)["images"]["xgboost"],
        role_arn=config.role_arn,
        layout=layout_for(context, config),
        model_artifact_uri=trained(context)["ModelArtifacts"]["S3ModelArtifacts"],
        instance_type=params["processing_instance_type"],
        instance_count=params["processing_instance_count"],
    )


def read_evaluation(context: Any) -> dict[str, Any]:
    config = settings.load()
    uri = f"{layout_for(context, config).evaluation_uri}/evaluation.json"
    bucket, key = split_uri(uri)
    body = s3_client(config).get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def accuracy_gate(**context: Any) -> list[str]:
    """BranchPythonOperator callable: register on pass, reject otherwise."""
    decision = gate.decide(read_evaluation(context), float(context["params"]["accuracy_threshold"]))
    context["ti"].xcom_push(
        key="gate",
        value={"passed": decision.passed, "accuracy": decision.accuracy, "reason": decision.reason},
    )
    print(f"accuracy gate: {decision.reason}")
    return [MODEL_TASK, REGISTER_TASK] if decision.passed else [REJECT_TASK]


def gate_result(context: Any) -> dict[str, Any]:
    return context["ti"].xcom_pull(task_ids="accuracy_gate", key="gate")


def model_config(context: Any, model_name: str) -> dict[str, Any]:
    config = settings.load()
    return requests.model_request(
        model_name=model_name,
        image_uri=prepared(context)["images"]["xgboost"],
        model_data_url=trained(context)["ModelArtifacts"]["S3ModelArtifacts"],
        role_arn=config.role_arn,
    )


def model_package_config(context: Any) -> dict[str, Any]:
    config = settings.load()
    params = context["params"]
    training = trained(context)
    accuracy = gate_result(context)["accuracy"]
    return requests.model_package_request(
        group_name=params["model_package_group"],
        image_uri=prepared(context)["images"]["xgboost"],
        model_data_url=training["ModelArtifacts"]["S3ModelArtifacts"],
        evaluation_json_uri=f"{layout_for(context, config).evaluation_uri}/evaluation.json",
        approval_status=params["model_approval_status"],
        metadata={
            "dag_id": context["dag"].dag_id,
            "run_id": context["run_id"],
            "training_job": training["TrainingJobName"],
            "accuracy": f"{accuracy:.6f}",
        },
        description=f"XGBoost on UCI Adult, {context['run_id']}",
    )


def model_rejected(**context: Any) -> dict[str, Any]:
    """Records why nothing is registered; creates nothing."""
    result = gate_result(context)
    print(f"model rejected: {result['reason']}; nothing created or registered")
    return result


def summarize(**context: Any) -> dict[str, Any]:
    """Always runs: the run's outcome as summary.json under its prefix (and in XCom)."""
    config = settings.load()
    ti = context["ti"]
    layout = layout_for(context, config)
    gate_value = ti.xcom_pull(task_ids="accuracy_gate", key="gate") or {}
    training = (ti.xcom_pull(task_ids="train") or {}).get("Training", {})
    model = (ti.xcom_pull(task_ids=MODEL_TASK) or {}).get("Model", {})
    package_arn = ti.xcom_pull(task_ids=REGISTER_TASK)
    if package_arn:
        decision = "registered"
    elif gate_value and not gate_value.get("passed"):
        decision = "rejected"
    else:
        decision = "failed"
    summary = {
        "dag_id": context["dag"].dag_id,
        "run_id": context["run_id"],
        "logical_date": context["ds"],
        "accuracy": gate_value.get("accuracy"),
        "threshold": float(context["params"]["accuracy_threshold"]),
        "decision": decision,
        "reason": gate_value.get("reason"),
        "model_package_arn": package_arn,
        "model_name": model.get("ModelName"),
        "training_job": training.get("TrainingJobName"),
        "input_uri": layout.input_uri,
        "data_uri": f"{layout.run_uri}/data",
        "model_uri": training.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
        "evaluation_uri": f"{layout.evaluation_uri}/evaluation.json" if gate_value else None,
        "summary_uri": layout.summary_uri,
    }
    bucket, key = split_uri(layout.summary_uri)
    s3_client(config).put_object(
        Bucket=bucket, Key=key, Body=json.dumps(summary, indent=2).encode()
    )
    print(json.dumps(summary, indent=2))
    if decision == "failed":
        raise RuntimeError("the pipeline failed before a decision; see the failed task's log")
    return summary
