"""SDK 3 client code: the same tutorial flow with SDK 3's classes.

ScriptProcessor on the scikit-learn 1.2-1 image -> a ModelTrainer with the built-in XGBoost
1.7-1 -> a ScriptProcessor evaluation (PropertyFile) -> a ConditionStep on ``JsonGet`` whose
if-branch creates the model and registers it (ModelStep of ModelBuilder.build() and
.register()); ``upsert`` / ``start`` / ``wait``. Runs with the project's SDK 3; reports what it
found.

Usage: sdk3_pipeline.py BUCKET DATA_CSV PIPELINE_NAME GROUP_NAME THRESHOLD
"""

import json
import sys

from client_support import (
    ensure_execution_role,
    execution_outcome,
    report,
    run_pipeline,
    sdk_session,
)
from sagemaker.core import image_uris
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import (
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
)
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.functions import JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData

bucket, data_csv, pipeline_name, group_name, threshold = sys.argv[1:6]
INSTANCE = "ml.m5.xlarge"

session = sdk_session(Session, bucket)
pipeline_session = sdk_session(PipelineSession, bucket, runtime=False)
sagemaker_client = session.sagemaker_client
region = session.boto_region_name
# SDK 3 checks the role's trust policy and permissions before it builds a job.
ROLE = ensure_execution_role(session.boto_session.client("iam"))
prefix = f"s3://{bucket}/{pipeline_name}"
input_uri = session.upload_data(data_csv, bucket=bucket, key_prefix=f"{pipeline_name}/raw")

input_data = ParameterString(name="InputDataUrl", default_value=input_uri)
approval = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
accuracy_threshold = ParameterFloat(name="AccuracyThreshold", default_value=float(threshold))


def s3_output(name: str) -> ProcessingOutput:
    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(
            s3_uri=f"{prefix}/{name}",
            local_path=f"/opt/ml/processing/{name}",
            s3_upload_mode="EndOfJob",
        ),
    )


def s3_input(name: str, source) -> ProcessingInput:
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=source,
            local_path=f"/opt/ml/processing/{name}",
            s3_data_type="S3Prefix",
            s3_input_mode="File",
        ),
    )


def script_processor(image_uri: str, job: str) -> ScriptProcessor:
    return ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        instance_type=INSTANCE,
        instance_count=1,
        base_job_name=f"sdk3-{job}",
        sagemaker_session=pipeline_session,
        role=ROLE,
    )


preprocessor = script_processor(
    image_uris.retrieve(framework="sklearn", region=region, version="1.2-1"), "preprocess"
)
step_process = ProcessingStep(
    name="Preprocess",
    step_args=preprocessor.run(
        inputs=[s3_input("input", input_data)],
        outputs=[s3_output(name) for name in ("train", "validation", "test")],
        code="job_scripts/preprocessing.py",
        arguments=["--seed", "11"],
    ),
)

xgboost_image = image_uris.retrieve(framework="xgboost", region=region, version="1.7-1")
outputs = step_process.properties.ProcessingOutputConfig.Outputs
trainer = ModelTrainer(
    training_image=xgboost_image,
    compute=Compute(instance_type=INSTANCE, instance_count=1),
    base_job_name="sdk3-train",
    sagemaker_session=pipeline_session,
    role=ROLE,
    hyperparameters={
        "objective": "binary:logistic",
        "num_round": 50,
        "max_depth": 5,
        "eta": 0.2,
        "eval_metric": "logloss",
    },
    input_data_config=[
        InputData(
            channel_name=name, data_source=outputs[name].S3Output.S3Uri, content_type="text/csv"
        )
        for name in ("train", "validation")
    ],
)
step_train = TrainingStep(name="Train", step_args=trainer.train())
model_data = step_train.properties.ModelArtifacts.S3ModelArtifacts

evaluator = script_processor(xgboost_image, "evaluate")
evaluation_report = PropertyFile(
    name="EvaluationReport", output_name="evaluation", path="evaluation.json"
)
step_eval = ProcessingStep(
    name="Evaluate",
    step_args=evaluator.run(
        inputs=[s3_input("model", model_data), s3_input("test", outputs["test"].S3Output.S3Uri)],
        outputs=[s3_output("evaluation")],
        code="job_scripts/evaluation.py",
    ),
    property_files=[evaluation_report],
)

builder = ModelBuilder(
    s3_model_data_url=model_data,
    image_uri=xgboost_image,
    sagemaker_session=pipeline_session,
    role_arn=ROLE,
)
step_create = ModelStep(name="CreateModel", step_args=builder.build())
step_register = ModelStep(
    name="RegisterModel",
    step_args=builder.register(
        model_package_group_name=group_name,
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.m5.large"],
        approval_status=approval,
    ),
)
accuracy = JsonGet(
    step_name=step_eval.name, property_file=evaluation_report, json_path="metrics.accuracy.value"
)
step_cond = ConditionStep(
    name="AccuracyCheck",
    conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=accuracy_threshold)],
    if_steps=[step_create, step_register],  # its else-branch: nothing
)

_, execution = run_pipeline(
    Pipeline,
    pipeline_session,
    ROLE,
    pipeline_name,
    [input_data, approval, accuracy_threshold],
    [step_process, step_train, step_eval, step_cond],
)

steps = execution.list_steps()
evaluation = json.loads(session.read_s3_file(bucket, f"{pipeline_name}/evaluation/evaluation.json"))
packages = sagemaker_client.list_model_packages(ModelPackageGroupName=group_name)
report(
    {
        "status": execution.describe()["PipelineExecutionStatus"],
        **execution_outcome(steps),
        "evaluation": evaluation,
        "models": [
            s["Metadata"]["Model"]["Arn"] for s in steps if "Model" in s.get("Metadata", {})
        ],
        "versions": [
            (package["ModelPackageVersion"], package["ModelApprovalStatus"])
            for package in packages["ModelPackageSummaryList"]
        ],
    }
)
