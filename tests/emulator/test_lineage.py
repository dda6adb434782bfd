"""What SageMaker records of jobs, model packages and pipeline steps, read as SDK code reads it:
a processing job feeding a training job, their trial components, artifacts and associations,
QueryLineage over them, and SDK 3's LineageTableVisualizer for jobs and pipeline steps."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from tests.conftest import (
    CODE_DIR,
    ROLE,
    SKLEARN_IMAGE,
    XGBOOST_IMAGE,
    emulator_client,
    one_variant,
    processing_input,
    processing_output,
    processing_request,
    script_request,
    training_request,
    wait_for,
)
from tests.emulator.test_pipelines import SCORE_SCRIPT, definition, steps_of, wait_execution

# Writes a tiny CSV training set (label first, no header) the built-in XGBoost can read.
MAKE_DATA = b"""
import os
os.makedirs("/opt/ml/processing/train", exist_ok=True)
with open("/opt/ml/processing/train/train.csv", "w") as handle:
    for i in range(40):
        handle.write(f"{i % 2},{i % 2 + (i % 7) / 10},{(i * 3) % 5}\\n")
"""


def make_data_request(name: str, bucket: str, prefix: str) -> dict:
    """A processing job running make_data.py from s3://bucket/prefix/code/, writing train/."""
    return script_request(
        name,
        "make_data.py",
        inputs=[processing_input("code", f"s3://{bucket}/{prefix}/code/make_data.py", CODE_DIR)],
        outputs=[
            processing_output("train", f"s3://{bucket}/{prefix}/train", "/opt/ml/processing/train")
        ],
    )


def small_training_request(name: str, bucket: str, prefix: str) -> dict:
    """Three rounds of built-in XGBoost on make_data.py's train/ output."""
    hyperparameters = {"objective": "binary:logistic", "num_round": "3"}
    return training_request(name, bucket, prefix, hyperparameters, channels=("train",))


def model_of_the_training_job(aws, jobs: dict, suffix: str) -> str:
    """A model named <prefix>-<suffix> serving what the ``jobs`` fixture's training job made."""
    model = f"{jobs['prefix']}-{suffix}"
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": jobs["model_uri"]}
    aws("sagemaker").create_model(
        ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer=container
    )
    return model


@pytest.fixture(scope="module")
def jobs(aws, bucket) -> dict:
    """A processing job whose output trains a model: names, ARNs, and the model's S3 URI."""
    prefix = f"lineage-{uuid.uuid4().hex[:6]}"
    sagemaker = aws("sagemaker")
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/code/make_data.py", Body=MAKE_DATA)
    processing = f"{prefix}-prep"
    sagemaker.create_processing_job(**make_data_request(processing, bucket, prefix))
    prep = wait_for(
        lambda: sagemaker.describe_processing_job(ProcessingJobName=processing),
        "ProcessingJobStatus",
    )
    assert prep["ProcessingJobStatus"] == "Completed", prep.get("FailureReason")
    training = f"{prefix}-train"
    sagemaker.create_training_job(**small_training_request(training, bucket, prefix))
    train = wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName=training), "TrainingJobStatus"
    )
    assert train["TrainingJobStatus"] == "Completed", train.get("FailureReason")
    return {
        "prefix": prefix,
        "processing": prep,
        "training": train,
        "train_uri": f"s3://{bucket}/{prefix}/train",
        "code_uri": f"s3://{bucket}/{prefix}/code/make_data.py",
        "model_uri": train["ModelArtifacts"]["S3ModelArtifacts"],
    }


def only_artifact(aws, uri: str) -> dict:
    summaries = aws("sagemaker").list_artifacts(SourceUri=uri)["ArtifactSummaries"]
    assert len(summaries) == 1, summaries
    return summaries[0]


