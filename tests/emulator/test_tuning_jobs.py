"""Hyperparameter tuning jobs: real training jobs per strategy, objectives from their metrics,
early stopping, Hyperband, Stop, validation, restart; and script-mode train.py's metrics."""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError

from emulator.sagemaker import recovery
from emulator.sagemaker.engine import Engine
from tests.conftest import XGBOOST_IMAGE, image_scores, training_definition, wait_for
from tests.scripts.conftest import ADULT_CSV, SCRIPTS, load_script, preprocess_args

ROWS = 1200  # a slice of the data: each training job takes well under a second of CPU
TRAIN_METRICS = load_script("train").METRIC_DEFINITIONS
# A script that logs one objective value per "round", slowly, so that the tuning job sees its
# jobs' progress: loss = x + 1 / (round + 1), so a job's final value says how far it got.
SLOW_SCRIPT = b"""
import argparse, time
parser = argparse.ArgumentParser()
# The training toolkits pass a one-letter hyperparameter as "-x", not "--x".
parser.add_argument("-x", "--x", type=float, default=0.0)
parser.add_argument("--quality", default="good")
parser.add_argument("--rounds", type=int, default=5)
parser.add_argument("--pause", type=float, default=1.0)
parser.add_argument("--_tuning_objective_metric")
args = parser.parse_args()
offset = {"good": 0.0, "fine": 0.05, "bad": 5.0}[args.quality]
for r in range(args.rounds):
    print("round=%d loss=%.6f" % (r, args.x + offset + 1.0 / (r + 1)), flush=True)
    time.sleep(args.pause)
"""
SLOW_METRICS = [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]


def upload_code(aws, bucket: str, prefix: str, name: str, script: bytes) -> str:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    key = f"{prefix}/code/{name}.tar.gz"
    aws("s3").put_object(Bucket=bucket, Key=key, Body=archive.getvalue())
    return f"s3://{bucket}/{key}"


