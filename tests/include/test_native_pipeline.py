"""The native pipeline's definition: stable (snapshot), and resolving it for an execution gives
exactly the jobs the Airflow DAG sends for the same params (same images, scripts, data layout
and hyperparameters)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import botocore.session
import pytest

from emulator.sagemaker.pipeline_executions import resolve_parameters
from emulator.sagemaker.pipeline_expressions import Evaluator
from emulator.sagemaker.pipeline_steps import (
    all_steps,
    check_definition,
    fit_to_shape,
)
from include.adult_income import native_parameters, native_pipeline, sagemaker_requests

SNAPSHOT = Path(__file__).parent / "snapshots" / "native_pipeline_definition.json"
SETTINGS = native_pipeline.PipelineSettings(
    pipeline_name="adult-income-xgboost-pipeline",
    role_arn="arn:aws:iam::111122223333:role/SageMakerExecution",
    root_uri="s3://example-bucket/adult-income",
    code_uri="s3://example-bucket/adult-income/pipelines/adult-income-xgboost-pipeline/code/abc",
    sklearn_image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
    xgboost_image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
)
PARAMS = {
    "accuracy_threshold": 0.85,
    "num_round": 80,
    "max_depth": 6,
    "eta": 0.1,
    "subsample": 0.8,
    "min_child_weight": 2.0,
    "gamma": 0.5,
    "seed": 7,
    "processing_instance_type": "ml.m5.large",
    "processing_instance_count": 1,
    "training_instance_type": "ml.m5.2xlarge",
    "training_instance_count": 2,
    "model_package_group": "my-group",
    "model_approval_status": "Approved",
    "max_regression": 0.02,
}
CHAMPION = {
    "model": "s3://example-bucket/adult-income/runs/r1/model/t/output/model.tar.gz",
    "code": "s3://example-bucket/adult-income/runs/r1/data/schema/inference.tar.gz",
    "arn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/my-group/3",
}
INPUT_URI = "s3://example-bucket/adult-income/raw/ds=2026-11-01/"
EXECUTION_ID = "abcdef123456"
MODEL_URI = "s3://example-bucket/model.tar.gz"


@pytest.fixture(scope="module")
def definition() -> dict:
    return native_pipeline.definition(SETTINGS)


def test_definition_matches_the_snapshot(definition: dict) -> None:
    text = json.dumps(definition, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), "run with UPDATE_SNAPSHOTS=1 to write the snapshot"
    assert text == SNAPSHOT.read_text(), "definition changed; UPDATE_SNAPSHOTS=1 if intended"
    assert native_pipeline.definition(SETTINGS) == definition  # stable across builds


def test_definition_is_runnable_and_shaped_like_the_seed(definition: dict) -> None:
    check_definition(definition)  # the emulator would run it: known step types, no bad refs
    steps = {s["Name"]: s for s in all_steps(definition["Steps"])}
    assert [s["Name"] for s in definition["Steps"]] == [
        "Preprocess",
        "Train",
        "Evaluate",
        "AccuracyGate",
    ]
    gate = steps["AccuracyGate"]["Arguments"]
    assert gate["Conditions"][0]["Type"] == "GreaterThanOrEqualTo"
    assert gate["Conditions"][0]["LeftValue"]["Std:JsonGet"]["Path"] == "metrics.accuracy.value"
    assert gate["Conditions"][0]["RightValue"] == {"Get": "Parameters.AccuracyThreshold"}
    # The champion's test: accuracy >= champion accuracy - MaxRegression, as evaluate.py wrote it.
    assert gate["Conditions"][1]["Type"] == "GreaterThanOrEqualTo"
    assert gate["Conditions"][1]["RightValue"]["Std:JsonGet"]["Path"] == (
        "metrics.champion_floor.value"
    )
    assert [s["Name"] for s in gate["IfSteps"]] == ["CreateModel", "RegisterModel"]
    assert gate["ElseSteps"] == []
    assert steps["Evaluate"]["PropertyFiles"] == [
        {
            "PropertyFileName": "EvaluationReport",
            "OutputName": "evaluation",
            "FilePath": "evaluation.json",
        }
    ]
    with_fail = native_pipeline.definition(SETTINGS, fail_on_reject=True)
    else_steps = with_fail["Steps"][3]["Arguments"]["ElseSteps"]
    assert [s["Type"] for s in else_steps] == ["Fail"]


def resolved_arguments(
    definition: dict, step: str, operation: str, champion: dict | None = CHAMPION
) -> dict:
    given = native_parameters.execution_parameters(PARAMS, INPUT_URI, champion)
    values = resolve_parameters(definition, [{"Name": k, "Value": v} for k, v in given.items()])
    evaluator = Evaluator(
        parameters=values,
        execution={"PipelineExecutionId": EXECUTION_ID},
        step_properties=lambda name: {"ModelArtifacts": {"S3ModelArtifacts": MODEL_URI}},
        read_property_file=lambda step, name: {},
    )
    steps = {s["Name"]: s for s in all_steps(definition["Steps"])}
    shape = botocore.session.get_session().get_service_model("sagemaker")
    input_shape = shape.operation_model(operation).input_shape
    return fit_to_shape(evaluator.resolve(steps[step]["Arguments"]), input_shape)


LAYOUT = sagemaker_requests.RunLayout(
    input_uri=INPUT_URI,
    run_uri=f"{SETTINGS.executions_uri}/{EXECUTION_ID}",
    code_prefix=SETTINGS.code_uri,
)


def without_name(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}


def test_jobs_are_the_dags_jobs_for_the_same_params(definition: dict) -> None:
    preprocess = sagemaker_requests.preprocess_request(
        job_name="x",
        image_uri=SETTINGS.sklearn_image,
        role_arn=SETTINGS.role_arn,
        layout=LAYOUT,
        seed=7,
        instance_type="ml.m5.large",
        instance_count=1,
    )
    assert resolved_arguments(definition, "Preprocess", "CreateProcessingJob") == without_name(
        preprocess, "ProcessingJobName"
    )
    training = sagemaker_requests.training_request(
        job_name="x",
        image_uri=SETTINGS.xgboost_image,
        role_arn=SETTINGS.role_arn,
        layout=LAYOUT,
        hyperparameters=sagemaker_requests.hyperparameters_for(PARAMS),
        instance_type="ml.m5.2xlarge",
        instance_count=2,
    )
    assert resolved_arguments(definition, "Train", "CreateTrainingJob") == without_name(
        training, "TrainingJobName"
    )
    evaluate = sagemaker_requests.evaluate_request(
        job_name="x",
        image_uri=SETTINGS.xgboost_image,
        role_arn=SETTINGS.role_arn,
        layout=LAYOUT,
        model_artifact_uri=MODEL_URI,
        instance_type="ml.m5.large",
        instance_count=1,
        champion_model_uri=CHAMPION["model"],
        champion_code_uri=CHAMPION["code"],
        champion_arn=CHAMPION["arn"],
        max_regression=0.02,
    )
    assert resolved_arguments(definition, "Evaluate", "CreateProcessingJob") == without_name(
        evaluate, "ProcessingJobName"
    )
    model = sagemaker_requests.model_request(
        model_name="x",
        image_uri=SETTINGS.xgboost_image,
        model_data_url=MODEL_URI,
        code_uri=LAYOUT.inference_code_uri,
        role_arn=SETTINGS.role_arn,
    )
    assert resolved_arguments(definition, "CreateModel", "CreateModel") == without_name(
        model, "ModelName"
    )
    package = resolved_arguments(definition, "RegisterModel", "CreateModelPackage")
    assert package["ModelPackageGroupName"] == "my-group"
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == (
        f"{LAYOUT.evaluation_uri}/evaluation.json"
    )


def test_execution_parameters_are_text_named_as_the_definition_declares(
    definition: dict,
) -> None:
    given = native_parameters.execution_parameters(PARAMS, INPUT_URI)
    declared = {p["Name"] for p in definition["Parameters"]}
    assert set(given) <= declared
    assert all(isinstance(v, str) for v in given.values())
    assert given["Eta"] == sagemaker_requests.hyperparameters_for(PARAMS)["eta"]
    assert given["InputDataUrl"] == INPUT_URI


def test_without_a_champion_evaluate_reads_the_marker_beside_the_scripts(definition: dict) -> None:
    evaluate = resolved_arguments(definition, "Evaluate", "CreateProcessingJob", champion=None)
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["ProcessingInputs"]}
    marker = f"{SETTINGS.code_uri}/no-champion.txt"
    assert inputs["champion-model"] == inputs["champion-code"] == marker
    arguments = evaluate["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--champion-arn") + 1] == ""
    assert arguments[arguments.index("--max-regression") + 1] == "0.02"


def test_script_mode_trains_as_the_dags_script_mode_train_task() -> None:
    import dataclasses

    from include.adult_income import tuning_requests

    script = dataclasses.replace(
        SETTINGS, pipeline_name="adult-income-xgboost-pipeline-script", training_mode="script"
    )
    definition = native_pipeline.definition(script)
    check_definition(definition)
    layout = sagemaker_requests.RunLayout(
        input_uri=INPUT_URI,
        run_uri=f"{script.executions_uri}/{EXECUTION_ID}",
        code_prefix=script.code_uri,
    )
    training = sagemaker_requests.training_request(
        job_name="x",
        image_uri=script.xgboost_image,
        role_arn=script.role_arn,
        layout=layout,
        hyperparameters=sagemaker_requests.script_mode_hyperparameters(
            sagemaker_requests.hyperparameters_for(PARAMS), script.code_uri
        ),
        instance_type="ml.m5.2xlarge",
        instance_count=2,
        metric_definitions=tuning_requests.METRIC_DEFINITIONS,
    )
    resolved = resolved_arguments(definition, "Train", "CreateTrainingJob")
    assert resolved == without_name(training, "TrainingJobName")
    # the parameters reach script mode's JSON-encoded values
    assert json.loads(resolved["HyperParameters"]["eta"]) == "0.1"
    assert json.loads(resolved["HyperParameters"]["sagemaker_submit_directory"]) == (
        f"{script.code_uri}/sourcedir.tar.gz"
    )
    # the built-in pipeline's definition is unchanged by the option
    assert native_pipeline.definition(SETTINGS) == json.loads(SNAPSHOT.read_text())