def test_each_job_has_its_trial_component_with_source_status_and_parameters(aws, jobs) -> None:
    sagemaker = aws("sagemaker")
    prep, train = jobs["processing"], jobs["training"]
    listed = sagemaker.list_trial_components(SourceArn=prep["ProcessingJobArn"])
    [summary] = listed["TrialComponentSummaries"]
    assert summary["TrialComponentName"] == f"{prep['ProcessingJobName']}-aws-processing-job"
    assert summary["TrialComponentSource"] == {
        "SourceArn": prep["ProcessingJobArn"],
        "SourceType": "SageMakerProcessingJob",
    }
    assert summary["Status"]["PrimaryStatus"] == "Completed"
    component = sagemaker.describe_trial_component(
        TrialComponentName=f"{train['TrainingJobName']}-aws-training-job"
    )
    assert component["TrialComponentArn"].split(":")[5].startswith("experiment-trial-component/")
    assert component["Source"]["SourceType"] == "SageMakerTrainingJob"
    assert component["Status"]["PrimaryStatus"] == "Completed"
    assert component["StartTime"] == train["TrainingStartTime"]
    assert component["EndTime"] == train["TrainingEndTime"]
    assert component["Parameters"]["num_round"] == {"StringValue": "3"}
    assert component["Parameters"]["SageMaker.ImageUri"] == {"StringValue": XGBOOST_IMAGE}
    assert component["Parameters"]["SageMaker.InstanceCount"] == {"NumberValue": 1.0}
    assert component["InputArtifacts"]["train"] == {
        "MediaType": "text/csv",
        "Value": jobs["train_uri"],
    }
    assert component["OutputArtifacts"]["SageMaker.ModelArtifact"] == {"Value": jobs["model_uri"]}
    assert {m["MetricName"] for m in component["Metrics"]} >= {"train:logloss"}
    # described by ARN too, as the API allows
    by_arn = sagemaker.describe_trial_component(TrialComponentName=component["TrialComponentArn"])
    assert by_arn["TrialComponentName"] == component["TrialComponentName"]


def test_inputs_contribute_and_outputs_are_produced_one_artifact_per_uri(aws, jobs) -> None:
    sagemaker = aws("sagemaker")
    prep_tc = sagemaker.list_trial_components(SourceArn=jobs["processing"]["ProcessingJobArn"])
    prep_arn = prep_tc["TrialComponentSummaries"][0]["TrialComponentArn"]
    train_arn = sagemaker.describe_trial_component(
        TrialComponentName=f"{jobs['training']['TrainingJobName']}-aws-training-job"
    )["TrialComponentArn"]
    dataset = only_artifact(aws, jobs["train_uri"])  # the processing output = the training input
    assert dataset["ArtifactType"] == "DataSet"
    inputs = sagemaker.list_associations(DestinationArn=prep_arn)["AssociationSummaries"]
    assert {(a["SourceType"], a["AssociationType"]) for a in inputs} == {
        ("Image", "ContributedTo"),
        ("DataSet", "ContributedTo"),
    }
    assert {a["DestinationType"] for a in inputs} == {"SageMakerProcessingJob"}
    code = only_artifact(aws, jobs["code_uri"])
    assert code["ArtifactArn"] in {a["SourceArn"] for a in inputs}
    produced = sagemaker.list_associations(SourceArn=prep_arn)["AssociationSummaries"]
    assert [(a["DestinationArn"], a["AssociationType"]) for a in produced] == [
        (dataset["ArtifactArn"], "Produced")
    ]
    into_training = sagemaker.list_associations(DestinationArn=train_arn, SourceType="DataSet")
    assert [a["SourceArn"] for a in into_training["AssociationSummaries"]] == [
        dataset["ArtifactArn"]
    ]
    model = only_artifact(aws, jobs["model_uri"])
    assert model["ArtifactType"] == "Model"
    out_of_training = sagemaker.list_associations(SourceArn=train_arn)["AssociationSummaries"]
    assert [(a["DestinationArn"], a["DestinationType"]) for a in out_of_training] == [
        (model["ArtifactArn"], "Model")
    ]
    image = only_artifact(aws, XGBOOST_IMAGE)
    assert image["ArtifactType"] == "Image"
    described = sagemaker.describe_artifact(ArtifactArn=model["ArtifactArn"])
    assert described["Source"]["SourceUri"] == jobs["model_uri"]