@pytest.fixture(scope="module")
def data(aws, bucket, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The first rows of preprocess.py's train and validation splits in the emulator's S3."""
    processed = tmp_path_factory.mktemp("tuning-processed")
    assert load_script("preprocess").main(preprocess_args(ADULT_CSV.parent, processed)) == 0
    prefix = f"tuning-{uuid.uuid4().hex[:6]}"
    for split in ("train", "validation"):
        lines = (processed / split / f"{split}.csv").read_text().splitlines()[:ROWS]
        aws("s3").put_object(
            Bucket=bucket, Key=f"{prefix}/{split}/{split}.csv", Body="\n".join(lines) + "\n"
        )
    return prefix


def definition(bucket: str, prefix: str, static: dict[str, str], metrics=None) -> dict:
    training = training_definition(bucket, prefix, max_runtime=300)
    if metrics:
        training["AlgorithmSpecification"]["MetricDefinitions"] = metrics
    return {"StaticHyperParameters": static, **training}


def slow_definition(aws, bucket: str, prefix: str, **static: str) -> dict:
    code = upload_code(aws, bucket, prefix, "slow.py", SLOW_SCRIPT)
    hyperparameters = {
        "sagemaker_program": json.dumps("slow.py"),
        "sagemaker_submit_directory": json.dumps(code),
        **static,
    }
    return definition(bucket, prefix, hyperparameters, SLOW_METRICS)


# What most searches tune, and toward what: SLOW_SCRIPT logs loss = x + offset + 1 / (round + 1).
X_FROM_0_TO_1 = {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}
MINIMIZE_LOSS = ("Minimize", "loss")


def config(strategy: str, ranges: dict, objective: tuple[str, str], **extra) -> dict:
    limits = extra.pop("limits", {})
    return {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": objective[0], "MetricName": objective[1]},
        "ResourceLimits": {"MaxParallelTrainingJobs": 1, **limits},
        "ParameterRanges": ranges,
        **extra,
    }


def tune(aws, request: dict, timeout: float = 120) -> dict:
    sagemaker = aws("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(**request)
    name = request["HyperParameterTuningJobName"]
    return wait_for(
        lambda: sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
        "HyperParameterTuningJobStatus",
        timeout=timeout,
    )


def tune_named(aws, name: str, tuning: dict, definition: dict) -> dict:
    """tune() for the request most tests send: a name, a tuning config, a job definition."""
    request = {"HyperParameterTuningJobConfig": tuning, "TrainingJobDefinition": definition}
    return tune(aws, {"HyperParameterTuningJobName": name, **request})


def training_jobs(aws, name: str, **params) -> list[dict]:
    pages = aws("sagemaker").get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    return [
        summary
        for page in pages.paginate(HyperParameterTuningJobName=name, **params)
        for summary in page["TrainingJobSummaries"]
    ]


def by_creation(summaries: list[dict]) -> list[dict]:
    return sorted(summaries, key=lambda s: s["CreationTime"])


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:6]}"


def test_script_mode_train_py_reports_its_metric_definitions(aws, bucket, data, tmp_path) -> None:
    """train.py in the XGBoost 1.7-1 framework environment: FinalMetricDataList from the
    MetricDefinitions, and a model the built-in container's hosting loads."""
    code = upload_code(aws, bucket, data, "train.py", (SCRIPTS / "train.py").read_bytes())
    name = unique("script-train")
    request = definition(
        bucket,
        data,
        {
            "num_round": "8",
            "max_depth": "4",
            "eval_metric": json.dumps("logloss"),  # the SDK JSON-encodes script-mode values
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(code),
        },
        TRAIN_METRICS,
    )
    request["HyperParameters"] = request.pop("StaticHyperParameters")
    sagemaker = aws("sagemaker")
    sagemaker.create_training_job(TrainingJobName=name, **request)
    job = wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus"
    )
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(metrics) == {"train:logloss", "validation:logloss"}
    events = aws("logs").get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=aws("logs").describe_log_streams(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name
        )["logStreams"][0]["logStreamName"],
    )["events"]
    last = next(e["message"] for e in events if e["message"].startswith("[7]"))
    assert f"validation-logloss:{metrics['validation:logloss']:.5f}" in last
    key = job["ModelArtifacts"]["S3ModelArtifacts"].split("/", 3)[3]
    body = aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        assert archive.getnames() == ["xgboost-model"]
        model = archive.extractfile("xgboost-model").read()
    # xgboost 1.7's binary format, which the 1.7-1 container (and evaluate.py there) loads.
    assert not model.startswith(b"{")
    local = tmp_path / "xgboost-model"
    local.write_bytes(model)
    csv = aws("s3").get_object(Bucket=bucket, Key=f"{data}/validation/validation.csv")["Body"]
    features = np.loadtxt(io.StringIO(csv.read().decode()), delimiter=",")[:5, 1:]
    scores = image_scores(XGBOOST_IMAGE, local, features)
    assert scores.shape == (5,) and ((scores > 0) & (scores < 1)).all()


