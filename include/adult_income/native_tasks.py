"""The Python callables of the native-pipeline DAG: plan the run (settings from Airflow
Variables, images, layout, the execution's parameters from the DAG's params: once, as the
main DAG's prepare_run does), upsert the SageMaker Pipeline definition, and summarise the
execution.

The SageMaker SDK (the definition builder) is imported only inside the upsert task.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from include.adult_income import champion, native_parameters, sagemaker_requests, settings, tasks

PIPELINE_NAME = "adult-income-xgboost-pipeline"
START_TASK = "start_pipeline"
UPSERT_TASK = "upsert_pipeline"
# The job scripts, and the marker the champion inputs read when the group has no champion.
SCRIPTS = ("preprocess.py", "evaluate.py", "inference.py", champion.NO_CHAMPION_MARKER)
# What the definition's code address covers: the scripts and script mode's train.py (in its
# code archive, sagemaker_requests.SOURCE_ARCHIVE).
DIGESTED = (*SCRIPTS, sagemaker_requests.TRAINING_SCRIPT)


def pipeline_name_for(training_mode: str, tuning_strategy: str | None = None) -> str:
    """One pipeline per training mode and tuning strategy: they shape the Train step (script
    mode's hyperparameters and metric definitions) or replace it by a Tune step searching with
    that strategy, which no pipeline parameter can switch; two shapes sharing one pipeline
    would rewrite each other's definition between runs."""
    name = PIPELINE_NAME if training_mode == "builtin" else f"{PIPELINE_NAME}-{training_mode}"
    return f"{name}-tuning-{tuning_strategy.lower()}" if tuning_strategy else name


def scripts_digest() -> str:
    """Content address of the job scripts: unchanged scripts keep the same definition."""
    digest = hashlib.sha256()
    for script in DIGESTED:
        digest.update(script.encode() + b"\0" + (tasks.SCRIPTS_DIR / script).read_bytes())
    return digest.hexdigest()[:16]


def code_uri_for(config: settings.Settings, pipeline_name: str | None = None) -> str:
    """Where the scripts of this version of the definition live (content-addressed)."""
    name = pipeline_name or PIPELINE_NAME
    return f"{config.root_uri}/pipelines/{name}/code/{scripts_digest()}"


def prepare_run(variables: Mapping[str, str], **context: Any) -> dict[str, Any]:
    """The run's plan: settings (``variables``: settings.templated(), rendered by Airflow),
    images, layout and the execution's PipelineParameters; every later task reads it."""
    config = settings.from_variables(variables)
    layout = tasks.layout_for(context, config)
    params = {key: context["params"][key] for key in context["params"]}
    mode = params.get("training_mode", "builtin")
    strategy = native_parameters.tuning_strategy_of(params)
    name = pipeline_name_for(mode, strategy)
    plan = {
        "pipeline": {"name": name, "training_mode": mode, "tuning_strategy": strategy},
        "settings": config.as_dict(),
        "layout": {"input_uri": layout.input_uri, "run_uri": layout.run_uri},
        "images": tasks.resolve_images(config.region),
        "parameters": native_parameters.execution_parameters(
            params,
            layout.input_uri,
            champion.evaluate_inputs(
                tasks.current_champion(context, config),
                f"{code_uri_for(config, name)}/{champion.NO_CHAMPION_MARKER}",
            ),
        ),
    }
    print(f"run plan: {json.dumps(plan)}")
    return plan


def upsert_pipeline(**context: Any) -> dict[str, Any]:
    """Create the pipeline, or update it when its definition changed; idempotent."""
    from include.adult_income import native_pipeline
    from include.adult_income.operators import reproducible_tar

    plan = tasks.plan_of(context)
    config = settings.from_plan(plan)
    pipeline_name, mode = planned_pipeline(plan)
    strategy = (plan.get("pipeline") or {}).get("tuning_strategy")
    code_uri = code_uri_for(config, pipeline_name)
    s3 = tasks.s3_client(config)
    for script in SCRIPTS:
        bucket, key = tasks.split_uri(f"{code_uri}/{script}")
        s3.upload_file(str(tasks.SCRIPTS_DIR / script), bucket, key)
    if mode == "script":
        bucket, key = tasks.split_uri(f"{code_uri}/{sagemaker_requests.SOURCE_ARCHIVE}")
        archive = reproducible_tar(str(tasks.SCRIPTS_DIR / sagemaker_requests.TRAINING_SCRIPT))
        s3.put_object(Bucket=bucket, Key=key, Body=archive)
    images = plan["images"]
    pipeline_settings = native_pipeline.PipelineSettings(
        pipeline_name=pipeline_name,
        training_mode=mode,
        tuning_strategy=strategy,
        role_arn=config.role_arn,
        root_uri=config.root_uri,
        code_uri=code_uri,
        sklearn_image=images["sklearn"],
        xgboost_image=images["xgboost"],
    )
    definition = json.dumps(native_pipeline.definition(pipeline_settings), sort_keys=True)
    sagemaker = tasks.sagemaker_client(config)
    try:
        current = sagemaker.describe_pipeline(PipelineName=pipeline_name)
    except sagemaker.exceptions.ResourceNotFound:
        current = None
    if current is None:
        # The token is the run's: a retried create is the same request, not a second pipeline.
        token = uuid.uuid5(uuid.NAMESPACE_URL, f"{context['dag'].dag_id}/{context['run_id']}")
        arn = sagemaker.create_pipeline(
            PipelineName=pipeline_name,
            PipelineDefinition=definition,
            PipelineDescription="UCI Adult income: preprocess, train, evaluate, gate, register",
            RoleArn=config.role_arn,
            ClientRequestToken=token.hex,
        )["PipelineArn"]
        change = "created"
    elif json.loads(current["PipelineDefinition"]) != json.loads(definition):
        arn = sagemaker.update_pipeline(
            PipelineName=pipeline_name, PipelineDefinition=definition, RoleArn=config.role_arn
        )["PipelineArn"]
        change = "updated"
    else:
        arn, change = current["PipelineArn"], "unchanged"
    print(f"pipeline {pipeline_name}: {change} ({arn})")
    return {"pipeline_name": pipeline_name, "pipeline_arn": arn, "change": change}


def planned_pipeline(plan: Mapping[str, Any]) -> tuple[str, str]:
    """(pipeline name, training mode) of the run's plan; a plan from before training modes
    is the built-in pipeline's."""
    pipeline = plan.get("pipeline") or {}
    mode = pipeline.get("training_mode", "builtin")
    return pipeline.get("name") or pipeline_name_for(mode), mode


def step_statuses(sagemaker: Any, execution_arn: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for page in sagemaker.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=execution_arn, SortOrder="Ascending"
    ):
        steps += page["PipelineExecutionSteps"]
    return steps


def summarize(**context: Any) -> dict[str, Any]:
    """Always runs: the execution's outcome as summary.json, with the main DAG's keys."""
    plan = context["ti"].xcom_pull(task_ids=tasks.PLAN_TASK)
    if not plan:  # check_conf or prepare_run failed: there is no prefix to write under
        failed = tasks.failed_tasks(context)
        raise AirflowFailException(
            f"the run failed before it was planned: {', '.join(failed) or tasks.PLAN_TASK} "
            "(see their logs); no summary.json written"
        )
    config = settings.from_plan(plan)
    execution_arn = context["ti"].xcom_pull(task_ids=START_TASK)
    layout = tasks.layout_of(plan)
    summary: dict[str, Any] = {
        "dag_id": context["dag"].dag_id,
        "run_id": context["run_id"],
        "logical_date": context["ds"],
        "accuracy": None,
        "threshold": float(context["params"]["accuracy_threshold"]),
        "decision": "failed",
        "reason": None,
        "champion": None,
        "model_package_arn": None,
        "model_name": None,
        "endpoint": None,
        "endpoint_config": None,
        "training_mode": planned_pipeline(plan)[1],
        "training_job": None,
        "tuning_job": None,
        "best_training_job": None,
        "input_uri": layout.input_uri,
        "data_uri": None,
        "model_uri": None,
        "evaluation_uri": None,
        "summary_uri": layout.summary_uri,
        "report_uri": None,
        "pipeline_execution_arn": execution_arn,
        "steps": {},
    }
    if execution_arn:
        summary.update(execution_outcome(config, execution_arn, planned_pipeline(plan)[0]))
    else:
        summary["reason"] = "no execution succeeded; see the start_pipeline task's log"
    if summary["evaluation_uri"] and summary["model_uri"]:
        execution_root = summary["data_uri"].removesuffix("/data")
        tasks.report_or_error(
            config,
            summary,
            evaluation_uri=summary["evaluation_uri"],
            report_uri=f"{execution_root}/report",
            title=f"Adult income XGBoost — {context['dag'].dag_id}, {context['ds']}",
            facts={
                "run": context["run_id"],
                "pipeline execution": str(execution_arn),
                "accuracy": f"{summary['accuracy']:.4f}",
                "threshold": f"{summary['threshold']:.4f}",
                "decision": summary["decision"],
                "model version": str(summary["model_package_arn"] or "none"),
                **({"tuning job": str(summary["tuning_job"])} if summary["tuning_job"] else {}),
            },
        )
    summary["failed_tasks"] = failed = tasks.failed_tasks(context)
    bucket, key = tasks.split_uri(layout.summary_uri)
    tasks.s3_client(config).put_object(
        Bucket=bucket, Key=key, Body=json.dumps(summary, indent=2).encode()
    )
    print(json.dumps(summary, indent=2))
    if failed:  # the summary is the only leaf: a failed task must fail the run
        raise AirflowFailException(f"the run failed: {', '.join(failed)} (see their logs)")
    if summary["decision"] == "failed":
        raise AirflowFailException(f"the pipeline execution failed: {summary['reason']}")
    return summary


def execution_outcome(
    config: settings.Settings, execution_arn: str, pipeline_name: str | None = None
) -> dict[str, Any]:
    """Decision, accuracy and resources of one execution, read from its steps."""
    sagemaker = tasks.sagemaker_client(config)
    execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
    steps = {s["StepName"]: s for s in step_statuses(sagemaker, execution_arn)}
    metadata = {name: step.get("Metadata", {}) for name, step in steps.items()}
    execution_id = execution_arn.rsplit("/", 1)[1]
    root = native_parameters.executions_uri(config.root_uri, pipeline_name or PIPELINE_NAME)
    run_uri = f"{root}/{execution_id}"
    outcome: dict[str, Any] = {
        "steps": {name: step["StepStatus"] for name, step in steps.items()},
        "data_uri": f"{run_uri}/data",
    }
    training_arn = metadata.get("Train", {}).get("TrainingJob", {}).get("Arn")
    tuning_arn = metadata.get("Tune", {}).get("TuningJob", {}).get("Arn")
    if tuning_arn:  # the model evaluated and registered is the best training job's
        tuning = sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=tuning_arn.rsplit("/", 1)[1]
        )
        outcome["tuning_job"] = tuning["HyperParameterTuningJobName"]
        best = tuning.get("BestTrainingJob", {}).get("TrainingJobArn")
        training_arn = best or training_arn
    if training_arn:
        outcome["training_job"] = training_arn.rsplit("/", 1)[1]
        training = sagemaker.describe_training_job(TrainingJobName=outcome["training_job"])
        outcome["model_uri"] = training.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if tuning_arn:
            outcome["best_training_job"] = tasks.tuning_summary(tuning, training)
    if steps.get("Evaluate", {}).get("StepStatus") == "Succeeded":
        outcome["evaluation_uri"] = f"{run_uri}/evaluation/evaluation.json"
        bucket, key = tasks.split_uri(outcome["evaluation_uri"])
        evaluation = json.loads(
            tasks.s3_client(config).get_object(Bucket=bucket, Key=key)["Body"].read()
        )
        outcome["accuracy"] = evaluation["metrics"]["accuracy"]["value"]
        outcome["champion"] = tasks.champion_summary(evaluation)
    gate = metadata.get("AccuracyGate", {}).get("Condition", {}).get("Outcome")
    registered = metadata.get("RegisterModel", {}).get("RegisterModel", {}).get("Arn")
    model_arn = metadata.get("CreateModel", {}).get("Model", {}).get("Arn")
    status = execution["PipelineExecutionStatus"]
    if status == "Succeeded" and registered:
        outcome.update(decision="registered", model_package_arn=registered)
        outcome["reason"] = (
            "accuracy >= threshold and >= the champion's floor: the AccuracyGate took its if-branch"
        )
    elif status == "Succeeded" and gate == "False":  # the API's enum: "True" | "False"
        outcome.update(decision="rejected")
        outcome["reason"] = (
            "accuracy < threshold or below the champion's floor (its accuracy on this test set "
            "minus MaxRegression): the AccuracyGate took its else-branch"
        )
    else:
        outcome["reason"] = f"execution {status}: {execution.get('FailureReason', '')}"
    if model_arn:
        outcome["model_name"] = model_arn.rsplit("/", 1)[1]
    return outcome