def test_query_lineage_walks_from_the_model_back_to_both_jobs(aws, jobs) -> None:
    sagemaker = aws("sagemaker")
    model = only_artifact(aws, jobs["model_uri"])
    names = {
        "prep": f"{jobs['processing']['ProcessingJobName']}-aws-processing-job",
        "train": f"{jobs['training']['TrainingJobName']}-aws-training-job",
    }
    arns = {
        k: sagemaker.describe_trial_component(TrialComponentName=v)["TrialComponentArn"]
        for k, v in names.items()
    }
    components = sagemaker.query_lineage(
        StartArns=[model["ArtifactArn"]],
        Direction="Ascendants",
        IncludeEdges=False,
        Filters={"LineageTypes": ["TrialComponent"]},
    )
    assert {v["Arn"] for v in components["Vertices"]} == set(arns.values())
    assert {v["Type"] for v in components["Vertices"]} == {"ProcessingJob", "TrainingJob"}
    assert components["Edges"] == []
    only_training = sagemaker.query_lineage(
        StartArns=[model["ArtifactArn"]],
        Direction="Ascendants",
        IncludeEdges=False,
        Filters={"LineageTypes": ["TrialComponent"], "Types": ["TrainingJob"]},
    )
    assert [v["Arn"] for v in only_training["Vertices"]] == [arns["train"]]
    # nothing descends from the model yet
    below = sagemaker.query_lineage(StartArns=[model["ArtifactArn"]], Direction="Descendants")
    assert [v["Arn"] for v in below["Vertices"]] == [model["ArtifactArn"]]
    assert below["Edges"] == []
    # one hop up from the model: the training job and the association to it
    one_hop = sagemaker.query_lineage(
        StartArns=[model["ArtifactArn"]], Direction="Ascendants", MaxDepth=1, IncludeEdges=True
    )
    assert {v["Arn"] for v in one_hop["Vertices"]} == {model["ArtifactArn"], arns["train"]}
    assert one_hop["Edges"] == [
        {
            "SourceArn": arns["train"],
            "DestinationArn": model["ArtifactArn"],
            "AssociationType": "Produced",
        }
    ]
    # every dataset the model descends from, processing output and code alike
    datasets = sagemaker.query_lineage(
        StartArns=[model["ArtifactArn"]],
        Direction="Ascendants",
        IncludeEdges=False,
        Filters={"LineageTypes": ["Artifact"], "Types": ["DataSet"]},
    )
    uris = {
        sagemaker.describe_artifact(ArtifactArn=v["Arn"])["Source"]["SourceUri"]
        for v in datasets["Vertices"]
    }
    assert uris == {jobs["train_uri"], jobs["code_uri"]}


def test_a_failed_job_produced_nothing(aws, bucket) -> None:
    sagemaker = aws("sagemaker")
    prefix = f"lineage-{uuid.uuid4().hex[:6]}"
    script = b"raise SystemExit(3)"
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/code/make_data.py", Body=script)
    name = f"{prefix}-fails"
    sagemaker.create_processing_job(**make_data_request(name, bucket, prefix))
    job = wait_for(
        lambda: sagemaker.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus"
    )
    assert job["ProcessingJobStatus"] == "Failed"
    component = sagemaker.describe_trial_component(TrialComponentName=f"{name}-aws-processing-job")
    assert component["Status"] == {"PrimaryStatus": "Failed", "Message": job["FailureReason"]}
    assert component["OutputArtifacts"] == {}
    produced = sagemaker.list_associations(SourceArn=component["TrialComponentArn"])
    assert produced["AssociationSummaries"] == []
    unwritten = sagemaker.list_artifacts(SourceUri=f"s3://{bucket}/{prefix}/train")
    assert unwritten["ArtifactSummaries"] == []