def test_random_search_on_the_builtin_algorithm(aws, bucket, data) -> None:
    name = unique("random")
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Logarithmic"}
        ],
        "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "6"}],
    }
    static = {"objective": "binary:logistic", "num_round": "10", "eval_metric": "logloss"}
    tags = [{"Key": "project", "Value": "adult-income"}]
    described = tune(
        aws,
        {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": config(
                "Random",
                ranges,
                ("Maximize", "validation:auc"),
                limits={"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
                RandomSeed=7,
            ),
            "TrainingJobDefinition": definition(bucket, data, static),
            "Tags": tags,
        },
    )
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    assert described["TrainingJobStatusCounters"] == {
        "Completed": 3,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 3, "Pending": 0, "Failed": 0}
    summaries = training_jobs(aws, name)
    assert len(summaries) == 3
    sagemaker = aws("sagemaker")
    for index, summary in enumerate(by_creation(summaries), start=1):
        assert re.fullmatch(rf"{name}-{index:03d}-[0-9a-f]{{8}}", summary["TrainingJobName"])
        tuned = summary["TunedHyperParameters"]
        assert 0.05 <= float(tuned["eta"]) <= 0.5 and 2 <= int(tuned["max_depth"]) <= 6
        job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        assert job["TuningJobArn"] == described["HyperParameterTuningJobArn"]
        assert job["HyperParameters"] == {
            **static,
            **tuned,
            "_tuning_objective_metric": "validation:auc",
        }
        # The objective is the job's own final validation:auc, which the container added.
        final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
        assert summary["FinalHyperParameterTuningJobObjectiveMetric"] == {
            "Type": "Maximize",
            "MetricName": "validation:auc",
            "Value": pytest.approx(final["validation:auc"]),
        }
        assert sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"] == tags
    best = max(summaries, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert described["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    ordered = training_jobs(aws, name, SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    assert ordered[0]["TrainingJobName"] == best["TrainingJobName"]
    assert [s["TrainingJobName"] for s in training_jobs(aws, name, MaxResults=1)][:1]
    assert training_jobs(aws, name, StatusEquals="Failed") == []
    listed = sagemaker.list_hyper_parameter_tuning_jobs(NameContains=name)
    [item] = listed["HyperParameterTuningJobSummaries"]
    assert item["Strategy"] == "Random" and item["HyperParameterTuningJobStatus"] == "Completed"


def test_bayesian_search_in_script_mode(aws, bucket, data) -> None:
    code = upload_code(aws, bucket, data, "train.py", (SCRIPTS / "train.py").read_bytes())
    name = unique("bayes")
    static = {
        "num_round": "6",
        "sagemaker_program": json.dumps("train.py"),
        "sagemaker_submit_directory": json.dumps(code),
    }
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "subsample", "MinValue": "0.5", "MaxValue": "0.99",
             "ScalingType": "ReverseLogarithmic"},
        ],
        "CategoricalParameterRanges": [{"Name": "max_depth", "Values": ["2", "4"]}],
    }  # fmt: skip
    described = tune_named(
        aws,
        name,
        config(
            "Bayesian",
            ranges,
            ("Minimize", "validation:logloss"),
            limits={"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
            RandomSeed=3,
        ),
        definition(bucket, data, static, TRAIN_METRICS),
    )
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    summaries = training_jobs(aws, name)
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert len(values) == 3
    assert described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"][
        "Value"
    ] == min(values)
    for summary in summaries:
        assert 0.5 <= float(summary["TunedHyperParameters"]["subsample"]) <= 0.99
        assert summary["TunedHyperParameters"]["max_depth"] in {"2", "4"}


