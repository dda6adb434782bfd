"""SageMaker Pipelines in the emulator: definitions with parameters, property files, conditions
and branches, run for real through boto3 and the provider's SageMakerStartPipelineOperator."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    CODE_DIR,
    ROLE,
    XGBOOST_IMAGE,
    processing_arguments,
    processing_input,
    processing_output,
    script_entrypoint,
)
from tests.emulator.test_tuning_jobs import data  # noqa: F401 (the training data fixture)

SCORE_SCRIPT = b"""
import json, os, sys
score = int(sys.argv[sys.argv.index("--score") + 1])
os.makedirs("/opt/ml/processing/output", exist_ok=True)
with open("/opt/ml/processing/output/report.json", "w") as handle:
    json.dump({"metrics": {"score": {"value": score}}}, handle)
"""


def get(path: str) -> dict:
    return {"Get": path}


def out_uri(bucket: str, prefix: str) -> dict:
    return {
        "Std:Join": {
            "On": "/",
            "Values": [f"s3://{bucket}/{prefix}", get("Execution.PipelineExecutionId"), "out"],
        }
    }


def score_step(bucket: str, prefix: str, name: str = "Score") -> dict:
    """score.py printing the Score parameter into its Report property file."""
    step = {
        "Name": name,
        "Type": "Processing",
        "Arguments": processing_arguments(
            script_entrypoint("score.py"),
            inputs=[processing_input("code", f"s3://{bucket}/{prefix}/code/score.py", CODE_DIR)],
            outputs=[
                processing_output("report", out_uri(bucket, prefix), "/opt/ml/processing/output")
            ],
        ),
        "PropertyFiles": [
            {"PropertyFileName": "Report", "OutputName": "report", "FilePath": "report.json"}
        ],
    }
    # an Integer parameter in a string field: sent as text, as the service does
    app = step["Arguments"]["AppSpecification"]
    app["ContainerArguments"] = ["--score", get("Parameters.Score")]
    return step


def definition(bucket: str, prefix: str) -> dict:
    score = {
        "Std:JsonGet": {
            "PropertyFile": get("Steps.Score.PropertyFiles.Report"),
            "Path": "metrics.score.value",
        }
    }
    return {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "Score", "Type": "Integer", "DefaultValue": 3},
            {"Name": "Threshold", "Type": "Float", "DefaultValue": 5.0},
            {"Name": "Group", "Type": "String"},
        ],
        "Steps": [
            score_step(bucket, prefix),
            score_step(bucket, prefix, name="Sibling"),  # independent: a parallel branch
            {
                "Name": "Gate",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "GreaterThanOrEqualTo",
                            "LeftValue": score,
                            "RightValue": get("Parameters.Threshold"),
                        },
                        {
                            "Type": "Not",
                            "Condition": {"Type": "In", "QueryValue": score, "Values": [13, 99]},
                        },
                    ],
                    "IfSteps": [
                        {
                            "Name": "MakeModel",
                            "Type": "Model",
                            "Arguments": {
                                "ExecutionRoleArn": ROLE,
                                "PrimaryContainer": {
                                    "Image": XGBOOST_IMAGE,
                                    "ModelDataUrl": get(
                                        "Steps.Score.ProcessingOutputConfig.Outputs['report'].S3Output.S3Uri"
                                    ),
                                },
                            },
                        },
                        {
                            "Name": "Register",
                            "Type": "RegisterModel",
                            "DependsOn": ["MakeModel"],
                            "Arguments": {
                                "ModelPackageGroupName": get("Parameters.Group"),
                                "ModelApprovalStatus": "PendingManualApproval",
                                "InferenceSpecification": {
                                    "Containers": [
                                        {
                                            "Image": XGBOOST_IMAGE,
                                            "ModelDataUrl": get(
                                                "Steps.MakeModel.PrimaryContainer.ModelDataUrl"
                                            ),
                                        }
                                    ],
                                    "SupportedContentTypes": ["text/csv"],
                                    "SupportedResponseMIMETypes": ["text/csv"],
                                },
                                "CustomerMetadataProperties": {
                                    "score": {"Std:Join": {"On": "", "Values": [score]}}
                                },
                            },
                        },
                    ],
                    "ElseSteps": [
                        {
                            "Name": "TooLow",
                            "Type": "Fail",
                            "Arguments": {
                                "ErrorMessage": {
                                    "Std:Join": {
                                        "On": " ",
                                        "Values": [
                                            "score",
                                            score,
                                            "below",
                                            get("Parameters.Threshold"),
                                        ],
                                    }
                                }
                            },
                        }
                    ],
                },
            },
        ],
    }


@pytest.fixture()
def pipeline(aws, bucket) -> tuple[str, dict]:
    prefix = f"pipe-{uuid.uuid4().hex[:6]}"
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/code/score.py", Body=SCORE_SCRIPT)
    group = f"{prefix}-group"
    aws("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    body = definition(bucket, prefix)
    aws("sagemaker").create_pipeline(
        PipelineName=prefix,
        PipelineDefinition=json.dumps(body),
        RoleArn=ROLE,
        ClientRequestToken=uuid.uuid4().hex,
    )
    return prefix, {"Group": group}


def start(aws, name: str, **parameters) -> str:
    return aws("sagemaker").start_pipeline_execution(
        PipelineName=name,
        PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in parameters.items()],
    )["PipelineExecutionArn"]


def wait_execution(aws, arn: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = aws("sagemaker").describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] not in {"Executing", "Stopping"}:
            return described
        time.sleep(0.1)
    raise AssertionError(f"{arn} still running")


def steps_of(aws, arn: str) -> dict[str, dict]:
    listed = aws("sagemaker").list_pipeline_execution_steps(PipelineExecutionArn=arn)
    return {s["StepName"]: s for s in listed["PipelineExecutionSteps"]}


def test_condition_true_creates_and_registers_with_resolved_references(aws, pipeline) -> None:
    name, params = pipeline
    arn = start(aws, name, Score=7, **params)
    described = wait_execution(aws, arn)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    steps = steps_of(aws, arn)
    assert set(steps) == {"Score", "Sibling", "Gate", "MakeModel", "Register"}
    assert {s["StepStatus"] for s in steps.values()} == {"Succeeded"}
    assert steps["Gate"]["Metadata"]["Condition"]["Outcome"] == "True"
    package_arn = steps["Register"]["Metadata"]["RegisterModel"]["Arn"]
    package = aws("sagemaker").describe_model_package(ModelPackageName=package_arn)
    assert package["CustomerMetadataProperties"] == {"score": "7"}
    execution_id = arn.rsplit("/", 1)[1]
    url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert url == f"s3://emulator-tests/{name}/{execution_id}/out"
    job = steps["Score"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
    assert job.startswith(f"pipelines-{execution_id}-score-")
    parameters = aws("sagemaker").list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert {"Name": "Score", "Value": "7"} in parameters["PipelineParameters"]
    definition_used = aws("sagemaker").describe_pipeline_definition_for_execution(
        PipelineExecutionArn=arn
    )
    assert json.loads(definition_used["PipelineDefinition"])["Steps"][0]["Name"] == "Score"


def test_condition_false_runs_the_else_branch_and_registers_nothing(aws, pipeline) -> None:
    name, params = pipeline
    arn = start(aws, name, Score=2, **params)
    described = wait_execution(aws, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "score 2 below 5.0" in described["FailureReason"]
    steps = steps_of(aws, arn)
    assert steps["Gate"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert steps["TooLow"]["StepStatus"] == "Failed"
    assert "Register" not in steps and "MakeModel" not in steps
    packages = aws("sagemaker").list_model_packages(ModelPackageGroupName=params["Group"])
    assert packages["ModelPackageSummaryList"] == []


def test_or_and_in_conditions(aws, pipeline) -> None:
    name, params = pipeline
    arn = start(aws, name, Score=13, **params)  # >= threshold but excluded by Not(In)
    wait_execution(aws, arn)
    assert steps_of(aws, arn)["Gate"]["Metadata"]["Condition"]["Outcome"] == "False"


def create_raw(aws, body: dict) -> str:
    name = f"raw-{uuid.uuid4().hex[:6]}"
    aws("sagemaker").create_pipeline(
        PipelineName=name,
        PipelineDefinition=json.dumps(body),
        RoleArn=ROLE,
        ClientRequestToken=uuid.uuid4().hex,
    )
    return name


def test_a_broken_step_reference_fails_with_a_clear_reason(aws, bucket) -> None:
    step = score_step(bucket, "broken")
    step["Arguments"]["AppSpecification"]["ContainerArguments"] = [
        "--score",
        get("Steps.Nope.Whatever"),
    ]
    name = create_raw(aws, {"Version": "2020-12-01", "Parameters": [], "Steps": [step]})
    described = wait_execution(aws, start(aws, name))
    assert described["PipelineExecutionStatus"] == "Failed"
    assert (
        "step 'Score' references step 'Nope', which is not in the pipeline definition"
        in (described["FailureReason"])
    )


def test_an_unsupported_step_type_fails_naming_it(aws) -> None:
    body = {
        "Version": "2020-12-01",
        "Steps": [{"Name": "Notify", "Type": "Lambda", "Arguments": {}}],
    }
    described = wait_execution(aws, start(aws, create_raw(aws, body)))
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "step 'Notify' has type 'Lambda'" in described["FailureReason"]


def test_parameters_are_checked_at_start(aws, pipeline) -> None:
    name, params = pipeline
    with pytest.raises(ClientError, match="Parameters without a default need a value: Group"):
        start(aws, name)
    with pytest.raises(ClientError, match="must be of type Integer"):
        start(aws, name, Score="many", **params)
    with pytest.raises(ClientError, match="'Nope' is not defined"):
        start(aws, name, Nope=1, **params)


def test_same_client_token_is_the_same_execution(aws, pipeline) -> None:
    name, params = pipeline
    parameters = [{"Name": k, "Value": v} for k, v in params.items()]
    arns = {
        aws("sagemaker").start_pipeline_execution(
            PipelineName=name,
            PipelineParameters=parameters,
            ClientRequestToken=f"{name}-token".ljust(32, "0"),
        )["PipelineExecutionArn"]
        for _ in range(2)
    }
    assert len(arns) == 1
    wait_execution(aws, arns.pop())


def test_update_versions_the_definition_and_list(aws, pipeline, bucket) -> None:
    name, _ = pipeline
    sagemaker = aws("sagemaker")
    body = {"Version": "2020-12-01", "Parameters": [], "Steps": [score_step(bucket, name)]}
    body["Parameters"] = [{"Name": "Score", "Type": "Integer", "DefaultValue": 9}]
    updated = sagemaker.update_pipeline(PipelineName=name, PipelineDefinition=json.dumps(body))
    assert updated["PipelineVersionId"] == 2
    assert json.loads(sagemaker.describe_pipeline(PipelineName=name)["PipelineDefinition"]) == body
    listed = sagemaker.list_pipelines(PipelineNamePrefix=name)["PipelineSummaries"]
    assert [p["PipelineName"] for p in listed] == [name]
    with pytest.raises(ClientError, match="already exists"):
        sagemaker.create_pipeline(
            PipelineName=name,
            PipelineDefinition=json.dumps(body),
            RoleArn=ROLE,
            ClientRequestToken=uuid.uuid4().hex,
        )


def test_provider_start_pipeline_operator_waits_for_success(aws, pipeline, connection) -> None:
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerStartPipelineOperator

    name, params = pipeline
    operator = SageMakerStartPipelineOperator(
        task_id="start",
        pipeline_name=name,
        pipeline_params={"Score": "8", **params},
        wait_for_completion=True,
        check_interval=1,
        aws_conn_id=connection,
    )
    arn = operator.execute({})
    assert (
        aws("sagemaker").describe_pipeline_execution(PipelineExecutionArn=arn)[
            "PipelineExecutionStatus"
        ]
        == "Succeeded"
    )


def test_stop_ends_the_execution_stopped(aws, bucket) -> None:
    slow = b"import time; time.sleep(30)\n"
    prefix = f"stop-{uuid.uuid4().hex[:6]}"
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/code/score.py", Body=slow)
    body = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Score", "Type": "Integer", "DefaultValue": 1}],
        "Steps": [score_step(bucket, prefix)],
    }
    arn = start(aws, create_raw(aws, body))
    time.sleep(1)
    aws("sagemaker").stop_pipeline_execution(
        PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex
    )
    described = wait_execution(aws, arn, timeout=60)
    assert described["PipelineExecutionStatus"] == "Stopped"
    assert steps_of(aws, arn)["Score"]["StepStatus"] == "Stopped"


def test_stopping_a_finished_execution_answers_as_aws_does(aws, pipeline, connection) -> None:
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    name, params = pipeline
    arn = start(aws, name, Score="8", **params)
    assert wait_execution(aws, arn)["PipelineExecutionStatus"] == "Succeeded"
    with pytest.raises(ClientError) as refused:
        aws("sagemaker").stop_pipeline_execution(
            PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    # The provider's hook tells "no longer running" by this wording and then just describes.
    hook = SageMakerHook(aws_conn_id=connection)
    assert hook.stop_pipeline(arn, fail_if_not_running=False) == "Succeeded"
    with pytest.raises(ClientError, match="Only pipelines with 'Executing' status"):
        hook.stop_pipeline(arn, fail_if_not_running=True)


def transform_step(model: str, source: str, output: dict) -> dict:
    return {
        "Name": "Batch",
        "Type": "Transform",
        "Arguments": {
            "ModelName": model,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {"S3OutputPath": output, "AssembleWith": "Line"},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        },
    }


def test_a_transform_step_runs_and_its_properties_reach_later_steps(
    aws, bucket, trained_model
) -> None:
    prefix = f"pipe-tr-{uuid.uuid4().hex[:6]}"
    rows = (trained_model.processed / "test" / "test.csv").read_text().splitlines()[:5]
    features = "\n".join(row.split(",", 1)[1] for row in rows) + "\n"
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/in/x.csv", Body=features.encode())
    report = {
        "Std:Join": {
            "On": " ",
            "Values": [
                get("Steps.Batch.TransformJobName"),
                get("Steps.Batch.TransformOutput.S3OutputPath"),
                get("Steps.Batch.TransformJobStatus"),
                get("Steps.Batch.TransformResources.InstanceType"),
            ],
        }
    }
    body = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            transform_step(
                trained_model.builtin_model, f"s3://{bucket}/{prefix}/in", out_uri(bucket, prefix)
            ),
            {"Name": "Report", "Type": "Fail", "Arguments": {"ErrorMessage": report}},
        ],
    }
    arn = start(aws, create_raw(aws, body))
    described = wait_execution(aws, arn)
    steps = steps_of(aws, arn)
    assert steps["Batch"]["StepStatus"] == "Succeeded", steps["Batch"].get("FailureReason")
    job_arn = steps["Batch"]["Metadata"]["TransformJob"]["Arn"]
    job_name = job_arn.rsplit("/", 1)[1]
    execution_id = arn.rsplit("/", 1)[1]
    assert job_name.startswith(f"pipelines-{execution_id}-batch-")
    job = aws("sagemaker").describe_transform_job(TransformJobName=job_name)
    output = f"s3://{bucket}/{prefix}/{execution_id}/out"
    assert job["TransformOutput"]["S3OutputPath"] == output
    # The Fail step read the transform step's properties, as DescribeTransformJob has them.
    message = steps["Report"]["Metadata"]["Fail"]["ErrorMessage"]
    assert message == f"{job_name} {output} Completed ml.m5.large"
    assert described["PipelineExecutionStatus"] == "Failed"
    scored = aws("s3").get_object(Bucket=bucket, Key=f"{prefix}/{execution_id}/out/x.csv.out")
    predictions = [float(v) for v in scored["Body"].read().decode().split()]
    assert len(predictions) == 5 and all(0 <= p <= 1 for p in predictions)


def test_a_transform_step_whose_job_fails_fails_the_execution(aws, bucket) -> None:
    body = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            transform_step(
                "no-such-model", f"s3://{bucket}/nowhere/in", f"s3://{bucket}/nowhere/out"
            )
        ],
    }
    arn = start(aws, create_raw(aws, body))
    described = wait_execution(aws, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "CreateTransformJob refused the request" in described["FailureReason"]
    assert 'Could not find model "no-such-model"' in described["FailureReason"]


def test_a_tuning_steps_top_model_uri_names_its_best_training_jobs_model(
    aws,
    bucket,
    data,  # noqa: F811
) -> None:
    """TuningStep.get_top_model_s3_uri(0, bucket, prefix) joins the training output path, the
    name at TrainingJobSummaries[0] and output/model.tar.gz: the best job's real artifact."""
    from tests.emulator.test_tuning_jobs import config, definition

    prefix = data
    training = definition(bucket, prefix, {"objective": "binary:logistic", "num_round": "5"})
    # The resources as SDK 2's tuner sends them: HyperParameterTuningResourceConfig instead
    training["HyperParameterTuningResourceConfig"] = training.pop("ResourceConfig")
    ranges = {"IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "3"}]}
    tune = {
        "Name": "Tune",
        "Type": "Tuning",
        "Arguments": {
            "HyperParameterTuningJobConfig": config(
                "Grid",
                ranges,
                ("Minimize", "validation:logloss"),
                limits={"MaxParallelTrainingJobs": 2},
            ),
            "TrainingJobDefinition": training,
        },
    }
    top_model = {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                bucket,
                f"{prefix}/models",
                get("Steps.Tune.TrainingJobSummaries[0].TrainingJobName"),
                "output/model.tar.gz",
            ],
        }
    }
    model = {
        "Name": "BestModel",
        "Type": "Model",
        "Arguments": {
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {"Image": XGBOOST_IMAGE, "ModelDataUrl": top_model},
        },
    }
    body = {"Version": "2020-12-01", "Parameters": [], "Steps": [tune, model]}
    arn = start(aws, create_raw(aws, body))
    described = wait_execution(aws, arn, timeout=300)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    steps = steps_of(aws, arn)
    sagemaker = aws("sagemaker")
    tuning = sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=steps["Tune"]["Metadata"]["TuningJob"]["Arn"].split("/")[-1]
    )
    best = sagemaker.describe_training_job(
        TrainingJobName=tuning["BestTrainingJob"]["TrainingJobName"]
    )
    assert best["ResourceConfig"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 1,
        "VolumeSizeInGB": 5,
    }
    created = sagemaker.describe_model(
        ModelName=steps["BestModel"]["Metadata"]["Model"]["Arn"].split("/")[-1]
    )
    artifact = created["PrimaryContainer"]["ModelDataUrl"]
    assert artifact == best["ModelArtifacts"]["S3ModelArtifacts"]
    key = artifact.removeprefix(f"s3://{bucket}/")
    assert aws("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