def test_a_model_package_version_gets_its_artifact_group_context_and_approval(aws, jobs) -> None:
    sagemaker = aws("sagemaker")
    group = f"{jobs['prefix']}-group"
    group_arn = sagemaker.create_model_package_group(ModelPackageGroupName=group)[
        "ModelPackageGroupArn"
    ]
    package_arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": jobs["model_uri"]}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    package = only_artifact(aws, package_arn)
    assert package["ArtifactName"].endswith("-aws-model-package")
    inputs = sagemaker.list_associations(DestinationArn=package["ArtifactArn"])
    assert {(a["SourceType"], a["SourceArn"]) for a in inputs["AssociationSummaries"]} == {
        ("Model", only_artifact(aws, jobs["model_uri"])["ArtifactArn"]),
        ("Image", only_artifact(aws, XGBOOST_IMAGE)["ArtifactArn"]),
    }
    [context] = sagemaker.list_contexts(SourceUri=group_arn)["ContextSummaries"]
    assert context["ContextType"] == "ModelGroup"
    outputs = sagemaker.list_associations(SourceArn=package["ArtifactArn"])["AssociationSummaries"]
    assert {(a["DestinationType"], a["AssociationType"]) for a in outputs} == {
        ("ModelGroup", "AssociatedWith"),
        ("Approval", "ContributedTo"),
    }
    [approval] = sagemaker.list_actions(SourceUri=package_arn)["ActionSummaries"]
    assert approval["ActionType"] == "Approval"
    assert "PendingManualApproval" in approval["ActionName"]
    # the training job that made the model is an ascendant of the package
    trained = sagemaker.query_lineage(
        StartArns=[package["ArtifactArn"]],
        Direction="Ascendants",
        IncludeEdges=False,
        Filters={"LineageTypes": ["TrialComponent"], "Types": ["TrainingJob"]},
    )
    [vertex] = trained["Vertices"]
    source = sagemaker.describe_trial_component(TrialComponentName=vertex["Arn"])["Source"]
    assert source["SourceArn"] == jobs["training"]["TrainingJobArn"]


def test_a_transform_job_reads_a_dataset_and_produces_one(aws, bucket, jobs) -> None:
    from tests.emulator.test_transform_jobs import transform

    sagemaker = aws("sagemaker")
    model = model_of_the_training_job(aws, jobs, "scoring")
    output = f"s3://{bucket}/{jobs['prefix']}/scores"
    job = transform(aws, model, jobs["train_uri"], output, DataProcessing={"InputFilter": "$[1:]"})
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    [summary] = sagemaker.list_trial_components(SourceArn=job["TransformJobArn"])[
        "TrialComponentSummaries"
    ]
    assert summary["TrialComponentName"] == f"{job['TransformJobName']}-aws-transform-job"
    assert summary["TrialComponentSource"]["SourceType"] == "SageMakerTransformJob"
    component = sagemaker.describe_trial_component(TrialComponentName=summary["TrialComponentArn"])
    assert component["Parameters"]["SageMaker.ModelName"] == {"StringValue": model}
    assert component["OutputArtifacts"] == {"SageMaker.TransformOutput": {"Value": output}}
    [read] = sagemaker.list_associations(DestinationArn=summary["TrialComponentArn"])[
        "AssociationSummaries"
    ]
    assert read["SourceArn"] == only_artifact(aws, jobs["train_uri"])["ArtifactArn"]
    [wrote] = sagemaker.list_associations(SourceArn=summary["TrialComponentArn"])[
        "AssociationSummaries"
    ]
    assert (wrote["DestinationArn"], wrote["AssociationType"]) == (
        only_artifact(aws, output)["ArtifactArn"],
        "Produced",
    )


def sdk_session(aws):
    """SDK 3's Session on the tests' SageMaker client (its responses are shape-checked too)."""
    from sagemaker.core.helper.session_helper import Session

    boto_session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return Session(boto_session=boto_session, sagemaker_client=aws("sagemaker"))


