"""SDK 2 client code: the SageMaker Pipelines tutorial flow, as its users write it.

Preprocess (SKLearnProcessor 0.23-1) -> Train (built-in XGBoost 1.0-1 Estimator, ``silent``
among its hyperparameters) -> Evaluate (ScriptProcessor, a PropertyFile) -> a ConditionStep on
``JsonGet`` of the accuracy whose if-branch holds a CreateModelStep and a RegisterModel; then
``upsert`` / ``start`` / ``wait``, the evaluation report, the lineage table of every step, and
a second execution whose threshold the model cannot pass.
Runs in the SDK 2 environment (tests/support/sdk2_environment.py); reports what it found.

Usage: sdk2_pipeline_tutorial.py BUCKET DATA_CSV PIPELINE_NAME GROUP_NAME THRESHOLD
"""

import json
import sys

import sagemaker
from client_support import ROLE, execution_outcome, report, run_pipeline, sdk_session
from sagemaker.estimator import Estimator
from sagemaker.inputs import CreateModelInput, TrainingInput
from sagemaker.lineage.visualizer import LineageTableVisualizer
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.s3 import S3Downloader
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.functions import JsonGet
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.step_collections import RegisterModel
from sagemaker.workflow.steps import CreateModelStep, ProcessingStep, TrainingStep

bucket, data_csv, pipeline_name, group_name, threshold = sys.argv[1:6]

session = sdk_session(sagemaker.session.Session, bucket)
region = session.boto_region_name
prefix = f"s3://{bucket}/{pipeline_name}"
input_uri = session.upload_data(data_csv, bucket=bucket, key_prefix=f"{pipeline_name}/raw")

instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
instance_type = ParameterString(name="ProcessingInstanceType", default_value="ml.m5.xlarge")
approval = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
input_data = ParameterString(name="InputData", default_value=input_uri)
accuracy_threshold = ParameterFloat(name="AccuracyThreshold", default_value=float(threshold))

sklearn_processor = SKLearnProcessor(
    framework_version="0.23-1",
    role=ROLE,
    instance_type=instance_type,
    instance_count=instance_count,
    base_job_name="adult-preprocess",
    sagemaker_session=session,
)
step_process = ProcessingStep(
    name="Preprocess",
    processor=sklearn_processor,
    inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
    outputs=[
        ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}")
        for name in ("train", "validation", "test")
    ],
    code="job_scripts/preprocessing.py",
    job_arguments=["--seed", "7"],
)

image_uri = sagemaker.image_uris.retrieve(framework="xgboost", region=region, version="1.0-1")
xgb_train = Estimator(
    image_uri=image_uri,
    role=ROLE,
    instance_count=1,
    instance_type="ml.m5.xlarge",
    output_path=f"{prefix}/model",
    sagemaker_session=session,
)
xgb_train.set_hyperparameters(
    objective="binary:logistic",
    num_round=50,
    max_depth=5,
    eta=0.2,
    subsample=0.8,
    silent=0,
    eval_metric="logloss",
)
outputs = step_process.properties.ProcessingOutputConfig.Outputs
step_train = TrainingStep(
    name="Train",
    estimator=xgb_train,
    inputs={
        channel: TrainingInput(s3_data=outputs[channel].S3Output.S3Uri, content_type="text/csv")
        for channel in ("train", "validation")
    },
)

script_eval = ScriptProcessor(
    image_uri=image_uri,
    command=["python3"],
    role=ROLE,
    instance_type=instance_type,
    instance_count=1,
    base_job_name="adult-evaluate",
    sagemaker_session=session,
)
evaluation_report = PropertyFile(
    name="EvaluationReport", output_name="evaluation", path="evaluation.json"
)
evaluation_uri = f"{prefix}/evaluation"
step_eval = ProcessingStep(
    name="Evaluate",
    processor=script_eval,
    inputs=[
        ProcessingInput(
            source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
            destination="/opt/ml/processing/model",
        ),
        ProcessingInput(
            source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test"
        ),
    ],
    outputs=[
        ProcessingOutput(
            output_name="evaluation",
            source="/opt/ml/processing/evaluation",
            destination=evaluation_uri,
        )
    ],
    code="job_scripts/evaluation.py",
    property_files=[evaluation_report],
)

model = Model(
    image_uri=image_uri,
    model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
    role=ROLE,
    sagemaker_session=session,
)
step_create_model = CreateModelStep(
    name="CreateModel", model=model, inputs=CreateModelInput(instance_type="ml.m5.large")
)
step_register = RegisterModel(
    name="Register",
    estimator=xgb_train,
    model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
    content_types=["text/csv"],
    response_types=["text/csv"],
    inference_instances=["ml.t2.medium", "ml.m5.large"],
    transform_instances=["ml.m5.large"],
    model_package_group_name=group_name,
    approval_status=approval,
    model_metrics=ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=f"{evaluation_uri}/evaluation.json", content_type="application/json"
        )
    ),
)
accuracy = JsonGet(
    step_name=step_eval.name, property_file=evaluation_report, json_path="metrics.accuracy.value"
)
step_cond = ConditionStep(
    name="AccuracyCheck",
    conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=accuracy_threshold)],
    if_steps=[step_register, step_create_model],
    else_steps=[],
)

pipeline, execution = run_pipeline(
    Pipeline,
    session,
    ROLE,
    pipeline_name,
    [instance_type, instance_count, approval, input_data, accuracy_threshold],
    [step_process, step_train, step_eval, step_cond],
)

description = execution.describe()
steps = execution.list_steps()
evaluation = json.loads(
    S3Downloader.read_file(f"{evaluation_uri}/evaluation.json", sagemaker_session=session)
)
packages = session.sagemaker_client.list_model_packages(ModelPackageGroupName=group_name)
created_models = [
    step["Metadata"]["Model"]["Arn"].split("/")[-1]
    for step in steps
    if "Model" in step.get("Metadata", {})
]
result = {
    "status": description["PipelineExecutionStatus"],
    **execution_outcome(steps),
    "evaluation": evaluation,
    "models": created_models,
    "versions": [
        (package["ModelPackageVersion"], package["ModelApprovalStatus"])
        for package in packages["ModelPackageSummaryList"]
    ],
}

# The lineage table of every step, as the tutorial's last cell shows it. Its failure is
# reported, not raised, so that the test can check everything above first.
try:
    viz = LineageTableVisualizer(session)
    result["lineage"] = {}
    for step in reversed(steps):
        table = viz.show(pipeline_execution_step=step)  # None for a step without lineage
        result["lineage"][step["StepName"]] = None if table is None else table.to_dict("records")
except Exception as exc:
    result["lineage_error"] = f"{type(exc).__name__}: {exc}"

# A second execution that the model cannot pass: the condition's else-branch (empty) runs, so
# nothing is created or registered, and the execution still succeeds.
strict = pipeline.start(parameters={"AccuracyThreshold": 0.999})
strict.wait(delay=2, max_attempts=300)
strict_steps = strict.list_steps()
result["strict"] = {
    "status": strict.describe()["PipelineExecutionStatus"],
    **execution_outcome(strict_steps),
    "versions": [
        package["ModelPackageVersion"]
        for package in session.sagemaker_client.list_model_packages(
            ModelPackageGroupName=group_name
        )["ModelPackageSummaryList"]
    ],
}
report(result)
