"""SDK 2 client code: a framework XGBoost script, its model repacked with an inference script.

A pipeline as SDK 2 users write one for script mode: ``sagemaker.xgboost.XGBoost`` (1.7-1)
with ``entry_point="train.py"`` and a ``source_dir`` holding a ``requirements.txt`` (naming the
user's own package, a wheel in that source dir) in a TrainingStep; an ``XGBoostModel`` with
``entry_point="inference.py"`` (``model_fn`` and ``transform_fn``) and a ``source_dir`` whose
requirements.txt names another wheel there, with network isolation, which makes the SDK repack
the trained model with the source dir (a ``RepackModel`` training job) in both a ModelStep of
``.create()`` and a ModelStep of ``.register()``; and a TransformStep whose Transformer uses
the created model. Reports every step's status, the jobs' outputs, the repacked archive's
members and the transform output. Runs in the SDK 2 environment.

Usage: sdk2_framework_repack.py BUCKET DATA_CSV PIPELINE_NAME GROUP_NAME
"""

import io
import json
import sys
import tarfile

import numpy as np
from client_support import (
    ROLE,
    execution_outcome,
    numeric_adult,
    report,
    run_pipeline,
    sdk_session,
    upload_channels,
    write_wheel,
)
from sagemaker.inputs import TrainingInput
from sagemaker.s3 import S3Downloader
from sagemaker.transformer import Transformer
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.steps import TrainingStep, TransformStep
from sagemaker.xgboost import XGBoost, XGBoostModel

bucket, data_csv, pipeline_name, group_name = sys.argv[1:5]
INSTANCE = "ml.m5.large"
TRAIN_DIR = "job_scripts/xgboost_framework"
INFERENCE_DIR = "job_scripts/xgboost_inference"
SCORING_SOURCE = 'VERSION = "1.0"\n\n\ndef label_of(score):\n    return int(score > 0.5)\n'
PACKAGE_SOURCE = (
    'VERSION = "1.0"\nFEATURES = ["age", "education", "gain", "loss", "hours", "married"]\n'
)

session = sdk_session(PipelineSession, bucket, runtime=False)
prefix = f"s3://{bucket}/{pipeline_name}"

# The user's own packages, built beforehand: each source dir's requirements.txt names its wheel.
write_wheel(TRAIN_DIR, "adult_features", PACKAGE_SOURCE)
write_wheel(INFERENCE_DIR, "adult_scoring", SCORING_SOURCE)

frame = numeric_adult(data_csv)
train, test = np.split(frame.sample(frac=1, random_state=5), [2400])
test = test[:300]
uris = upload_channels(session, bucket, pipeline_name, {"train": train})
test.drop(columns="label").to_csv("batch.csv", header=False, index=False)
batch_uri = session.upload_data("batch.csv", bucket=bucket, key_prefix=f"{pipeline_name}/batch-in")

estimator = XGBoost(
    entry_point="train.py",
    source_dir=TRAIN_DIR,
    framework_version="1.7-1",
    role=ROLE,
    instance_count=1,
    instance_type=INSTANCE,
    output_path=f"{prefix}/model",
    hyperparameters={"num_round": 20, "max_depth": 4, "eta": 0.3},
    sagemaker_session=session,
)
step_train = TrainingStep(
    name="Train",
    step_args=estimator.fit({"train": TrainingInput(uris["train"], content_type="text/csv")}),
)

model = XGBoostModel(
    model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
    entry_point="inference.py",
    source_dir=INFERENCE_DIR,
    framework_version="1.7-1",
    role=ROLE,
    enable_network_isolation=True,  # the XGBoost model repacks its code into the archive
    sagemaker_session=session,
)
step_create = ModelStep(name="Model", step_args=model.create(instance_type=INSTANCE))
step_register = ModelStep(
    name="Register",
    step_args=model.register(
        content_types=["text/csv"],
        response_types=["application/jsonlines"],
        inference_instances=[INSTANCE],
        transform_instances=[INSTANCE],
        model_package_group_name=group_name,
        approval_status="Approved",
    ),
)

transformer = Transformer(
    model_name=step_create.properties.ModelName,
    instance_count=1,
    instance_type=INSTANCE,
    accept="application/jsonlines",
    assemble_with="Line",
    output_path=f"{prefix}/batch-out",
    sagemaker_session=session,
)
step_transform = TransformStep(
    name="Transform",
    step_args=transformer.transform(data=batch_uri, content_type="text/csv", split_type="Line"),
)

pipeline, execution = run_pipeline(
    Pipeline,
    session,
    ROLE,
    pipeline_name,
    [],
    [step_train, step_create, step_register, step_transform],
)

steps = execution.list_steps()
client = session.sagemaker_client
result = {
    "status": execution.describe()["PipelineExecutionStatus"],
    **execution_outcome(steps),
    "metadata": {step["StepName"]: step.get("Metadata", {}) for step in steps},
}


def archive_of(uri):
    """The members of a model.tar.gz on S3, and the JSON files among them."""
    body = S3Downloader.read_bytes(uri, sagemaker_session=session)
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        members = sorted(m.name for m in archive.getmembers() if m.isfile())
        seen = {
            m.name: json.load(archive.extractfile(m))
            for m in archive.getmembers()
            if m.isfile() and m.name.endswith(".json")
        }
    return {"members": members, "json": seen}


# Every training job the pipeline ran (Train and the RepackModel steps): how it ran, its model.
result["training"] = {}
for step in steps:
    job = step.get("Metadata", {}).get("TrainingJob")
    if not job or step["StepStatus"] != "Succeeded":
        continue
    described = client.describe_training_job(TrainingJobName=job["Arn"].split("/")[-1])
    artifacts = described["ModelArtifacts"]["S3ModelArtifacts"]
    result["training"][step["StepName"]] = {
        "image": described["AlgorithmSpecification"]["TrainingImage"],
        "hyperparameters": described["HyperParameters"],
        "model_data": artifacts,
        "archive": archive_of(artifacts),
    }

# The model the ModelStep created and the version it registered: their containers.
models = [s["Metadata"]["Model"]["Arn"].split("/")[-1] for s in steps if "Model" in s["Metadata"]]
result["models"] = {
    name: {
        "container": client.describe_model(ModelName=name)["PrimaryContainer"],
        "isolated": client.describe_model(ModelName=name)["EnableNetworkIsolation"],
    }
    for name in models
}
packages = client.list_model_packages(ModelPackageGroupName=group_name)["ModelPackageSummaryList"]
result["packages"] = [
    {
        "version": package["ModelPackageVersion"],
        "status": package["ModelApprovalStatus"],
        "containers": client.describe_model_package(ModelPackageName=package["ModelPackageArn"])[
            "InferenceSpecification"
        ]["Containers"],
    }
    for package in packages
]

# What transform_fn wrote for each row, and the rows it was given.
transforms = [
    s["Metadata"]["TransformJob"]["Arn"] for s in steps if "TransformJob" in s["Metadata"]
]
if transforms:
    described = client.describe_transform_job(TransformJobName=transforms[0].split("/")[-1])
    output = described["TransformOutput"]["S3OutputPath"].rstrip("/") + "/batch.csv.out"
    result["transform"] = {
        "status": described["TransformJobStatus"],
        "lines": S3Downloader.read_file(output, sagemaker_session=session).splitlines(),
        "rows": len(test),
    }
report(result)