def test_sdk_lineage_table_shows_a_jobs_inputs_and_outputs(aws, jobs) -> None:
    from sagemaker.core.lineage.visualizer import LineageTableVisualizer

    viz = LineageTableVisualizer(sdk_session(aws))
    table = viz.show(processing_job_name=jobs["processing"]["ProcessingJobName"])
    rows = {tuple(row) for row in table.itertuples(index=False)}
    assert ("Input", "Image", "ContributedTo", "artifact") in {r[1:] for r in rows}
    shortened = {r[0] for r in rows if r[1] == "Output"}
    assert shortened == {"s3://..." + jobs["train_uri"][-40:]} or shortened == {jobs["train_uri"]}
    training = viz.show(training_job_name=jobs["training"]["TrainingJobName"])
    directions = sorted(zip(training["Direction"], training["Type"], strict=True))
    assert directions == [("Input", "DataSet"), ("Input", "Image"), ("Output", "Model")]


def test_sdk_model_artifact_queries_find_its_datasets_and_training_job(aws, jobs) -> None:
    """SDK 3's ModelArtifact helpers, each a QueryLineage then Describe* calls."""
    from sagemaker.core.lineage.artifact import ModelArtifact

    session = sdk_session(aws)
    model = ModelArtifact.load(
        artifact_arn=only_artifact(aws, jobs["model_uri"])["ArtifactArn"],
        sagemaker_session=session,
    )
    assert model.artifact_type == "Model"
    datasets = {artifact.source.source_uri for artifact in model.dataset_artifacts()}
    assert datasets == {jobs["train_uri"], jobs["code_uri"]}
    assert model.training_job_arns() == [jobs["training"]["TrainingJobArn"]]
    assert model.pipeline_execution_arn() is None  # trained outside any pipeline


@pytest.fixture()
def executed_pipeline(aws, bucket) -> tuple[str, dict[str, dict]]:
    """The pipelines tests' definition, run once to its end: the execution and its steps."""
    prefix = f"lineage-pipe-{uuid.uuid4().hex[:6]}"
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/code/score.py", Body=SCORE_SCRIPT)
    group = f"{prefix}-group"
    sagemaker = aws("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    sagemaker.create_pipeline(
        PipelineName=prefix,
        PipelineDefinition=json.dumps(definition(bucket, prefix)),
        RoleArn=ROLE,
        ClientRequestToken=uuid.uuid4().hex,
    )
    arn = sagemaker.start_pipeline_execution(
        PipelineName=prefix,
        PipelineParameters=[{"Name": "Score", "Value": "7"}, {"Name": "Group", "Value": group}],
    )["PipelineExecutionArn"]
    described = wait_execution(aws, arn)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    return arn, steps_of(aws, arn)


def test_sdk_lineage_table_for_each_pipeline_step(aws, executed_pipeline) -> None:
    """The tutorial notebook's lineage cell: viz.show(pipeline_execution_step=step) per step."""
    from sagemaker.core.lineage.visualizer import LineageTableVisualizer

    viz = LineageTableVisualizer(sdk_session(aws))
    _, steps = executed_pipeline
    tables = {name: viz.show(pipeline_execution_step=step) for name, step in steps.items()}
    score = tables["Score"]
    assert set(zip(score["Direction"], score["Type"], strict=True)) == {
        ("Input", "Image"),
        ("Input", "DataSet"),
        ("Output", "DataSet"),
    }
    register = tables["Register"]
    assert set(zip(register["Direction"], register["Lineage Type"], strict=True)) == {
        ("Input", "artifact"),
        ("Output", "context"),
        ("Output", "action"),
    }
    # a condition step has no lineage entity: the SDK shows nothing for it
    assert tables["Gate"] is None


def test_a_pipeline_steps_job_leads_back_to_its_execution(aws, executed_pipeline) -> None:
    """SDK lineage code finds the execution from a trial component by the job's tag."""
    from sagemaker.core.lineage.lineage_trial_component import LineageTrialComponent

    execution_arn, steps = executed_pipeline
    job_arn = steps["Score"]["Metadata"]["ProcessingJob"]["Arn"]
    [summary] = aws("sagemaker").list_trial_components(SourceArn=job_arn)["TrialComponentSummaries"]
    component = LineageTrialComponent.load(
        trial_component_name=summary["TrialComponentName"], sagemaker_session=sdk_session(aws)
    )
    assert component.pipeline_execution_arn() == execution_arn


