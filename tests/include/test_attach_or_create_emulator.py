"""Attach-or-create against the emulator: re-runs reuse, a killed task re-attaches,
a failed job gets a new attempt, a model is registered once per training job, and the endpoint
is created, left alone on a retry, updated by the next run, and re-created when Failed."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from include.adult_income import names
from include.adult_income.operators import (
    AttachOrCreateProcessingOperator,
    CreateOrReuseModelOperator,
    DeployEndpointOperator,
    RegisterOnceOperator,
)
from include.adult_income.sagemaker_requests import endpoint_config_request, endpoint_request
from tests.conftest import (
    CODE_DIR,
    ROLE,
    XGBOOST_IMAGE,
    TrainedModel,
    processing_input,
    script_request,
    tar_bytes,
)

DAG_ID = "adult_income_pipeline"


def context_for(run_id: str, task_id: str) -> dict:
    return {"ti": SimpleNamespace(dag_id=DAG_ID, task_id=task_id), "run_id": run_id}


def processing_config(bucket: str, script: bytes, aws):
    def build(planned: dict, context: dict, job_name: str) -> dict:
        aws("s3").put_object(Bucket=bucket, Key=f"{job_name}/code/job.py", Body=script)
        code = processing_input("code", f"s3://{bucket}/{job_name}/code/job.py", CODE_DIR)
        return script_request(job_name, "job.py", inputs=[code])

    return build


def jobs_named(aws, base: str) -> list[str]:
    listed = aws("sagemaker").list_processing_jobs(NameContains=base, MaxResults=100)
    return sorted(job["ProcessingJobName"] for job in listed["ProcessingJobSummaries"])


def operator(connection: str, build) -> AttachOrCreateProcessingOperator:
    return AttachOrCreateProcessingOperator(
        task_id="preprocess", build_config=build, aws_conn_id=connection, check_interval=1
    )


def test_rerun_reuses_and_killed_task_reattaches(
    aws, bucket, connection, capfd: pytest.CaptureFixture[str]
) -> None:
    run_id = f"manual__{uuid.uuid4().hex}"
    context = context_for(run_id, "preprocess")
    base = names.resource_name(DAG_ID, run_id, "preprocess")
    build = processing_config(bucket, b"import time\ntime.sleep(3)\nprint('done')\n", aws)

    # A task killed right after CreateProcessingJob: the job exists, tagged with the
    # fingerprint of its request as the operator sends it, and is running.
    aws("sagemaker").create_processing_job(**operator(connection, build).request_for(context, base))
    first = operator(connection, build).execute(context)
    assert first["Processing"]["ProcessingJobStatus"] == "Completed"
    # The retry attached to the running job instead of starting a second one.
    assert jobs_named(aws, base) == [base]
    assert f"Processing job {base} is already running: waiting for it." in capfd.readouterr().out

    # The same run again (a cleared task): reuses the Completed job.
    again = operator(connection, build).execute(context)
    assert again["Processing"]["ProcessingJobName"] == base
    assert jobs_named(aws, base) == [base]
    assert f"Processing job {base} already completed: reusing it." in capfd.readouterr().out


def test_failed_job_gets_the_next_attempt(aws, bucket, connection) -> None:
    run_id = f"manual__{uuid.uuid4().hex}"
    context = context_for(run_id, "preprocess")
    base = names.resource_name(DAG_ID, run_id, "preprocess")
    failing = processing_config(bucket, b"raise SystemExit('broken input')\n", aws)
    with pytest.raises(Exception, match="broken input"):
        operator(connection, failing).execute(context)
    fixed = processing_config(bucket, b"print('ok')\n", aws)
    result = operator(connection, fixed).execute(context)
    assert result["Processing"]["ProcessingJobName"] == f"{base}-a2"
    assert jobs_named(aws, base) == [base, f"{base}-a2"]


def test_model_is_reused_and_registered_once(aws, bucket, connection) -> None:
    run_id = f"manual__{uuid.uuid4().hex}"
    group = f"group-{uuid.uuid4().hex[:8]}"
    model_url = f"s3://{bucket}/model.tar.gz"

    def model_config(planned: dict, context: dict, name: str) -> dict:
        return {
            "ModelName": name,
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {"Image": XGBOOST_IMAGE, "ModelDataUrl": model_url},
        }

    def package_request(planned: dict, context: dict) -> dict:
        from include.adult_income.sagemaker_requests import model_package_request

        return model_package_request(
            group_name=group,
            image_uri=XGBOOST_IMAGE,
            model_data_url=model_url,
            code_uri=f"s3://{bucket}/code/inference.tar.gz",
            evaluation_json_uri=f"s3://{bucket}/evaluation.json",
            approval_status="PendingManualApproval",
            metadata={"training_job": f"train-{run_id[-8:]}", "accuracy": "0.87"},
            description="test",
        )

    for _ in range(2):
        model = CreateOrReuseModelOperator(
            task_id="create_model", build_config=model_config, aws_conn_id=connection
        ).execute(context_for(run_id, "create_model"))
        assert model["Model"]["ModelName"] == names.resource_name(DAG_ID, run_id, "create_model")
    arns = {
        RegisterOnceOperator(
            task_id="register_model_version", build_request=package_request, aws_conn_id=connection
        ).execute(context_for(run_id, "register_model_version"))
        for _ in range(3)
    }
    assert len(arns) == 1
    versions = aws("sagemaker").list_model_packages(ModelPackageGroupName=group)
    assert len(versions["ModelPackageSummaryList"]) == 1
    package = aws("sagemaker").describe_model_package(ModelPackageName=arns.pop())
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"] == f"s3://{bucket}/evaluation.json"


def deploy_operator(connection: str, endpoint: str, model: str) -> DeployEndpointOperator:
    def build(planned: dict, context: dict, config_name: str) -> dict:
        return {
            "EndpointConfig": endpoint_config_request(
                config_name=config_name,
                model_name=model,
                instance_type="ml.m5.large",
                instance_count=1,
            ),
            "Endpoint": endpoint_request(endpoint_name=endpoint, config_name=config_name),
        }

    return DeployEndpointOperator(
        task_id="deploy", build_config=build, aws_conn_id=connection, check_interval=1
    )


def test_deploy_creates_keeps_on_retry_then_updates(
    aws, connection, trained_model: TrainedModel
) -> None:
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    first, second = (f"scheduled__{uuid.uuid4().hex}" for _ in range(2))
    deploy = deploy_operator(connection, endpoint, trained_model.builtin_model)
    created = deploy.execute(context_for(first, "deploy"))
    config_one = names.resource_name(DAG_ID, first, "deploy")
    assert created["Endpoint"]["EndpointConfigName"] == config_one
    assert created["Endpoint"]["EndpointStatus"] == "InService"
    sagemaker = aws("sagemaker")
    modified = sagemaker.describe_endpoint(EndpointName=endpoint)["LastModifiedTime"]

    retried = deploy_operator(connection, endpoint, trained_model.builtin_model).execute(
        context_for(first, "deploy")
    )
    assert retried["Endpoint"]["EndpointConfigName"] == config_one
    assert sagemaker.describe_endpoint(EndpointName=endpoint)["LastModifiedTime"] == modified
    configs = sagemaker.list_endpoint_configs(NameContains=config_one)["EndpointConfigs"]
    assert len(configs) == 1

    updated = deploy_operator(connection, endpoint, trained_model.builtin_model).execute(
        context_for(second, "deploy")
    )
    assert updated["Endpoint"]["EndpointConfigName"] == names.resource_name(
        DAG_ID, second, "deploy"
    )
    assert updated["Endpoint"]["EndpointStatus"] == "InService"


def test_deploy_recreates_a_failed_endpoint(
    aws, bucket, connection, trained_model: TrainedModel
) -> None:
    sagemaker = aws("sagemaker")
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    aws("s3").put_object(
        Bucket=bucket, Key=f"{endpoint}/model.tar.gz", Body=tar_bytes({"xgboost-model": b"x"})
    )
    sagemaker.create_model(
        ModelName=f"{endpoint}-broken",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": XGBOOST_IMAGE,
            "ModelDataUrl": f"s3://{bucket}/{endpoint}/model.tar.gz",
        },
    )
    broken = deploy_operator(connection, endpoint, f"{endpoint}-broken")
    with pytest.raises(Exception, match="Failed"):
        broken.execute(context_for(f"manual__{uuid.uuid4().hex}", "deploy"))
    assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Failed"

    fixed = deploy_operator(connection, endpoint, trained_model.builtin_model)
    result = fixed.execute(context_for(f"manual__{uuid.uuid4().hex}", "deploy"))
    assert result["Endpoint"]["EndpointStatus"] == "InService"
