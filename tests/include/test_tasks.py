"""The DAG's Python callables that decide a run's truth: the conf check and failed tasks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.adult_income import tasks
from include.adult_income.params import pipeline_params


class FakeTaskInstance:
    dag_id = "adult_income_pipeline"

    def __init__(self, states: dict[str, dict[str, str | None]]) -> None:
        self.states = states
        self.asked: list[dict[str, Any]] = []

    def get_task_states(self, **query: Any) -> dict[str, dict[str, str | None]]:
        self.asked.append(query)
        return self.states


def context_with(conf: dict[str, Any]) -> dict[str, Any]:
    return {
        "dag_run": SimpleNamespace(conf=conf),
        "dag": SimpleNamespace(params=pipeline_params()),
    }


def test_check_conf_refuses_a_typo_without_retries() -> None:
    with pytest.raises(AirflowFailException, match="did you mean num_round"):
        tasks.check_conf(**context_with({"num_rounds": 500}))


def test_check_conf_passes_a_valid_conf() -> None:
    assert tasks.check_conf(**context_with({"num_round": 80})) is None


def test_failed_tasks_names_failed_and_upstream_failed_of_this_run_only() -> None:
    ti = FakeTaskInstance(
        {
            "run-1": {
                "create_model": "failed",
                "register_model_version": "success",
                "should_deploy": "upstream_failed",
                "model_rejected": "skipped",
                "summary": "running",
            },
            "run-2": {"train": "failed"},
        }
    )
    assert tasks.failed_tasks({"ti": ti, "run_id": "run-1"}) == ["create_model", "should_deploy"]
    assert ti.asked == [{"dag_id": "adult_income_pipeline", "run_ids": ["run-1"]}]


def test_failed_tasks_is_empty_for_a_clean_run() -> None:
    ti = FakeTaskInstance({"run-1": {"train": "success", "model_rejected": "skipped"}})
    assert tasks.failed_tasks({"ti": ti, "run_id": "run-1"}) == []


# --- the run's plan and the builders that bind it -------------------------------------------

OPERATIONS = {
    "preprocess": "CreateProcessingJob",
    "train": "CreateTrainingJob",
    "evaluate": "CreateProcessingJob",
    "create_model": "CreateModel",
    "register_model_version": "CreateModelPackage",
}
VARIABLES = {"bucket": "bucket-x", "role_arn": "arn:aws:iam::123456789012:role/R"}


class PlannedTaskInstance:
    dag_id = "adult_income_pipeline"

    def __init__(self, xcoms: dict[tuple[str, str], Any]) -> None:
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcoms.get((task_ids, key))


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    context = {
        "dag": SimpleNamespace(dag_id="adult_income_pipeline"),
        "run_id": "scheduled__2026-11-20T00:00:00+00:00",
        "ds": "2026-11-20",
        "params": {key: param.value for key, param in pipeline_params().items()},
    }
    with pytest.MonkeyPatch.context() as patch:
        # The champion look-up asks the model registry (tests/include/test_champion.py).
        patch.setattr(tasks, "current_champion", lambda context, config: None)
        return tasks.prepare_run(VARIABLES, **context)


@pytest.mark.parametrize("task_id", sorted(OPERATIONS))
def test_every_planned_request_is_valid_for_botocore(plan: dict, task_id: str) -> None:
    import botocore.session
    from botocore.validate import ParamValidator

    request = {k: v for k, v in plan["requests"][task_id].items() if k != "S3Operations"}
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(OPERATIONS[task_id]).input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()


def test_job_tasks_upload_their_own_scripts_under_the_runs_code_prefix(plan: dict) -> None:
    code_uri = f"{plan['layout']['run_uri']}/code"
    for task_id, scripts in {
        "preprocess": ["preprocess.py", "inference.py"],
        "evaluate": ["evaluate.py", "no-champion.txt"],
    }.items():
        uploads = plan["requests"][task_id]["S3Operations"]["S3Upload"]
        assert [f"s3://{op['Bucket']}/{op['Key']}" for op in uploads] == [
            f"{code_uri}/{script}" for script in scripts
        ]
        assert [op["Path"] for op in uploads] == [str(tasks.SCRIPTS_DIR / s) for s in scripts]
        code = [i["S3Input"]["S3Uri"] for i in plan["requests"][task_id]["ProcessingInputs"]]
        assert f"{code_uri}/{scripts[0]}" in code
    assert "S3Operations" not in plan["requests"]["train"]


def test_later_requests_read_the_training_attempt_that_completed(plan: dict) -> None:
    # Training needed a second attempt: evaluate, the model and the version use its model.
    artifact = f"{plan['layout']['run_uri']}/model/train-a2/output/model.tar.gz"
    ti = PlannedTaskInstance(
        {
            ("prepare_run", "return_value"): plan,
            ("train", "return_value"): {
                "Training": {
                    "TrainingJobName": "train-a2",
                    "ModelArtifacts": {"S3ModelArtifacts": artifact},
                }
            },
            ("accuracy_gate", "gate"): {"accuracy": 0.8716},
            ("create_model", "return_value"): {"Model": {"ModelName": "model-a2"}},
        }
    )
    context = {"ti": ti}
    requests = plan["requests"]
    evaluate = tasks.evaluate_config(requests["evaluate"], context, "evaluate-x")
    model_input = [i for i in evaluate["ProcessingInputs"] if i["InputName"] == "model"]
    assert evaluate["ProcessingJobName"] == "evaluate-x"
    assert [i["S3Input"]["S3Uri"] for i in model_input] == [artifact]
    model = tasks.model_config(requests["create_model"], context, "model-x")
    assert (model["ModelName"], model["PrimaryContainer"]["ModelDataUrl"]) == ("model-x", artifact)
    package = tasks.model_package_config(requests["register_model_version"], context)
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == artifact
    metadata = package["CustomerMetadataProperties"]
    assert (metadata["training_job"], metadata["accuracy"]) == ("train-a2", "0.871600")
    deploy = tasks.endpoint_config(requests["deploy"], context, "deploy-a3")
    assert deploy["EndpointConfig"]["EndpointConfigName"] == "deploy-a3"
    assert deploy["EndpointConfig"]["ProductionVariants"][0]["ModelName"] == "model-a2"
    assert deploy["Endpoint"]["EndpointConfigName"] == "deploy-a3"
    # the plan itself is left as it was: a retry binds again from the same plan
    planned_model = requests["create_model"]["PrimaryContainer"]["ModelDataUrl"]
    assert planned_model.endswith("/output/model.tar.gz") and "train-a2" not in planned_model


def test_a_run_that_failed_before_its_plan_fails_its_summary_naming_the_task() -> None:
    class UnplannedTaskInstance(FakeTaskInstance):
        def xcom_pull(self, task_ids: str, key: str = "return_value") -> None:
            return None  # prepare_run did not succeed: no plan, so no prefix to write under

    ti = UnplannedTaskInstance({"run-1": {"check_conf": "success", "prepare_run": "failed"}})
    with pytest.raises(AirflowFailException, match="failed before it was planned: prepare_run"):
        tasks.summarize(ti=ti, run_id="run-1")