def test_grid_search_runs_every_combination(aws, bucket, data) -> None:
    name = unique("grid")
    ranges = {
        "CategoricalParameterRanges": [{"Name": "quality", "Values": ["good", "fine"]}],
        "IntegerParameterRanges": [{"Name": "rounds", "MinValue": "1", "MaxValue": "2"}],
    }
    described = tune_named(
        aws,
        name,
        # No MaxNumberOfTrainingJobs: a grid runs each of its combinations once.
        config("Grid", ranges, MINIMIZE_LOSS, limits={"MaxParallelTrainingJobs": 2}),
        slow_definition(aws, bucket, data, pause="0"),
    )
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    tuned = sorted(
        (s["TunedHyperParameters"]["quality"], s["TunedHyperParameters"]["rounds"])
        for s in training_jobs(aws, name)
    )
    assert tuned == [("fine", "1"), ("fine", "2"), ("good", "1"), ("good", "2")]
    best = described["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"quality": "good", "rounds": "2"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(0.5)


def test_auto_early_stopping_stops_jobs_worse_than_the_median(aws, bucket, data) -> None:
    name = unique("early")
    ranges = {
        "CategoricalParameterRanges": [{"Name": "quality", "Values": ["good", "fine", "bad"]}]
    }
    described = tune_named(
        aws,
        name,
        config("Grid", ranges, MINIMIZE_LOSS, TrainingJobEarlyStoppingType="Auto"),
        slow_definition(aws, bucket, data, rounds="6", pause="0.5"),
    )
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    jobs = {s["TunedHyperParameters"]["quality"]: s for s in training_jobs(aws, name)}
    assert jobs["good"]["TrainingJobStatus"] == jobs["fine"]["TrainingJobStatus"] == "Completed"
    bad = jobs["bad"]
    assert bad["TrainingJobStatus"] == "Stopped"
    # Its first round (5 + 1/1) is worse than the median of the earlier jobs' averages there
    # (1.0 and 1.05): it stops then, long before its sixth round (5 + 1/6); a busy machine may
    # let it log a round or two before the stop lands.
    assert bad["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] >= 5 + 1 / 3
    assert bad["ObjectiveStatus"] == "Succeeded"
    assert described["TrainingJobStatusCounters"]["Stopped"] == 1
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"quality": "good"}


def test_hyperband_stops_at_its_rungs_and_at_max_resource(aws, bucket, data) -> None:
    name = unique("hyperband")
    described = tune_named(
        aws,
        name,
        config(
            "Hyperband",
            X_FROM_0_TO_1,
            MINIMIZE_LOSS,
            limits={"MaxNumberOfTrainingJobs": 4},
            StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 3}},
            RandomSeed=11,
        ),
        slow_definition(aws, bucket, data, rounds="8", pause="0.6"),
    )
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    summaries = by_creation(training_jobs(aws, name))
    assert [s["TrainingJobStatus"] for s in summaries] == ["Stopped"] * 4
    xs = [float(s["TunedHyperParameters"]["x"]) for s in summaries]
    # loss = x + 1 / rounds logged: how far each job got.
    reached = [
        round(1 / (s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] - x))
        for s, x in zip(summaries, xs, strict=True)
    ]
    # The first three had fewer than 3 peers at rung 1: on to MaxResource (3 rounds of 8). The
    # fourth goes on only if its loss at 1 round is within the best ceil(4 / 3) = 2 of four.
    # (A busy machine may let a job log a round more before its stop lands.)
    assert all(3 <= rounds <= 4 for rounds in reached[:3]), reached
    fourth_kept = sorted(xs).index(xs[3]) < 2
    assert (3 <= reached[3] <= 4) if fourth_kept else reached[3] <= 2, (xs, reached)


def test_stop_stops_the_running_training_jobs(aws, bucket, data) -> None:
    name = unique("stop")
    sagemaker = aws("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=config(
            "Random",
            X_FROM_0_TO_1,
            MINIMIZE_LOSS,
            limits={"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
        ),
        TrainingJobDefinition=slow_definition(aws, bucket, data, rounds="60", pause="0.5"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(training_jobs(aws, name)) < 2:
        time.sleep(0.1)
    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "HyperParameterTuningJobStatus"
    ] in {"Stopping", "Stopped"}
    described = wait_for(
        lambda: sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
        "HyperParameterTuningJobStatus",
    )
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    summaries = training_jobs(aws, name)
    assert len(summaries) == 2
    assert {s["TrainingJobStatus"] for s in summaries} == {"Stopped"}
    assert "HyperParameterTuningEndTime" in described
    with pytest.raises(ClientError, match="status Stopped"):
        sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    # Delete takes the tuning job's record only: its training jobs stay.
    sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    with pytest.raises(ClientError, match="can't find a tuning job"):
        sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    for summary in summaries:
        sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"Strategy": "Grid", "ResourceLimits": {"MaxParallelTrainingJobs": 1}},
            "only categorical and integer ranges; 'eta' is continuous",
        ),
        (
            {"Strategy": "Hyperband", "TrainingJobEarlyStoppingType": "Auto"},
            "must be Off with the Hyperband strategy",
        ),
        ({"Strategy": "Hyperband"}, "MaxResource is required"),
        (
            {"StrategyConfig": {"HyperbandStrategyConfig": {"MaxResource": 3}}},
            "only for the Hyperband strategy",
        ),
        (
            {"HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "val:auc"}},
            "isn't valid for the",
        ),
        (
            {"ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 3}},
            "cannot be greater than MaxNumberOfTrainingJobs",
        ),
        (
            {"ParameterRanges": {"ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]}},
            "Logarithmic scaling needs a MinValue greater than 0",
        ),
        (
            {"ParameterRanges": {"IntegerParameterRanges": [
                {"Name": "num_round", "MinValue": "1", "MaxValue": "5"}]}},
            "cannot be both static and tunable: num_round",
        ),
        (
            {"ParameterRanges": {"ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0.5", "MaxValue": "0.1"}]}},
            "MinValue 0.5 is greater than MaxValue 0.1",
        ),
    ],
)  # fmt: skip
def test_requests_are_validated_as_sagemaker_does(aws, bucket, data, change, message) -> None:
    base = config(
        "Random",
        {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]},
        ("Maximize", "validation:auc"),
        limits={"MaxNumberOfTrainingJobs": 2},
    )
    with pytest.raises(ClientError, match=re.escape(message)) as raised:
        aws("sagemaker").create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=unique("invalid"),
            HyperParameterTuningJobConfig={**base, **change},
            TrainingJobDefinition=definition(bucket, data, {"num_round": "3"}),
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_unknown_tuning_jobs_are_not_found(aws) -> None:
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="nope")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"


