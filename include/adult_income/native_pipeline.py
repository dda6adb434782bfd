"""The pipeline as a SageMaker Pipeline definition, built with the SageMaker Python SDK.

The job requests are the Airflow DAG's own (sagemaker_requests.py), so both paths run the same
scripts, images and hyperparameters. What the DAG decides at run time becomes pipeline
expressions here:

- conf values -> pipeline parameters (``{"Get": "Parameters.Eta"}``);
- the run's S3 prefix -> ``Std:Join`` of the pipeline prefix and the execution id;
- the trained model's S3 URI -> ``{"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}``;
  with tuning, a Tune step (a TuningStep: the DAG's CreateHyperParameterTuningJob body) takes
  Train's place and the model is the best training job's, found as
  ``TuningStep.get_top_model_s3_uri(0, ...)`` finds it: the training output path, then
  ``{"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"}`` (the service keeps the
  summaries best first), then ``output/model.tar.gz``;
- the gate -> a ConditionStep on ``Std:JsonGet`` of evaluation.json (a PropertyFile): accuracy
  >= AccuracyThreshold and accuracy >= ``metrics.champion_floor`` (the champion's accuracy on
  this test set minus MaxRegression, which evaluate.py computes: conditions cannot subtract);
  the champion comes in as parameters the DAG sets per execution (ChampionModelUri, ...), by
  default the no-champion marker uploaded beside the scripts; its if-branch creates the model
  and registers a version; its else-branch does nothing (the execution succeeds and registers
  nothing) or, with ``fail_on_reject``, ends in a FailStep.

sagemaker_requests.py's builders format strings, so placeholders (``{{name}}``) stand for the
expressions while they build, and ``substitute`` swaps each for the SDK's pipeline variable (or
a Join of text and variables) afterwards. Imported only at task run time: the SDK is heavy.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

# sagemaker.mlops imports modules that create a boto3 client in a class body (no call is made
# with it); without a region that import fails, so give it one when the environment has none.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import (
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from sagemaker.core.workflow.properties import Properties, PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import ConfigurableRetryStep, StepTypeEnum

from include.adult_income import champion, sagemaker_requests, tuning_requests
from include.adult_income.native_parameters import HYPERPARAMETER_PARAMETERS, executions_uri

PLACEHOLDER = re.compile(r"\{\{([A-Za-z0-9_.]+)\}\}")
EVALUATION_REPORT = "EvaluationReport"
ACCURACY_PATH = "metrics.accuracy.value"
CHAMPION_FLOOR_PATH = "metrics.champion_floor.value"
# Job request fields the pipeline service fills in itself (it names each step's resources).
NAME_FIELDS = {"ProcessingJobName", "TrainingJobName", "HyperParameterTuningJobName", "ModelName"}
# What a TuningStep's properties describe (the SDK's TuningStep declares the same two shapes).
TUNING_PROPERTY_SHAPES = [
    "DescribeHyperParameterTuningJobResponse",
    "ListTrainingJobsForHyperParameterTuningJobResponse",
]


@dataclass(frozen=True)
class PipelineSettings:
    """What the definition needs besides the parameters (fixed per deployment)."""

    pipeline_name: str
    role_arn: str
    root_uri: str  # s3://<bucket>/<prefix>
    code_uri: str  # where preprocess.py, evaluate.py and inference.py were uploaded
    sklearn_image: str
    xgboost_image: str
    # "builtin": the XGBoost algorithm; "script": train.py from <code_uri>/sourcedir.tar.gz
    training_mode: str = "builtin"
    # None: the Train step; a tuning_requests.STRATEGIES member: a Tune step searching with it
    tuning_strategy: str | None = None

    @property
    def no_champion_uri(self) -> str:
        """The marker the champion inputs read when the group has no approved version."""
        return f"{self.code_uri}/{champion.NO_CHAMPION_MARKER}"

    @property
    def executions_uri(self) -> str:
        """Each execution writes under ``<executions_uri>/<execution id>/``."""
        return executions_uri(self.root_uri, self.pipeline_name)


def parameters(no_champion_uri: str) -> dict[str, Any]:
    """The pipeline's parameters, named as the SDK examples name them, with the DAG's defaults."""
    hyper = sagemaker_requests.hyperparameters_for({})  # strings, formatted as the DAG formats them
    return {
        "InputDataUrl": ParameterString("InputDataUrl"),
        "AccuracyThreshold": ParameterFloat("AccuracyThreshold", default_value=0.8),
        # Text like the hyperparameters: it only reaches the evaluate job's arguments.
        "MaxRegression": ParameterString("MaxRegression", default_value="0"),
        "ChampionModelUri": ParameterString("ChampionModelUri", default_value=no_champion_uri),
        "ChampionCodeUri": ParameterString("ChampionCodeUri", default_value=no_champion_uri),
        "ChampionArn": ParameterString("ChampionArn", default_value=""),
        "ModelApprovalStatus": ParameterString(
            "ModelApprovalStatus",
            default_value="PendingManualApproval",
            enum_values=["PendingManualApproval", "Approved"],
        ),
        "ModelPackageGroupName": ParameterString(
            "ModelPackageGroupName", default_value="adult-income-xgboost"
        ),
        "ProcessingInstanceType": ParameterString(
            "ProcessingInstanceType", default_value="ml.m5.xlarge"
        ),
        "ProcessingInstanceCount": ParameterInteger("ProcessingInstanceCount", default_value=1),
        "TrainingInstanceType": ParameterString(
            "TrainingInstanceType", default_value="ml.m5.xlarge"
        ),
        "TrainingInstanceCount": ParameterInteger("TrainingInstanceCount", default_value=1),
        "Seed": ParameterInteger("Seed", default_value=42),
        "NumRound": ParameterString("NumRound", default_value=hyper["num_round"]),
        "MaxDepth": ParameterString("MaxDepth", default_value=hyper["max_depth"]),
        "Eta": ParameterString("Eta", default_value=hyper["eta"]),
        "Subsample": ParameterString("Subsample", default_value=hyper["subsample"]),
        "MinChildWeight": ParameterString(
            "MinChildWeight", default_value=hyper["min_child_weight"]
        ),
        "Gamma": ParameterString("Gamma", default_value=hyper["gamma"]),
    }


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """Replace ``{{name}}`` placeholders in a request with pipeline variables."""
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    parts: list[Any] = []
    position = 0
    for match in PLACEHOLDER.finditer(value):
        if match.start() > position:
            parts.append(value[position : match.start()])
        if match[1] not in variables:
            raise KeyError(f"no pipeline variable for placeholder {match[0]}")
        parts.append(variables[match[1]])
        position = match.end()
    if position < len(value):
        parts.append(value[position:])
    if len(parts) == 1 and not isinstance(parts[0], str):
        return parts[0]
    return Join(on="", values=parts)


class RequestStep(ConfigurableRetryStep):
    """A step whose Arguments are one of sagemaker_requests.py's bodies (pipeline variables inside).

    The SDK's own job steps take ``step_args`` recorded from its Processor / ModelTrainer /
    HyperparameterTuner / ModelBuilder objects; building from the DAG's request bodies instead is
    what keeps the two paths from drifting apart.
    """

    def __init__(
        self,
        name: str,
        step_type: StepTypeEnum,
        arguments: dict[str, Any],
        properties_shapes: list[str],
        property_files: list[PropertyFile] | None = None,
        depends_on: list[str] | None = None,
    ) -> None:
        # The jobs exchange data through the run's S3 prefix, not through step properties, so
        # the order is explicit.
        super().__init__(name, step_type, None, None, depends_on, None)
        self._arguments = {k: v for k, v in arguments.items() if k not in NAME_FIELDS}
        self.property_files = property_files or []
        self._properties = Properties(step_name=name, step=self, shape_names=properties_shapes)

    @property
    def arguments(self) -> dict[str, Any]:
        return self._arguments

    @property
    def properties(self) -> Properties:
        return self._properties

    def to_request(self) -> dict[str, Any]:
        request = super().to_request()
        if self.property_files:
            request["PropertyFiles"] = [f.expr for f in self.property_files]
        return request


def tuning_parameters() -> dict[str, Any]:
    """The tuning pipelines' own parameters: the search's size and its objective (the strategy
    shapes the request, so it is a build option). The objective's direction is a parameter of
    its own because a definition cannot look it up; native_parameters sets both together."""
    return {
        "TuningMaxJobs": ParameterInteger("TuningMaxJobs", default_value=8),
        "TuningMaxParallelJobs": ParameterInteger("TuningMaxParallelJobs", default_value=2),
        "TuningObjective": ParameterString(
            "TuningObjective",
            default_value=tuning_requests.DEFAULT_OBJECTIVE,
            enum_values=list(tuning_requests.OBJECTIVES),
        ),
        "TuningObjectiveType": ParameterString(
            "TuningObjectiveType",
            default_value=tuning_requests.OBJECTIVES[tuning_requests.DEFAULT_OBJECTIVE],
            enum_values=sorted(set(tuning_requests.OBJECTIVES.values())),
        ),
    }


def tuning_body(training_body: dict[str, Any], strategy: str) -> dict[str, Any]:
    """The DAG's CreateHyperParameterTuningJob for ``training_body``, its limits, objective and
    seed as placeholders of the pipeline parameters."""
    body = tuning_requests.tuning_job_request(
        tuning_job_name="",
        training_request=training_body,
        max_jobs=1,  # placeholders below: the builder checks numbers
        max_parallel_jobs=1,
        strategy=strategy,
    )
    config = body["HyperParameterTuningJobConfig"]
    config["ResourceLimits"]["MaxParallelTrainingJobs"] = "{{TuningMaxParallelJobs}}"
    if "MaxNumberOfTrainingJobs" in config["ResourceLimits"]:  # Grid runs its whole grid
        config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = "{{TuningMaxJobs}}"
    config["HyperParameterTuningJobObjective"] = {
        "Type": "{{TuningObjectiveType}}",
        "MetricName": "{{TuningObjective}}",
    }
    config["RandomSeed"] = "{{Seed}}"
    return body


def build_pipeline(settings: PipelineSettings, *, fail_on_reject: bool = False) -> Pipeline:
    """The SDK Pipeline object of the pipeline's definition."""
    params = parameters(settings.no_champion_uri)
    if settings.tuning_strategy:
        params.update(tuning_parameters())
    variables: dict[str, Any] = dict(params)
    variables["execution_id"] = ExecutionVariables.PIPELINE_EXECUTION_ID
    layout = sagemaker_requests.RunLayout(
        input_uri="{{InputDataUrl}}",
        run_uri=f"{settings.executions_uri}/{{{{execution_id}}}}",
        code_prefix=settings.code_uri,
    )

    def job_step(
        name: str, step_type: StepTypeEnum, body: dict[str, Any], shape: str, **options: Any
    ) -> RequestStep:
        return RequestStep(name, step_type, substitute(body, variables), [shape], **options)

    def job_body(builder: Any, image_uri: str, **arguments: Any) -> dict[str, Any]:
        """One of sagemaker_requests.py's job bodies; the service names the job itself."""
        return builder(
            job_name="", image_uri=image_uri, role_arn=settings.role_arn, layout=layout, **arguments
        )

    processing = {
        "instance_type": "{{ProcessingInstanceType}}",
        "instance_count": "{{ProcessingInstanceCount}}",
    }
    preprocess = job_step(
        "Preprocess",
        StepTypeEnum.PROCESSING,
        job_body(
            sagemaker_requests.preprocess_request,
            settings.sklearn_image,
            seed="{{Seed}}",
            **processing,
        ),
        "DescribeProcessingJobResponse",
    )
    hyperparameters = sagemaker_requests.hyperparameters_for({})
    for param, key in HYPERPARAMETER_PARAMETERS.items():
        hyperparameters[key] = f"{{{{{param}}}}}"
    hyperparameters["seed"] = "{{Seed}}"
    script = settings.training_mode == "script"
    if script:  # JSON-encoded values: '"{{Eta}}"' becomes a Join of quotes and the parameter
        hyperparameters = sagemaker_requests.script_mode_hyperparameters(
            hyperparameters, settings.code_uri
        )
    training_body = job_body(
        sagemaker_requests.training_request,
        settings.xgboost_image,
        hyperparameters=hyperparameters,
        instance_type="{{TrainingInstanceType}}",
        instance_count="{{TrainingInstanceCount}}",
        metric_definitions=tuning_requests.METRIC_DEFINITIONS if script else None,
    )
    if settings.tuning_strategy:
        train = RequestStep(
            "Tune",
            StepTypeEnum.TUNING,
            substitute(tuning_body(training_body, settings.tuning_strategy), variables),
            TUNING_PROPERTY_SHAPES,
            depends_on=[preprocess.name],
        )
        variables["best_training_job"] = train.properties.TrainingJobSummaries[0].TrainingJobName
        model_data_url = layout.training_artifact_uri("{{best_training_job}}")
    else:
        train = job_step(
            "Train",
            StepTypeEnum.TRAINING,
            training_body,
            "DescribeTrainingJobResponse",
            depends_on=[preprocess.name],
        )
        variables["trained_model"] = train.properties.ModelArtifacts.S3ModelArtifacts
        model_data_url = "{{trained_model}}"
    report = PropertyFile(name=EVALUATION_REPORT, output_name="evaluation", path="evaluation.json")
    evaluate = job_step(
        "Evaluate",
        StepTypeEnum.PROCESSING,
        job_body(
            sagemaker_requests.evaluate_request,
            settings.xgboost_image,
            model_artifact_uri=model_data_url,
            champion_model_uri="{{ChampionModelUri}}",
            champion_code_uri="{{ChampionCodeUri}}",
            champion_arn="{{ChampionArn}}",
            max_regression="{{MaxRegression}}",
            **processing,
        ),
        "DescribeProcessingJobResponse",
        property_files=[report],
        depends_on=[preprocess.name],
    )
    accuracy = JsonGet(step_name=evaluate.name, property_file=report, json_path=ACCURACY_PATH)
    champion_floor = JsonGet(
        step_name=evaluate.name, property_file=report, json_path=CHAMPION_FLOOR_PATH
    )
    # What serves the model, in the created model and in the registered version alike.
    serving = {
        "image_uri": settings.xgboost_image,
        "model_data_url": model_data_url,
        "code_uri": layout.inference_code_uri,
    }
    create_model = job_step(
        "CreateModel",
        StepTypeEnum.CREATE_MODEL,
        sagemaker_requests.model_request(model_name="", role_arn=settings.role_arn, **serving),
        "DescribeModelOutput",
    )
    register = job_step(
        "RegisterModel",
        StepTypeEnum.REGISTER_MODEL,
        sagemaker_requests.model_package_request(
            group_name="{{ModelPackageGroupName}}",
            **serving,
            evaluation_json_uri=f"{layout.evaluation_uri}/evaluation.json",
            approval_status="{{ModelApprovalStatus}}",
            metadata={
                "pipeline": settings.pipeline_name,
                "execution_id": "{{execution_id}}",
            },
            description=f"XGBoost on UCI Adult, {settings.pipeline_name} execution "
            "{{execution_id}}",
        ),
        "DescribeModelPackageOutput",
    )
    else_steps = []
    if fail_on_reject:
        else_steps.append(
            FailStep(
                name="AccuracyBelowThreshold",
                error_message=Join(
                    on=" ",
                    values=[
                        "accuracy",
                        accuracy,
                        "is below the threshold",
                        params["AccuracyThreshold"],
                        "or below the champion's floor",
                        champion_floor,
                    ],
                ),
            )
        )
    gate = ConditionStep(
        name="AccuracyGate",
        conditions=[
            ConditionGreaterThanOrEqualTo(left=accuracy, right=params["AccuracyThreshold"]),
            ConditionGreaterThanOrEqualTo(left=accuracy, right=champion_floor),
        ],
        if_steps=[create_model, register],
        else_steps=else_steps,
    )
    return Pipeline(
        name=settings.pipeline_name,
        parameters=list(params.values()),
        steps=[preprocess, train, evaluate, gate],
        pipeline_experiment_config=None,
        sagemaker_session=offline_session(),
    )


def offline_session() -> Any:
    """An SDK session for compiling the definition only: no AWS call is made with it."""
    import boto3
    from sagemaker.core.helper.session_helper import Session

    boto = boto3.session.Session(
        aws_access_key_id="unused", aws_secret_access_key="unused", region_name="us-east-1"
    )
    return Session(boto_session=boto, default_bucket="unused")


def definition(settings: PipelineSettings, *, fail_on_reject: bool = False) -> dict[str, Any]:
    """The pipeline definition JSON as a dict (what CreatePipeline's PipelineDefinition holds)."""
    return json.loads(build_pipeline(settings, fail_on_reject=fail_on_reject).definition())
