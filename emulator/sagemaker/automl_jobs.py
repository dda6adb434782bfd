"""AutoML (Autopilot) jobs on tabular CSV: Create/Describe/List/Stop AutoMLJob (and the V2 API),
ListCandidatesForAutoMLJob — a small candidate search that really runs.

What a job does, step by step as its AutoMLJobSecondaryStatus shows it:

- ``AnalyzingData``: the input objects (CSV with a header) are read; the target attribute must be
  a column; rows without a target are dropped; at least 500 rows must remain (Autopilot's
  minimum). The problem type is the request's, else inferred: a target that is not numeric, or
  whole numbers with at most 100 distinct values, is classification (binary for two values),
  anything else regression. The objective is the request's, else Autopilot's default for the
  type (F1 binary, Accuracy multiclass, MSE regression).
- ``FeatureEngineering``: a random split (``DataSplitConfig.ValidationFraction``, default 0.2, or
  a ``validation`` channel) is encoded for XGBoost from the training split only: numeric columns
  as they are, text columns as the index of their category; labels as class indexes. The split
  and the feature spec are written under ``<S3OutputPath>/<job>/``.
- ``ModelTuning``: up to ``MaxCandidates`` (at most 3 here) built-in XGBoost 1.7-1 training jobs
  with different depths and learning rates, launched through the engine's own CreateTrainingJob
  as Autopilot launches its tuning job's (each with the experiment trial SageMaker makes). Each
  finished candidate is scored on the validation split, in its image's environment, by the
  objective; its model is packed with an inference script (algorithms/automl_inference.py)
  into one container that takes raw CSV rows and answers the predicted label.
- The best candidate is BestCandidate; the job ends ``Completed`` (``MaxCandidatesReached``).
  ``MaxAutoMLJobRuntimeInSeconds`` elapsed: the running candidates are stopped and the job ends
  ``Stopped`` (``MaxAutoMLJobRuntimeReached``) with the best finished candidate if any, as AWS
  documents; StopAutoMLJob likewise ends it ``Stopped``; stopping a job that has ended is
  refused ("already reached a terminal state"). Bad data fails it with a ClientError naming
  the problem.

AWS's candidates are serial inference pipelines of two or three containers (a scikit-learn data
processor before the algorithm); the emulator serves single-container models, so each candidate
here is one XGBoost container doing both. Ensembling (AutoGluon) is not emulated: every Mode
runs the tuning search. The experiment ``<job>-aws-auto-ml-job`` is made with the job.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import secrets
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emulator import environments
from emulator.algorithms import automl_inference
from emulator.sagemaker import jobs, service_experiments
from emulator.sagemaker.engine import Engine
from emulator.sagemaker.errors import ResourceNotFound, SageMakerError, ValidationError
from emulator.sagemaker.lifecycle import Resource, public
from emulator.sagemaker.listing import paged
from emulator.sagemaker.registry import action

KIND = "AutoMLJob"
MIN_ROWS = 500
MAX_CLASSES_INFERRED = 100
POLL_SECONDS = 0.5
CANDIDATE_TAG = "1.7-1"
# Autopilot's default objective per problem type, and how each metric is read from predictions.
DEFAULT_OBJECTIVE = {
    "BinaryClassification": "F1",
    "MulticlassClassification": "Accuracy",
    "Regression": "MSE",
}
OBJECTIVES = {
    "BinaryClassification": {
        "F1",
        "Accuracy",
        "AUC",
        "BalancedAccuracy",
        "Precision",
        "Recall",
        "LogLoss",
    },
    "MulticlassClassification": {
        "Accuracy",
        "BalancedAccuracy",
        "F1macro",
        "PrecisionMacro",
        "RecallMacro",
        "LogLoss",
    },
    "Regression": {"MSE", "RMSE", "MAE", "R2"},
}
MINIMIZED = {"MSE", "RMSE", "MAE", "LogLoss"}
# A small grid of candidates: (max_depth, eta, num_round); a job runs at most this many.
CANDIDATE_GRID = ((6, 0.3, 60), (3, 0.3, 80), (8, 0.1, 120))

AUTOML_JOBS = Resource(
    KIND,
    missing="Could not find AutoML job with name {name}.",
    missing_error=ResourceNotFound,
    arn_type="automl-job",
    summary_keys=(
        "AutoMLJobName",
        "AutoMLJobArn",
        "AutoMLJobStatus",
        "AutoMLJobSecondaryStatus",
        "CreationTime",
        "EndTime",
        "LastModifiedTime",
        "FailureReason",
    ),
    status_key="AutoMLJobStatus",
)
AUTOML_JOBS.register("ListAutoMLJobs")


class AutoMLFailure(Exception):
    """The job fails; the message is its FailureReason."""


# --- requests -----------------------------------------------------------------------------------
def problem_settings(problem_type: str | None, objective: dict[str, Any] | None) -> None:
    """AWS's rule: ProblemType and AutoMLJobObjective come together; the metric fits the type."""
    if bool(problem_type) != bool(objective):
        raise ValidationError(
            "ProblemType and AutoMLJobObjective must be specified together (or neither)."
        )
    if problem_type and objective and objective["MetricName"] not in OBJECTIVES[problem_type]:
        raise ValidationError(
            f"The objective metric {objective['MetricName']} is not valid for the "
            f"{problem_type} problem type; valid: {', '.join(sorted(OBJECTIVES[problem_type]))}."
        )


