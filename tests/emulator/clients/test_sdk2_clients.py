"""SageMaker Python SDK 2.x client code, run unchanged against the emulator.

Each client script runs in the SDK 2 environment as a subprocess against the in-process
emulator and reports what it saw; the tests check outcomes (statuses, the evaluation's
accuracy, registered versions, predictions), and look at the emulator's side with boto3.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

# The client scripts this module's tests read the outcomes of (conftest.clients starts them).
CLIENT_SCRIPTS = (
    "sdk2_pipeline_tutorial",
    "sdk2_estimator_hosting",
    "sdk2_tuner",
    "sdk2_framework_repack",
)


def test_pipelines_tutorial_runs_end_to_end(aws, clients):
    result = clients["sdk2_pipeline_tutorial"].result()
    assert result["status"] == "Succeeded", result["failures"]
    assert result["steps"] == {
        "Preprocess": "Succeeded",
        "Train": "Succeeded",
        "Evaluate": "Succeeded",
        "AccuracyCheck": "Succeeded",
        "CreateModel": "Succeeded",
        "Register-RegisterModel": "Succeeded",
    }, result["steps"]
    assert result["condition"] == [{"Outcome": "True"}]
    # The evaluation ran in the 1.0-1 image's own xgboost and read its pickled Booster.
    assert result["evaluation"]["xgboost"] == "1.0.0"
    assert result["evaluation"]["metrics"]["accuracy"]["value"] >= 0.8
    assert result["versions"] == [[1, "PendingManualApproval"]]
    (model,) = result["models"]
    container = aws("sagemaker").describe_model(ModelName=model)["PrimaryContainer"]
    assert container["Image"].endswith("/sagemaker-xgboost:1.0-1-cpu-py3")
    assert container["ModelDataUrl"].endswith("/output/model.tar.gz")

    # With a threshold the model cannot pass, the condition is False and nothing is registered.
    strict = result["strict"]
    assert strict["status"] == "Succeeded"
    assert strict["condition"] == [{"Outcome": "False"}]
    assert set(strict["steps"]) == {"Preprocess", "Train", "Evaluate", "AccuracyCheck"}
    assert strict["versions"] == [1]

    # The lineage table lists each job's inputs and outputs, as the tutorial shows it.
    assert "lineage_error" not in result, result["lineage_error"]
    lineage = result["lineage"]
    assert set(lineage) == set(result["steps"])
    for step in ("Preprocess", "Train", "Evaluate"):
        assert {row["Direction"] for row in lineage[step]} == {"Input", "Output"}, lineage[step]
    sources = {
        step: {(row["Direction"], row["Name/Source"]) for row in rows}
        for step, rows in lineage.items()
        if rows
    }
    assert any(
        direction == "Input" and source.endswith("/raw/adult.csv")
        for direction, source in sources["Preprocess"]
    ), sources["Preprocess"]
    assert any(
        direction == "Input" and "sagemaker-xgboost:1.0-1" in source
        for direction, source in sources["Train"]
    ), sources["Train"]
    assert any(
        direction == "Output" and source.endswith("/output/model.tar.gz")
        for direction, source in sources["Train"]
    ), sources["Train"]


def test_estimator_fit_attach_deploy_transform_and_package_deploy(aws, bucket, clients):
    run = clients["sdk2_estimator_hosting"]
    prefix = run.args[2]
    result = run.result()
    job = aws("sagemaker").describe_training_job(TrainingJobName=result["job"])
    assert job["TrainingJobStatus"] == "Completed"
    assert result["model_data"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    attached = result["attached"]
    assert attached["model_data"] == result["model_data"]
    assert attached["hyperparameters"]["max_depth"] == "4"
    assert attached["image_uri"] == job["AlgorithmSpecification"]["TrainingImage"]
    assert attached["output_path"] == f"s3://{bucket}/{prefix}/model"
    assert attached["instance_type"] == "ml.m5.large"

    endpoint = result["endpoint"]
    assert endpoint["count"] > 500
    assert 0 <= endpoint["min"] <= endpoint["max"] <= 1
    assert endpoint["accuracy"] >= 0.75
    # Batch transform scores the same rows with the same model.
    assert result["transform"]["status"] == "Completed"
    assert result["transform"]["count"] == endpoint["count"]
    assert result["transform"]["max_difference_from_endpoint"] < 1e-5

    assert result["package"]["version"] == 1
    assert result["package"]["status"] == "Approved"
    assert result["package_endpoint"]["max_difference_from_endpoint"] < 1e-5
    # The client deleted both endpoints.
    names = {e["EndpointName"] for e in aws("sagemaker").list_endpoints()["Endpoints"]}
    assert not names & {endpoint["name"], result["package_endpoint"]["name"]}


def test_hyperparameter_tuner_fit_best_training_job_analytics_and_best_estimator(aws, clients):
    result = clients["sdk2_tuner"].result()
    name = clients["sdk2_tuner"].args[2]
    assert result["status"] == "Completed"
    summaries = aws("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )["TrainingJobSummaries"]
    assert len(summaries) == 2 and {s["TrainingJobStatus"] for s in summaries} == {"Completed"}
    objective = {
        s["TrainingJobName"]: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for s in summaries
    }
    # validation:auc is maximised: the best job is the one with the highest value
    assert result["best"] == max(objective, key=objective.get)
    rows = {row["TrainingJobName"]: row for row in result["analytics"]}
    assert set(rows) == set(objective)
    for job, row in rows.items():
        assert row["FinalObjectiveValue"] == objective[job]
        assert 0.05 <= row["eta"] <= 0.5 and 2 <= row["max_depth"] <= 6
        assert row["TrainingJobStatus"] == "Completed"
        assert row["TrainingElapsedTimeSeconds"] >= 0
    # SDK 2 sends HyperParameterTuningResourceConfig (not ResourceConfig); each training job
    # runs on what it names
    assert result["resources"] == {
        "InstanceCount": 1,
        "InstanceType": "ml.m5.large",
        "VolumeSizeInGB": 30,
    }
    # SageMaker adds the objective to the static hyperparameters, as Describe shows them
    assert result["static_hyperparameters"]["_tuning_objective_metric"] == "validation:auc"
    best = result["best_estimator"]
    assert best["job"] == result["best"] and best["instance_type"] == "ml.m5.large"
    described = aws("sagemaker").describe_training_job(TrainingJobName=result["best"])
    assert described["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert best["model_data"] == described["ModelArtifacts"]["S3ModelArtifacts"]
    assert best["hyperparameters"]["eta"] == described["HyperParameters"]["eta"]


def test_framework_estimator_repacked_model_and_transform_fn_in_a_pipeline(aws, clients):
    """sdk2_framework_repack.py: XGBoost script mode with requirements.txt, the SDK's
    RepackModel training jobs for a ModelStep's create and register, a TransformStep served by
    the inference script's transform_fn."""
    result = clients["sdk2_framework_repack"].result()
    assert result["status"] == "Succeeded", result["failures"]
    assert result["steps"] == {
        "Train": "Succeeded",
        "Model-RepackModel-0": "Succeeded",
        "Model-CreateModel": "Succeeded",
        "Register-RepackModel-0": "Succeeded",
        "Register-RegisterModel": "Succeeded",
        "Transform": "Succeeded",
    }, result["failures"]
    training = result["training"]

    # train.py imported the package that requirements.txt named (a wheel in the source dir),
    # installed for the job, in the 1.7-1 image's own xgboost.
    trained = training["Train"]
    assert trained["image"].endswith("/sagemaker-xgboost:1.7-1")
    assert trained["hyperparameters"]["sagemaker_program"] == '"train.py"'
    seen = trained["archive"]["json"]["requirement.json"]
    assert seen["package"] == "adult_features" and seen["version"] == "1.0"
    assert seen["xgboost"] == "1.7.4"
    assert trained["archive"]["members"] == ["requirement.json", "xgboost-model"]

    # Each RepackModel job (the SDK's SKLearn repacker) put the inference source dir under
    # code/ beside the trained model, and the model and package serve that archive.
    for step in ("Model-RepackModel-0", "Register-RepackModel-0"):
        repacked = training[step]
        assert "/sagemaker-scikit-learn:" in repacked["image"], repacked["image"]
        assert repacked["hyperparameters"]["sagemaker_program"] == '"_repack_script_launcher.sh"'
        # A source_dir given: _repack_model.py copies all of /opt/ml/code (the SDK's two files
        # included) into code/. The .sh launcher's job installs none of its requirements.
        assert repacked["archive"]["members"] == [
            "code/_repack_model.py",
            "code/_repack_script_launcher.sh",
            "code/adult_scoring-1.0-py3-none-any.whl",
            "code/inference.py",
            "code/requirements.txt",
            "requirement.json",
            "xgboost-model",
        ]
    (model,) = result["models"].values()
    container = model["container"]
    assert model["isolated"] is True
    assert container["ModelDataUrl"] == training["Model-RepackModel-0"]["model_data"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    (package,) = result["packages"]
    assert package["version"] == 1 and package["status"] == "Approved"
    (registered,) = package["containers"]
    assert registered["ModelDataUrl"] == training["Register-RepackModel-0"]["model_data"]
    assert registered["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"

    # The batch output is what transform_fn wrote: one JSON line per input row, called with
    # the content type the transform sent and the Transformer's accept, its labels from the
    # package the model server installed from code/requirements.txt.
    transform = result["transform"]
    assert transform["status"] == "Completed"
    lines = [json.loads(line) for line in transform["lines"] if line.strip()]
    assert len(lines) == transform["rows"]
    for line in lines:
        assert set(line) == {"score", "label", "content_type", "accept", "handler", "scoring"}
        assert line["handler"] == "transform_fn" and line["scoring"] == "1.0"
        assert line["content_type"] == "text/csv"
        assert line["accept"] == "application/jsonlines"
        assert 0 <= line["score"] <= 1 and line["label"] == int(line["score"] > 0.5)
    assert len({line["label"] for line in lines}) == 2