def test_an_endpoint_descends_from_the_training_job_of_its_model(aws, jobs) -> None:
    from tests.emulator.test_endpoints import wait_for_endpoint

    sagemaker = aws("sagemaker")
    model = model_of_the_training_job(aws, jobs, "model")
    endpoint = f"{jobs['prefix']}-ep"
    sagemaker.create_endpoint_config(
        EndpointConfigName=endpoint, ProductionVariants=one_variant(model)
    )
    endpoint_arn = sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)[
        "EndpointArn"
    ]
    try:
        [context] = sagemaker.list_contexts(SourceUri=endpoint_arn)["ContextSummaries"]
        assert context["ContextType"] == "Endpoint"
        [deployment] = sagemaker.list_associations(
            DestinationArn=context["ContextArn"], SourceType="ModelDeployment"
        )["AssociationSummaries"]
        deployed = sagemaker.list_associations(DestinationArn=deployment["SourceArn"])
        assert {a["SourceType"] for a in deployed["AssociationSummaries"]} == {"Model", "Image"}
        trained = sagemaker.query_lineage(
            StartArns=[context["ContextArn"]],
            Direction="Ascendants",
            IncludeEdges=False,
            Filters={"LineageTypes": ["TrialComponent"]},
        )
        sources = {
            sagemaker.describe_trial_component(TrialComponentName=v["Arn"])["Source"]["SourceArn"]
            for v in trained["Vertices"]
        }
        assert sources == {
            jobs["training"]["TrainingJobArn"],
            jobs["processing"]["ProcessingJobArn"],
        }
        # and from the model's side, the endpoint is a descendant
        below = sagemaker.query_lineage(
            StartArns=[only_artifact(aws, jobs["model_uri"])["ArtifactArn"]],
            Direction="Descendants",
            IncludeEdges=False,
            Filters={"LineageTypes": ["Context"], "Types": ["Endpoint"]},
        )
        assert [v["Arn"] for v in below["Vertices"]] == [context["ContextArn"]]
    finally:
        wait_for_endpoint(sagemaker, endpoint)
        sagemaker.delete_endpoint(EndpointName=endpoint)


def test_lineage_survives_a_restart_and_follows_the_job_it_records(tmp_path) -> None:
    """Run as child processes, as tests/emulator/test_restart.py does: moto's state is the
    process's own, and an emulator in this process would replace the session emulator's."""
    from emulator.process import EmulatorProcess

    name = f"restart-{uuid.uuid4().hex[:6]}"
    with EmulatorProcess(tmp_path / "account", log_path=tmp_path / "first.log") as first:
        sagemaker = emulator_client(first.url, "sagemaker")
        arn = sagemaker.create_processing_job(**processing_request(name, ["sleep", "600"]))[
            "ProcessingJobArn"
        ]
        [running] = sagemaker.list_trial_components(SourceArn=arn)["TrialComponentSummaries"]
        assert running["Status"]["PrimaryStatus"] == "InProgress"
    # the emulator stopped with the job running: the job and its component end alike
    with EmulatorProcess(tmp_path / "account", log_path=tmp_path / "second.log") as second:
        sagemaker = emulator_client(second.url, "sagemaker")
        job = sagemaker.describe_processing_job(ProcessingJobName=name)
        component = sagemaker.describe_trial_component(
            TrialComponentName=running["TrialComponentName"]
        )
        assert component["Status"]["PrimaryStatus"] == job["ProcessingJobStatus"] != "InProgress"
        assert component["EndTime"] == job["ProcessingEndTime"]
        [image] = sagemaker.list_associations(DestinationArn=component["TrialComponentArn"])[
            "AssociationSummaries"
        ]
        assert image["SourceType"] == "Image"
        described = sagemaker.describe_artifact(ArtifactArn=image["SourceArn"])
        assert described["Source"]["SourceUri"] == SKLEARN_IMAGE