def input_channels(configs: list[dict[str, Any]]) -> list[dict[str, str]]:
    channels = []
    for config in configs:
        source = config["DataSource"]["S3DataSource"]
        if source["S3DataType"] != "S3Prefix":
            raise ValidationError(f"S3DataType {source['S3DataType']} is not emulated.")
        content = config.get("ContentType", "text/csv;header=present")
        if not content.replace(" ", "").startswith("text/csv"):
            raise ValidationError(f"ContentType {content} is not emulated (CSV only).")
        if config.get("CompressionType", "None") != "None":
            raise ValidationError("Compressed AutoML input is not emulated.")
        channels.append({"uri": source["S3Uri"], "channel": config.get("ChannelType", "training")})
    if [c["channel"] for c in channels].count("training") != 1:
        raise ValidationError("InputDataConfig needs exactly one training channel.")
    return channels


def create(engine: Engine, params: dict[str, Any], settings: dict[str, Any]) -> dict[str, str]:
    if settings["mode"] == "ENSEMBLING":
        raise ValidationError(
            "Mode ENSEMBLING is not emulated (the emulator's search is HYPERPARAMETER_TUNING's)."
        )
    if params.get("ModelDeployConfig"):
        raise ValidationError("ModelDeployConfig (deploying the best candidate) is not emulated.")
    name = params["AutoMLJobName"]
    arn = AUTOML_JOBS.arn(engine, name)
    members = {
        **copy.deepcopy(params),
        "AutoMLJobStatus": "InProgress",
        "AutoMLJobSecondaryStatus": "Starting",
        "_settings": settings,
        "_candidates": [],
    }
    record = AUTOML_JOBS.new(arn, members)
    AUTOML_JOBS.create(engine, record, params.get("Tags", []))
    service_experiments.ensure_experiment(
        engine, name + service_experiments.AUTOML_SUFFIX, arn, "SageMakerAutoMLJob"
    )
    run = AutoMLRun(engine, name)
    engine.register_stopper(KIND, name, run.stopped.set)
    threading.Thread(target=run.run_guarded, name=f"automl-{name}", daemon=True).start()
    return {"AutoMLJobArn": arn}


def job_settings(
    params: dict[str, Any],
    inputs: list[dict[str, Any]],
    target: str,
    problem: dict[str, Any],
    split: dict[str, Any],
) -> dict[str, Any]:
    """What the run needs, from either API's request: ``problem`` holds ProblemType,
    CompletionCriteria, Mode and GenerateCandidateDefinitionsOnly (V2's TabularJobConfig)."""
    problem_settings(problem.get("ProblemType"), params.get("AutoMLJobObjective"))
    return {
        "channels": input_channels(inputs),
        "target": target,
        "problem_type": problem.get("ProblemType"),
        "objective": params.get("AutoMLJobObjective", {}).get("MetricName"),
        "criteria": problem.get("CompletionCriteria", {}),
        "validation_fraction": split.get("ValidationFraction", 0.2),
        "output": params["OutputDataConfig"]["S3OutputPath"],
        "role": params["RoleArn"],
        "candidates_only": problem.get("GenerateCandidateDefinitionsOnly", False),
        "mode": problem.get("Mode", "AUTO"),
    }