def test_a_restart_settles_a_tuning_job_that_was_running(tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    try:
        created = recovery.now()
        engine.store.create(
            "TrainingJob",
            "t-001-0000abcd",
            {
                "TrainingJobName": "t-001-0000abcd",
                "TrainingJobArn": engine.arn("training-job", "t-001-0000abcd"),
                "TrainingJobStatus": "InProgress",
                "SecondaryStatus": "Training",
                "CreationTime": created,
                "LastModifiedTime": created,
            },
        )
        engine.store.create(
            "HyperParameterTuningJob",
            "t",
            {
                "HyperParameterTuningJobName": "t",
                "HyperParameterTuningJobArn": engine.arn("hyper-parameter-tuning-job", "t"),
                "HyperParameterTuningJobConfig": {
                    "Strategy": "Random",
                    "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
                    "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
                },
                "TrainingJobDefinition": {},
                "HyperParameterTuningJobStatus": "InProgress",
                "CreationTime": created,
                "LastModifiedTime": created,
                "TrainingJobStatusCounters": {"InProgress": 1},
                "ObjectiveStatusCounters": {"Pending": 1},
                "_jobs": [{"name": "t-001-0000abcd", "tuned": {"x": "0.5"}}],
                "_tags": [],
            },
        )
        counts = recovery.recover(engine)
        record = engine.store.snapshot("HyperParameterTuningJob", "t")
    finally:
        engine.shutdown()
    assert counts["jobs"] == 2
    assert record["HyperParameterTuningJobStatus"] == "Failed"
    assert "emulator stopped" in record["FailureReason"]
    assert record["TrainingJobStatusCounters"]["NonRetryableError"] == 1
    assert record["TrainingJobStatusCounters"]["InProgress"] == 0
    assert record["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 1}


def test_a_tuning_job_whose_jobs_all_fail_fails_naming_the_first_reason(aws, bucket, data) -> None:
    unknown_quality = {"CategoricalParameterRanges": [{"Name": "quality", "Values": ["unknown"]}]}
    tuning = config("Grid", unknown_quality, MINIMIZE_LOSS)
    definition = slow_definition(aws, bucket, data, pause="0")
    described = tune_named(aws, unique("failing"), tuning, definition)
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("No training job succeeded after 1 attempts")
    assert "KeyError: 'unknown'" in described["FailureReason"]
    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 1
    assert described["ObjectiveStatusCounters"]["Failed"] == 1
    assert "BestTrainingJob" not in described


def test_a_target_objective_value_ends_the_search(aws, bucket, data) -> None:
    # Every job ends at x + 1/5 <= 1.2: the first one reaches the target.
    target = {"TargetObjectiveMetricValue": 1.5}
    tuning = config("Random", X_FROM_0_TO_1, MINIMIZE_LOSS, TuningJobCompletionCriteria=target)
    tuning["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 4
    definition = slow_definition(aws, bucket, data, pause="0")
    described = tune_named(aws, unique("target"), tuning, definition)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 1
    assert described["TuningJobCompletionDetails"] == {
        "NumberOfTrainingJobsObjectiveNotImproving": 0
    }


def test_a_pipeline_tuning_step_runs_its_tuning_job_and_exposes_the_best_jobs(
    aws, bucket, data
) -> None:
    """A native pipeline's TuningStep: its properties are DescribeHyperParameterTuningJob's and
    TrainingJobSummaries, best first, which TuningStep.get_top_model_s3_uri reads at [0]."""
    from tests.emulator.test_pipelines import create_raw, start, steps_of, wait_execution

    ranges = {"CategoricalParameterRanges": [{"Name": "quality", "Values": ["fine", "good"]}]}
    tune_step = {
        "Name": "Tune",
        "Type": "Tuning",
        "Arguments": {
            "HyperParameterTuningJobConfig": config(
                "Grid", ranges, MINIMIZE_LOSS, limits={"MaxParallelTrainingJobs": 2}
            ),
            "TrainingJobDefinition": slow_definition(aws, bucket, data, pause="0"),
        },
    }
    best_name = {"Get": "Steps.Tune.BestTrainingJob.TrainingJobName"}
    gate = {
        "Name": "Gate",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "Equals",
                    "LeftValue": {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"},
                    "RightValue": best_name,
                },
                {
                    "Type": "LessThanOrEqualTo",
                    "LeftValue": {
                        "Get": "Steps.Tune.TrainingJobSummaries[0]"
                        ".FinalHyperParameterTuningJobObjectiveMetric.Value"
                    },
                    "RightValue": {
                        "Get": "Steps.Tune.TrainingJobSummaries[1]"
                        ".FinalHyperParameterTuningJobObjectiveMetric.Value"
                    },
                },
            ],
            "IfSteps": [],
            "ElseSteps": [],
        },
    }
    body = {"Version": "2020-12-01", "Parameters": [], "Steps": [tune_step, gate]}
    arn = start(aws, create_raw(aws, body))
    described = wait_execution(aws, arn)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    steps = steps_of(aws, arn)
    assert steps["Gate"]["Metadata"]["Condition"]["Outcome"] == "True"
    tuning_name = steps["Tune"]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[1]
    assert len(tuning_name) <= 32
    tuning = aws("sagemaker").describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning_name
    )
    assert tuning["BestTrainingJob"]["TunedHyperParameters"] == {"quality": "good"}


def test_best_objective_not_improving_ends_the_search(aws, bucket, data) -> None:
    name = unique("plateau")
    ranges = {
        "CategoricalParameterRanges": [
            {"Name": "quality", "Values": ["good", "fine", "bad"]},
            {"Name": "x", "Values": ["0", "0.1"]},
        ],
    }
    criteria = {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}
    described = tune_named(
        aws,
        name,
        config("Grid", ranges, MINIMIZE_LOSS, TuningJobCompletionCriteria=criteria),
        slow_definition(aws, bucket, data, pause="0"),
    )
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    # loss = x + offset + 1/5: good/0 (0.2) is the best; the next three (0.3, 0.25, 0.35) do
    # not improve on it, and the search ends before the bad ones.
    tuned = [
        (s["TunedHyperParameters"]["quality"], s["TunedHyperParameters"]["x"])
        for s in by_creation(training_jobs(aws, name))
    ]
    assert tuned == [("good", "0"), ("good", "0.1"), ("fine", "0"), ("fine", "0.1")]
    assert described["TuningJobCompletionDetails"] == {
        "NumberOfTrainingJobsObjectiveNotImproving": 3
    }
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"quality": "good", "x": "0"}
