"""The native pipeline's definition: stable (snapshot), and resolving it for an execution gives
exactly the jobs the Airflow DAG sends for the same params (same images, scripts, data layout
and hyperparameters)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
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
from include.adult_income import (
    native_parameters,
    native_pipeline,
    sagemaker_requests,
    tuning_requests,
)

SNAPSHOT = Path(__file__).parent / "snapshots" / "native_pipeline_definition.json"
TUNING_SNAPSHOT = Path(__file__).parent / "snapshots" / "native_tuning_pipeline_definition.json"
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
TUNING = dataclasses.replace(
    SETTINGS,
    pipeline_name="adult-income-xgboost-pipeline-tuning-bayesian",
    tuning_strategy="Bayesian",
)
TUNING_PARAMS = {
    **PARAMS,
    "tuning_max_jobs": 6,
    "tuning_max_parallel_jobs": 3,
    "tuning_strategy": "Bayesian",
    "tuning_objective": "validation:logloss",
}


@pytest.fixture(scope="module")
def definition() -> dict:
    return native_pipeline.definition(SETTINGS)


@pytest.mark.parametrize(
    ("settings", "snapshot"),
    [(SETTINGS, SNAPSHOT), (TUNING, TUNING_SNAPSHOT)],
    ids=["train", "tune"],
)
def test_definition_matches_its_snapshot(
    settings: native_pipeline.PipelineSettings, snapshot: Path
) -> None:
    definition = native_pipeline.definition(settings)
    text = json.dumps(definition, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(text)
    assert snapshot.exists(), "run with UPDATE_SNAPSHOTS=1 to write the snapshot"
    assert text == snapshot.read_text(), "definition changed; UPDATE_SNAPSHOTS=1 if intended"
    assert native_pipeline.definition(settings) == definition  # stable across builds


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


BEST_JOB = "tune-abc-001-0123abcd"


def resolved_arguments(
    definition: dict,
    step: str,
    operation: str,
    champion: dict | None = CHAMPION,
    params: dict = PARAMS,
) -> dict:
    given = native_parameters.execution_parameters(params, INPUT_URI, champion)
    values = resolve_parameters(definition, [{"Name": k, "Value": v} for k, v in given.items()])
    evaluator = Evaluator(
        parameters=values,
        execution={"PipelineExecutionId": EXECUTION_ID},
        # Train's and Tune's properties (a tuning step's summaries are best first)
        step_properties=lambda name: {
            "ModelArtifacts": {"S3ModelArtifacts": MODEL_URI},
            "TrainingJobSummaries": [{"TrainingJobName": BEST_JOB}, {"TrainingJobName": "other"}],
        },
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


def dag_job(builder: Callable[..., dict], image_uri: str, **arguments: object) -> dict:
    """What the DAG sends through ``builder`` for PARAMS, less the name the service gives."""
    body = builder(
        job_name="x",
        image_uri=image_uri,
        role_arn=SETTINGS.role_arn,
        layout=arguments.pop("layout", LAYOUT),
        **arguments,
    )
    return {k: v for k, v in body.items() if k not in native_pipeline.NAME_FIELDS}


def dag_training(layout: sagemaker_requests.RunLayout = LAYOUT, script: bool = False) -> dict:
    hyperparameters = sagemaker_requests.hyperparameters_for(PARAMS)
    if script:
        hyperparameters = sagemaker_requests.script_mode_hyperparameters(
            hyperparameters, layout.code_uri
        )
    return dag_job(
        sagemaker_requests.training_request,
        SETTINGS.xgboost_image,
        layout=layout,
        hyperparameters=hyperparameters,
        instance_type="ml.m5.2xlarge",
        instance_count=2,
        metric_definitions=tuning_requests.METRIC_DEFINITIONS if script else None,
    )


def dag_evaluate(model_uri: str, layout: sagemaker_requests.RunLayout = LAYOUT) -> dict:
    """The evaluate job the DAG sends for PARAMS and CHAMPION."""
    arguments = {
        "model_artifact_uri": model_uri,
        "champion_model_uri": CHAMPION["model"],
        "champion_code_uri": CHAMPION["code"],
        "champion_arn": CHAMPION["arn"],
        "max_regression": 0.02,
    }
    return dag_job(
        sagemaker_requests.evaluate_request,
        SETTINGS.xgboost_image,
        layout=layout,
        instance_type="ml.m5.large",
        instance_count=1,
        **arguments,
    )


def test_jobs_are_the_dags_jobs_for_the_same_params(definition: dict) -> None:
    preprocess = dag_job(
        sagemaker_requests.preprocess_request,
        SETTINGS.sklearn_image,
        seed=7,
        instance_type="ml.m5.large",
        instance_count=1,
    )
    assert resolved_arguments(definition, "Preprocess", "CreateProcessingJob") == preprocess
    assert resolved_arguments(definition, "Train", "CreateTrainingJob") == dag_training()
    evaluate = resolved_arguments(definition, "Evaluate", "CreateProcessingJob")
    assert evaluate == dag_evaluate(MODEL_URI)
    model = sagemaker_requests.model_request(
        model_name="x",
        image_uri=SETTINGS.xgboost_image,
        model_data_url=MODEL_URI,
        code_uri=LAYOUT.inference_code_uri,
        role_arn=SETTINGS.role_arn,
    )
    assert resolved_arguments(definition, "CreateModel", "CreateModel") == {
        k: v for k, v in model.items() if k != "ModelName"
    }
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
    script = dataclasses.replace(
        SETTINGS, pipeline_name="adult-income-xgboost-pipeline-script", training_mode="script"
    )
    definition = native_pipeline.definition(script)
    check_definition(definition)
    layout = dataclasses.replace(LAYOUT, run_uri=f"{script.executions_uri}/{EXECUTION_ID}")
    resolved = resolved_arguments(definition, "Train", "CreateTrainingJob")
    assert resolved == dag_training(layout, script=True)
    # the parameters reach script mode's JSON-encoded values
    assert json.loads(resolved["HyperParameters"]["eta"]) == "0.1"
    assert json.loads(resolved["HyperParameters"]["sagemaker_submit_directory"]) == (
        f"{script.code_uri}/sourcedir.tar.gz"
    )
    # the built-in pipeline's definition is unchanged by the option
    assert native_pipeline.definition(SETTINGS) == json.loads(SNAPSHOT.read_text())


@pytest.fixture(scope="module")
def tuning_definition() -> dict:
    return native_pipeline.definition(TUNING)


def test_the_tune_step_is_a_tuning_step_sending_the_dags_tuning_job(
    tuning_definition: dict,
) -> None:
    check_definition(tuning_definition)
    assert [s["Name"] for s in tuning_definition["Steps"]] == [
        "Preprocess",
        "Tune",
        "Evaluate",
        "AccuracyGate",
    ]
    tune = tuning_definition["Steps"][1]
    assert tune["Type"] == "Tuning" and tune["DependsOn"] == ["Preprocess"]
    layout = dataclasses.replace(LAYOUT, run_uri=f"{TUNING.executions_uri}/{EXECUTION_ID}")
    # what the main DAG's tune task sends for the same params (tasks.training_requests)
    dags_tuning = tuning_requests.tuning_job_request(
        tuning_job_name="x",
        training_request=dag_training(layout),
        max_jobs=6,
        max_parallel_jobs=3,
        strategy="Bayesian",
        objective="validation:logloss",
        seed=7,
    )
    resolved = resolved_arguments(
        tuning_definition, "Tune", "CreateHyperParameterTuningJob", params=TUNING_PARAMS
    )
    assert resolved == {
        k: v for k, v in dags_tuning.items() if k not in native_pipeline.NAME_FIELDS
    }
    # Evaluate and the model steps read the best training job's model, as
    # TuningStep.get_top_model_s3_uri(top_k=0, ...) addresses it
    best_model = layout.training_artifact_uri(BEST_JOB)
    evaluate = resolved_arguments(
        tuning_definition, "Evaluate", "CreateProcessingJob", params=TUNING_PARAMS
    )
    assert evaluate == dag_evaluate(best_model, layout)
    model = resolved_arguments(
        tuning_definition, "CreateModel", "CreateModel", params=TUNING_PARAMS
    )
    assert model["PrimaryContainer"]["ModelDataUrl"] == best_model
    assert "Steps.Tune.TrainingJobSummaries[0].TrainingJobName" in json.dumps(tuning_definition)


def test_tuning_parameters_are_declared_only_by_tuning_pipelines(
    definition: dict, tuning_definition: dict
) -> None:
    tuning = {"TuningMaxJobs", "TuningMaxParallelJobs", "TuningObjective", "TuningObjectiveType"}
    given = native_parameters.execution_parameters(TUNING_PARAMS, INPUT_URI)
    assert set(given) <= {p["Name"] for p in tuning_definition["Parameters"]}
    assert tuning <= set(given)
    assert given["TuningObjectiveType"] == "Minimize"
    assert not tuning & {p["Name"] for p in definition["Parameters"]}
    assert not tuning & set(native_parameters.execution_parameters(PARAMS, INPUT_URI))
    # no more at once than in all, as the main DAG limits its tuning job
    fewer = native_parameters.execution_parameters(
        {**TUNING_PARAMS, "tuning_max_jobs": 2}, INPUT_URI
    )
    assert (fewer["TuningMaxJobs"], fewer["TuningMaxParallelJobs"]) == ("2", "2")


def test_grid_tuning_runs_its_whole_grid() -> None:
    grid = native_pipeline.definition(dataclasses.replace(TUNING, tuning_strategy="Grid"))
    check_definition(grid)
    limits = grid["Steps"][1]["Arguments"]["HyperParameterTuningJobConfig"]["ResourceLimits"]
    assert limits == {"MaxParallelTrainingJobs": {"Get": "Parameters.TuningMaxParallelJobs"}}