@action("CreateAutoMLJob")
def create_auto_ml_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    config = params.get("AutoMLJobConfig", {})
    problem = {
        **{key: config[key] for key in ("CompletionCriteria", "Mode") if key in config},
        **{
            key: params[key]
            for key in ("ProblemType", "GenerateCandidateDefinitionsOnly")
            if key in params
        },
    }
    inputs = params["InputDataConfig"]
    target = inputs[0]["TargetAttributeName"]
    split = config.get("DataSplitConfig", {})
    return create(engine, params, job_settings(params, inputs, target, problem, split))


@action("CreateAutoMLJobV2")
def create_auto_ml_job_v2(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    problem = params["AutoMLProblemTypeConfig"]
    tabular = problem.get("TabularJobConfig")
    if tabular is None:
        kinds = ", ".join(problem)
        raise ValidationError(f"AutoMLProblemTypeConfig {kinds} is not emulated (tabular only).")
    settings = job_settings(
        params,
        params["AutoMLJobInputDataConfig"],
        tabular["TargetAttributeName"],
        tabular,
        params.get("DataSplitConfig", {}),
    )
    return create(engine, params, settings)


V1_ONLY = ("InputDataConfig", "ProblemType", "AutoMLJobConfig", "GenerateCandidateDefinitionsOnly")
V2_ONLY = ("AutoMLJobInputDataConfig", "AutoMLProblemTypeConfig", "DataSplitConfig")


def described(engine: Engine, name: str, version: int) -> dict[str, Any]:
    with engine.store.lock:
        record = AUTOML_JOBS.get(engine, name)
        answer = public(record)
        settings = copy.deepcopy(record["_settings"])
    for member in ("Tags", "ClientRequestToken"):
        answer.pop(member, None)
    objective = settings.get("resolved_objective") or settings["objective"]
    problem_type = settings.get("resolved_problem_type") or settings["problem_type"]
    if version == 1:
        for member in V2_ONLY:
            answer.pop(member, None)
        if objective or problem_type:
            answer["ResolvedAttributes"] = {
                **({"AutoMLJobObjective": {"MetricName": objective}} if objective else {}),
                **({"ProblemType": problem_type} if problem_type else {}),
                "CompletionCriteria": resolved_criteria(settings),
            }
    else:
        for member in V1_ONLY:
            answer.pop(member, None)
        answer["AutoMLProblemTypeConfigName"] = "Tabular"
        if problem_type:
            answer["AutoMLProblemTypeResolvedAttributes"] = {
                "TabularResolvedAttributes": {"ProblemType": problem_type}
            }
        if objective:
            answer["ResolvedAttributes"] = {
                "AutoMLJobObjective": {"MetricName": objective},
                "CompletionCriteria": resolved_criteria(settings),
                "AutoMLProblemTypeResolvedAttributes": {
                    "TabularResolvedAttributes": {"ProblemType": problem_type}
                },
            }
    return answer


def resolved_criteria(settings: dict[str, Any]) -> dict[str, int]:
    criteria = settings["criteria"]
    return {
        "MaxCandidates": min(criteria.get("MaxCandidates", 250), 250),
        "MaxRuntimePerTrainingJobInSeconds": criteria.get(
            "MaxRuntimePerTrainingJobInSeconds", 86400
        ),
        "MaxAutoMLJobRuntimeInSeconds": criteria.get("MaxAutoMLJobRuntimeInSeconds", 2592000),
    }


@action("DescribeAutoMLJob")
def describe_auto_ml_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return described(engine, params["AutoMLJobName"], 1)


@action("DescribeAutoMLJobV2")
def describe_auto_ml_job_v2(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return described(engine, params["AutoMLJobName"], 2)


@action("StopAutoMLJob")
def stop_auto_ml_job(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AutoMLJobName"]
    with engine.store.lock:
        record = AUTOML_JOBS.get(engine, name)
        if record["AutoMLJobStatus"] != "InProgress":
            raise ValidationError(
                f"AutoML job {record['AutoMLJobName']} has already reached a terminal state "
                f"({record['AutoMLJobStatus']}) and cannot be stopped."
            )
        record.update(AutoMLJobStatus="Stopping", AutoMLJobSecondaryStatus="Stopping")
        record["LastModifiedTime"] = jobs.now()
    engine.stop_job(KIND, name)
    return {}


@action("ListCandidatesForAutoMLJob")
def list_candidates(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    with engine.store.lock:
        candidates = copy.deepcopy(AUTOML_JOBS.get(engine, params["AutoMLJobName"])["_candidates"])
    if params.get("StatusEquals"):
        candidates = [c for c in candidates if c["CandidateStatus"] == params["StatusEquals"]]
    if params.get("CandidateNameEquals"):
        candidates = [c for c in candidates if c["CandidateName"] == params["CandidateNameEquals"]]
    sort_by = params.get("SortBy", "Default")
    if sort_by == "FinalObjectiveMetricValue":
        candidates.sort(key=lambda c: c["FinalAutoMLJobObjectiveMetric"]["Value"])
    elif sort_by == "Status":
        candidates.sort(key=lambda c: c["CandidateStatus"])
    else:
        candidates.sort(key=lambda c: c["CreationTime"])
    if params.get("SortOrder") == "Descending":
        candidates.reverse()
    return paged("Candidates", candidates, params)


# --- the run ------------------------------------------------------------------------------------
class AutoMLRun:
    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.stopped = threading.Event()
        record = engine.store.snapshot(KIND, name)
        self.settings = record["_settings"]
        self.arn = record["AutoMLJobArn"]
        criteria = self.settings["criteria"]
        limit = criteria.get("MaxAutoMLJobRuntimeInSeconds")
        self.deadline = time.monotonic() + limit if limit else None
        self.running: list[str] = []
        root = engine.local_path("jobs", "automl")
        root.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{name[:40]}-", dir=root))

    def secondary(self, status: str) -> None:
        def update(record: dict[str, Any]) -> None:
            record["AutoMLJobSecondaryStatus"] = status
            record["LastModifiedTime"] = jobs.now()

        self.engine.store.update(KIND, self.name, update)

    def run_guarded(self) -> None:
        try:
            self.run()
        except AutoMLFailure as failure:
            self.finish("Failed", "Failed", str(failure))
        except Exception as exc:  # never leave a job InProgress for ever
            jobs.log.exception("AutoML job %s crashed", self.name)
            self.finish("Failed", "Failed", f"InternalServerError: {exc}")
        finally:
            self.engine.unregister_stopper(KIND, self.name)

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def interrupted(self) -> str | None:
        if self.stopped.is_set():
            return "Stopped"
        if self.out_of_time():
            return "MaxAutoMLJobRuntimeReached"
        return None

    def run(self) -> None:
        self.secondary("AnalyzingData")
        frame, validation = self.read_inputs()
        problem_type, classes = analyse(frame[self.settings["target"]], self.settings)
        objective = self.settings["objective"] or DEFAULT_OBJECTIVE[problem_type]

        def resolve(record: dict[str, Any]) -> None:
            record["_settings"].update(
                resolved_problem_type=problem_type, resolved_objective=objective
            )

        self.engine.store.update(KIND, self.name, resolve)
        if self.interrupted():
            return self.end_interrupted()
        self.secondary("FeatureEngineering")
        spec, channels = self.engineer(frame, validation, problem_type, classes)
        if self.settings["candidates_only"]:
            return self.finish("Completed", "CandidateDefinitionsGenerated")
        self.secondary("ModelTuning")
        best = self.search(spec, channels, objective)
        if self.interrupted():
            return self.end_interrupted()
        if best is None:
            raise AutoMLFailure("AlgorithmError: no candidate completed")
        self.finish("Completed", "MaxCandidatesReached")

    # data ----------------------------------------------------------------------------------
    def read_inputs(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        s3 = self.engine.client("s3")
        frames: dict[str, pd.DataFrame] = {}
        for channel in self.settings["channels"]:
            target = self.workdir / "input" / channel["channel"]
            try:
                jobs.download_prefix(s3, channel["uri"], target)
            except jobs.JobFailure as exc:
                raise AutoMLFailure(str(exc)) from exc
            parts = []
            for path in sorted(p for p in target.rglob("*") if p.is_file()):
                try:
                    parts.append(pd.read_csv(path, low_memory=False))
                except (ValueError, pd.errors.ParserError) as exc:
                    raise AutoMLFailure(f"ClientError: {path.name}: not a CSV ({exc})") from exc
            frames[channel["channel"]] = pd.concat(parts, ignore_index=True)
        training = frames["training"]
        target = self.settings["target"]
        for channel, frame in frames.items():
            if target not in frame.columns:
                raise AutoMLFailure(
                    f"ClientError: the target attribute {target!r} is not a column of the "
                    f"{channel} data (columns: {', '.join(map(str, frame.columns))})"
                )
        training = training[training[target].notna()].reset_index(drop=True)
        if len(training) < MIN_ROWS:
            raise AutoMLFailure(
                f"ClientError: the training data has {len(training)} rows with a target; "
                f"AutoML needs at least {MIN_ROWS}"
            )
        validation = frames.get("validation")
        if validation is not None:
            validation = validation[validation[target].notna()].reset_index(drop=True)
        return training, validation

    def engineer(
        self,
        frame: pd.DataFrame,
        validation: pd.DataFrame | None,
        problem_type: str,
        classes: list[str] | None,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        target = self.settings["target"]
        if validation is None:
            shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
            cut = max(1, round(len(shuffled) * float(self.settings["validation_fraction"])))
            validation, frame = shuffled.iloc[:cut], shuffled.iloc[cut:]
        features = []
        for column in (c for c in frame.columns if c != target):
            values = frame[column]
            numeric = pd.to_numeric(values, errors="coerce")
            if numeric.notna().sum() >= values.notna().sum():  # every present value is a number
                features.append({"name": str(column), "kind": "numeric"})
            else:
                categories = sorted({str(v).strip() for v in values.dropna()})
                features.append(
                    {"name": str(column), "kind": "categorical", "categories": categories}
                )
        spec = {"features": features, "problem_type": problem_type, "classes": classes}
        prefix = f"{self.settings['output'].rstrip('/')}/{self.name}"
        channels = {}
        for split, part in (("train", frame), ("validation", validation)):
            rows = [
                ["" if pd.isna(v) else str(v) for v in row]
                for row in part.drop(columns=target).itertuples(index=False)
            ]
            matrix = automl_inference.encode(
                rows, {**spec, "features": automl_inference.indexed(features)}
            )
            labels = encode_labels(part[target], problem_type, classes)
            encoded = np.column_stack([labels, matrix])
            path = self.workdir / f"{split}.csv"
            np.savetxt(path, encoded, delimiter=",", fmt="%.10g")
            key = f"{prefix}/preprocessed-data/{split}/{split}.csv"
            self.upload(path, key)
            channels[split] = key.rsplit("/", 1)[0]
        spec_path = self.workdir / automl_inference.SPEC_FILE
        spec_path.write_text(json.dumps(spec))
        self.upload(spec_path, f"{prefix}/data-processor-models/{automl_inference.SPEC_FILE}")
        return spec, channels

    def upload(self, path: Path, uri: str) -> None:
        bucket, key = jobs.split_s3_uri(uri)
        self.engine.client("s3").upload_file(str(path), bucket, key, Config=jobs.SELF_TRANSFER)

    # candidates ----------------------------------------------------------------------------
    def search(
        self, spec: dict[str, Any], channels: dict[str, str], objective: str
    ) -> dict[str, Any] | None:
        criteria = self.settings["criteria"]
        count = min(criteria.get("MaxCandidates", len(CANDIDATE_GRID)), len(CANDIDATE_GRID))
        launched = [
            self.launch(i + 1, params, spec, channels)
            for i, params in enumerate(CANDIDATE_GRID[:count])
        ]
        pending = list(launched)
        best = None
        while pending:
            if self.interrupted():
                for name in pending:
                    self.stop_training(name)
                self.wait_for(pending)
                break
            for name in list(pending):
                job = self.engine.store.snapshot("TrainingJob", name)
                if job["TrainingJobStatus"] in ("InProgress", "Stopping"):
                    continue
                pending.remove(name)
                candidate = self.candidate(job, spec, objective)
                best = better(best, candidate, objective)
                self.record_candidate(candidate, best)
            time.sleep(POLL_SECONDS)
        return best

    def launch(
        self,
        index: int,
        grid: tuple[int, float, int],
        spec: dict[str, Any],
        channels: dict[str, str],
    ) -> str:
        depth, eta, rounds = grid
        problem_type = spec["problem_type"]
        hyperparameters = {"max_depth": str(depth), "eta": str(eta), "num_round": str(rounds)}
        if problem_type == "BinaryClassification":
            hyperparameters.update(objective="binary:logistic", eval_metric="logloss")
        elif problem_type == "MulticlassClassification":
            hyperparameters.update(
                objective="multi:softprob",
                num_class=str(len(spec["classes"])),
                eval_metric="mlogloss",
            )
        else:
            hyperparameters.update(objective="reg:squarederror", eval_metric="rmse")
        name = f"{self.name[:40]}-{index:03d}-{secrets.token_hex(4)}"
        criteria = self.settings["criteria"]
        request = {
            "TrainingJobName": name,
            "HyperParameters": hyperparameters,
            "AlgorithmSpecification": {
                "TrainingImage": candidate_image(self.engine),
                "TrainingInputMode": "File",
            },
            "RoleArn": self.settings["role"],
            "InputDataConfig": [
                {
                    "ChannelName": split,
                    "ContentType": "text/csv",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
                }
                for split, uri in channels.items()
            ],
            "OutputDataConfig": {
                "S3OutputPath": f"{self.settings['output'].rstrip('/')}/{self.name}/tuning"
            },
            "ResourceConfig": {
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {
                "MaxRuntimeInSeconds": criteria.get("MaxRuntimePerTrainingJobInSeconds", 86400)
            },
        }
        # engine.handle checks the request against the service model, as a client would send it.
        body = json.dumps(request).encode()
        try:
            self.engine.handle("CreateTrainingJob", body)
        except SageMakerError as error:
            raise AutoMLFailure(
                f"InternalServerError: candidate {name}: {error.message}"
            ) from error
        service_experiments.for_parent_training_job(
            self.engine, self.name + service_experiments.AUTOML_SUFFIX, name
        )
        return name

    def stop_training(self, name: str) -> None:
        with contextlib.suppress(SageMakerError):  # it ended meanwhile
            self.engine.handle("StopTrainingJob", json.dumps({"TrainingJobName": name}).encode())

    def wait_for(self, names: list[str]) -> None:
        while any(
            self.engine.store.snapshot("TrainingJob", n)["TrainingJobStatus"]
            in ("InProgress", "Stopping")
            for n in names
        ):
            time.sleep(POLL_SECONDS)

    def candidate(
        self,
        job: dict[str, Any],
        spec: dict[str, Any],
        objective: str,
    ) -> dict[str, Any]:
        name = job["TrainingJobName"]
        entry: dict[str, Any] = {
            "CandidateName": name,
            "ObjectiveStatus": "Failed",
            "CandidateSteps": [
                {
                    "CandidateStepType": "AWS::SageMaker::TrainingJob",
                    "CandidateStepArn": job["TrainingJobArn"],
                    "CandidateStepName": name,
                }
            ],
            "CandidateStatus": job["TrainingJobStatus"],
            "CreationTime": job["CreationTime"],
            "EndTime": job.get("TrainingEndTime", jobs.now()),
            "LastModifiedTime": jobs.now(),
        }
        if job["TrainingJobStatus"] != "Completed":
            entry["FailureReason"] = job.get("FailureReason", job["TrainingJobStatus"])
            return entry
        model_dir = self.workdir / name
        self.fetch_model(job["ModelArtifacts"]["S3ModelArtifacts"], model_dir, spec)
        value = self.score(model_dir, spec, objective)
        model_data = (
            f"{self.settings['output'].rstrip('/')}/{self.name}/candidates/{name}/model.tar.gz"
        )
        self.pack(model_dir, model_data)
        entry.update(
            ObjectiveStatus="Succeeded",
            FinalAutoMLJobObjectiveMetric={
                "Type": "Minimize" if objective in MINIMIZED else "Maximize",
                "MetricName": objective,
                "Value": value,
                "StandardMetricName": objective,
            },
            InferenceContainers=[
                {
                    "Image": candidate_image(self.engine),
                    "ModelDataUrl": model_data,
                    "Environment": {
                        "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
                        "SAGEMAKER_INFERENCE_OUTPUT": "predicted_label",
                    },
                }
            ],
        )
        return entry

    def fetch_model(self, uri: str, model_dir: Path, spec: dict[str, Any]) -> None:
        bucket, key = jobs.split_s3_uri(uri)
        body = self.engine.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        model_dir.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            member = archive.getmember(automl_inference.MODEL_FILE)  # the one file we packed
            extracted = archive.extractfile(member)
            assert extracted is not None
            (model_dir / automl_inference.MODEL_FILE).write_bytes(extracted.read())
        (model_dir / automl_inference.SPEC_FILE).write_text(json.dumps(spec))
        code = model_dir / "code"
        code.mkdir()
        (code / "inference.py").write_bytes(Path(automl_inference.__file__).read_bytes())

    def score(self, model_dir: Path, spec: dict[str, Any], objective: str) -> float:
        validation = self.workdir / "validation.csv"
        output = model_dir.parent / f"{model_dir.name}-scores.json"
        python = environments.environment_for(candidate_image(self.engine)).python
        ran = subprocess.run(
            [
                python,
                automl_inference.__file__,
                "score",
                "--model-dir",
                str(model_dir),
                "--input",
                str(validation),
                "--output",
                str(output),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"},
        )
        if ran.returncode != 0:
            raise AutoMLFailure(f"AlgorithmError: scoring a candidate failed: {ran.stderr[-500:]}")
        scores = np.asarray(json.loads(output.read_text()))
        labels = np.loadtxt(validation, delimiter=",", ndmin=2)[:, 0]
        return objective_value(objective, labels, scores, spec["problem_type"])

    def pack(self, model_dir: Path, uri: str) -> None:
        archive = model_dir.parent / f"{model_dir.name}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(model_dir.iterdir()):
                tar.add(path, arcname=path.name)
        self.upload(archive, uri)

    def record_candidate(self, candidate: dict[str, Any], best: dict[str, Any] | None) -> None:
        def update(record: dict[str, Any]) -> None:
            record["_candidates"].append(candidate)
            if best is not None:
                record["BestCandidate"] = copy.deepcopy(best)
            record["LastModifiedTime"] = jobs.now()

        self.engine.store.update(KIND, self.name, update)

    # ending -----------------------------------------------------------------------------------
    def end_interrupted(self) -> None:
        reason = self.interrupted() or "Stopped"
        self.finish("Stopped", reason)

    def finish(self, status: str, secondary: str, reason: str | None = None) -> None:
        def update(record: dict[str, Any]) -> None:
            moment = jobs.now()
            record.update(AutoMLJobStatus=status, AutoMLJobSecondaryStatus=secondary)
            record["EndTime"] = record["LastModifiedTime"] = moment
            if reason:
                record["FailureReason"] = reason

        self.engine.store.update(KIND, self.name, update)


def candidate_image(engine: Engine) -> str:
    return f"683313688378.dkr.ecr.{engine.region}.amazonaws.com/sagemaker-xgboost:{CANDIDATE_TAG}"


def analyse(target: pd.Series, settings: dict[str, Any]) -> tuple[str, list[str] | None]:
    """(problem type, the classes in order) of the target column."""
    values = target.dropna()
    numeric = pd.to_numeric(values, errors="coerce")
    distinct = sorted({str(v).strip() for v in values})
    problem_type = settings["problem_type"]
    if problem_type is None:
        whole = numeric.notna().all() and bool(np.all(np.mod(numeric, 1) == 0))
        if not numeric.notna().all() or (whole and len(distinct) <= MAX_CLASSES_INFERRED):
            problem_type = (
                "BinaryClassification" if len(distinct) == 2 else "MulticlassClassification"
            )
        else:
            problem_type = "Regression"
    if problem_type == "Regression":
        if not numeric.notna().all():
            raise AutoMLFailure("ClientError: a Regression target must be numeric in every row")
        return problem_type, None
    if len(distinct) < 2:
        raise AutoMLFailure(f"ClientError: the target has a single value ({distinct[0]!r})")
    if problem_type == "BinaryClassification" and len(distinct) != 2:
        raise AutoMLFailure(
            f"ClientError: BinaryClassification needs 2 target values; found {len(distinct)}"
        )
    if numeric.notna().all():  # numeric classes in numeric order
        distinct = sorted(distinct, key=float)
    return problem_type, distinct


def encode_labels(target: pd.Series, problem_type: str, classes: list[str] | None) -> np.ndarray:
    if classes is None:
        return pd.to_numeric(target, errors="coerce").to_numpy(dtype=float)
    index = {value: k for k, value in enumerate(classes)}
    return np.array([index.get(str(v).strip(), np.nan) for v in target], dtype=float)


def better(
    best: dict[str, Any] | None, candidate: dict[str, Any], objective: str
) -> dict[str, Any] | None:
    if candidate["ObjectiveStatus"] != "Succeeded":
        return best
    if best is None:
        return candidate
    value, current = (
        candidate["FinalAutoMLJobObjectiveMetric"]["Value"],
        best["FinalAutoMLJobObjectiveMetric"]["Value"],
    )
    improved = value < current if objective in MINIMIZED else value > current
    return candidate if improved else best


def objective_value(
    objective: str, labels: np.ndarray, scores: np.ndarray, problem_type: str
) -> float:
    """The objective on the validation split, from the candidate's predictions."""
    if problem_type == "Regression":
        error = scores - labels
        mse = float(np.mean(error**2))
        return {
            "MSE": mse,
            "RMSE": math.sqrt(mse),
            "MAE": float(np.mean(np.abs(error))),
            "R2": 1 - mse / float(np.var(labels)) if np.var(labels) > 0 else 0.0,
        }[objective]
    truth = labels.astype(int)
    predicted = np.argmax(scores, axis=1)
    classes = range(scores.shape[1])
    if objective == "Accuracy":
        return float(np.mean(predicted == truth))
    if objective == "LogLoss":
        chosen = np.clip(scores[np.arange(len(truth)), truth], 1e-15, 1.0)
        return float(-np.mean(np.log(chosen)))
    if objective == "AUC":
        return auc(truth, scores[:, 1])
    precision = [per_class(predicted, truth, c)[0] for c in classes]
    recall = [per_class(predicted, truth, c)[1] for c in classes]
    f1 = [2 * p * r / (p + r) if p + r else 0.0 for p, r in zip(precision, recall, strict=True)]
    present = [c for c in classes if np.any(truth == c)]
    return {
        "F1": f1[1] if len(f1) > 1 else 0.0,
        "Precision": precision[1] if len(precision) > 1 else 0.0,
        "Recall": recall[1] if len(recall) > 1 else 0.0,
        "F1macro": float(np.mean([f1[c] for c in present])),
        "PrecisionMacro": float(np.mean([precision[c] for c in present])),
        "RecallMacro": float(np.mean([recall[c] for c in present])),
        "BalancedAccuracy": float(np.mean([recall[c] for c in present])),
    }[objective]


def per_class(predicted: np.ndarray, truth: np.ndarray, label: int) -> tuple[float, float]:
    true_positive = float(np.sum((predicted == label) & (truth == label)))
    predicted_positive = float(np.sum(predicted == label))
    actual_positive = float(np.sum(truth == label))
    precision = true_positive / predicted_positive if predicted_positive else 0.0
    recall = true_positive / actual_positive if actual_positive else 0.0
    return precision, recall


def auc(truth: np.ndarray, score: np.ndarray) -> float:
    """The area under the ROC curve, by ranks (ties averaged)."""
    positives = truth == 1
    count_positive, count_negative = int(positives.sum()), int((~positives).sum())
    if not count_positive or not count_negative:
        return 0.5
    ranks = pd.Series(score).rank().to_numpy()
    return float(
        (ranks[positives].sum() - count_positive * (count_positive + 1) / 2)
        / (count_positive * count_negative)
    )
