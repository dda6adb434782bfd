"""Test-wide environment and the shared emulator fixtures.

Airflow never touches the user's AIRFLOW_HOME or loads examples; one emulator per session is
reached through real boto3 clients (black-box tests).

``trained_model`` (for the hosting tests) is one real built-in XGBoost training job on
preprocess.py's output, with two models created from it: the booster as the built-in container
serves it, and the same booster behind include/scripts/inference.py, which scores raw records.

``account`` is a module's local account for runs of the DAG end to end, as `make run` keeps one
(tests/support/offline_account.py): its Airflow DB a copy of one migrated per session, its
emulator process running for the module.
"""

from __future__ import annotations

import copy
import fcntl
import gc
import io
import os
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# The test workers share two cores: xgboost's OpenMP threads sleep while they wait rather than
# spin on a core another worker needs (the emulator's jobs do the same: emulator/sagemaker/jobs.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import boto3
import pytest
from botocore.config import Config

from emulator.process import EmulatorProcess
from emulator.server import EmulatorServer
from tests.support.offline_account import OfflineAccount, new_account
from tests.support.response_shapes import ResponseShapeChecker
from tools.dag_test import LONG_LIVED_GC_THRESHOLDS
from tools.offline import ensure_airflow_db, offline_environment

# The cyclic collector's default thresholds (700, 10, 10) re-scan the hundreds of thousands of
# objects a worker holds (Airflow, the provider, moto, botocore's models) every few hundred
# allocations: raised, the emulator and hosting modules ran in 65 s instead of 78 s. The same
# thresholds as a DAG run's Airflow process (tools/dag_test.py).
gc.set_threshold(*LONG_LIVED_GC_THRESHOLDS)

# Every SageMaker response a test's `aws` clients receive is checked against botocore's output
# shape (tests/support/response_shapes.py); a test fails on what the emulator got wrong.
RESPONSE_SHAPES = ResponseShapeChecker()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules that take minutes (DAG runs end to end, the client scripts) first: `make
    test` hands whole files to its workers in this order, and one of them started last would
    leave one worker running alone at the end."""
    items.sort(
        key=lambda item: not any(item.iter_markers("e2e")) and not any(item.iter_markers("slow"))
    )


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    server = EmulatorServer(tmp_path_factory.mktemp("emulator"), port=0, max_jobs=4)
    with server:
        yield server


@pytest.fixture(scope="session")
def aws(emulator: EmulatorServer) -> Callable[[str], Any]:
    """``aws("s3")`` -> a boto3 client for that service pointed at the emulator."""
    session = boto3.session.Session()
    session.events.register("after-call.sagemaker", RESPONSE_SHAPES)
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(
                service,
                endpoint_url=emulator.url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 1}),
            )
        return clients[service]

    return client


def emulator_client(url: str, service: str) -> Any:
    """A boto3 client for ``service`` at the emulator on ``url``, for tests that start their own;
    no retries, so a refused call fails the test at once."""
    options = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    no_retries = Config(retries={"max_attempts": 1})
    session = boto3.session.Session(region_name="us-east-1", **options)
    return session.client(service, endpoint_url=url, config=no_retries)


@pytest.fixture(autouse=True)
def sagemaker_responses_fit_their_shapes() -> Iterator[None]:
    RESPONSE_SHAPES.take()
    yield
    problems = RESPONSE_SHAPES.take()
    assert not problems, "responses that do not fit botocore's output shapes:\n" + "\n".join(
        sorted(set(problems))
    )


ROLE = "arn:aws:iam::123456789012:role/EmulatorTestRole"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
# What the DAG sends to the built-in XGBoost when a run's conf chooses none, as strings.
DAG_DEFAULT_HYPERPARAMETERS = {
    "objective": "binary:logistic",
    "num_round": "50",
    "max_depth": "5",
    "eta": "0.3",
    "subsample": "1",
    "min_child_weight": "1",
    "gamma": "0",
    "eval_metric": "logloss",
}
# One ml.m5.large with 1 GB of volume: what every test processing job asks for.
ONE_INSTANCE = {
    "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
}
# What every test training job runs on.
TRAINING_INSTANCE = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5}
# Where processing jobs find their code, as SageMaker Python SDK's ScriptProcessor puts it.
CODE_DIR = "/opt/ml/processing/input/code"


def processing_input(name: str, s3_uri: str, local_path: str) -> dict:
    """A File-mode ProcessingInput: every object under ``s3_uri`` copied to ``local_path``."""
    source = {"S3Uri": s3_uri, "LocalPath": local_path, "S3DataType": "S3Prefix"}
    return {"InputName": name, "S3Input": {**source, "S3InputMode": "File"}}


def processing_output(name: str, s3_uri: str | dict, local_path: str) -> dict:
    """A ProcessingOutput uploaded when the job ends; ``s3_uri`` may be a pipeline expression."""
    target = {"S3Uri": s3_uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"}
    return {"OutputName": name, "S3Output": target}


def processing_arguments(
    entrypoint: list,
    image: str = SKLEARN_IMAGE,
    inputs: list[dict] | None = None,
    outputs: list[dict] | None = None,
) -> dict:
    """A CreateProcessingJob body without its name, as a pipeline step's Arguments hold it:
    ``entrypoint`` in ``image`` on ONE_INSTANCE, with the given inputs and outputs if any."""
    arguments: dict[str, Any] = {
        "RoleArn": ROLE,
        "ProcessingResources": copy.deepcopy(ONE_INSTANCE),
        "AppSpecification": {"ImageUri": image, "ContainerEntrypoint": list(entrypoint)},
    }
    if inputs:
        arguments["ProcessingInputs"] = inputs
    if outputs:
        arguments["ProcessingOutputConfig"] = {"Outputs": outputs}
    return arguments


def processing_request(
    name: str,
    entrypoint: list[str],
    image: str = SKLEARN_IMAGE,
    inputs: list[dict] | None = None,
    outputs: list[dict] | None = None,
) -> dict:
    """A CreateProcessingJob body: ``entrypoint`` in ``image`` with the inputs and outputs given."""
    return {"ProcessingJobName": name, **processing_arguments(entrypoint, image, inputs, outputs)}


def script_request(
    name: str,
    script: str,
    image: str = SKLEARN_IMAGE,
    inputs: list[dict] | None = None,
    outputs: list[dict] | None = None,
) -> dict:
    """processing_request for a job that runs ``script`` from its code input (CODE_DIR)."""
    return processing_request(name, script_entrypoint(script), image, inputs, outputs)


def script_entrypoint(script: str) -> list[str]:
    """The entrypoint that runs ``script`` from the code input's directory, CODE_DIR."""
    return ["python3", f"{CODE_DIR}/{script}"]


def csv_channels(bucket: str, prefix: str, channels: tuple[str, ...] = ("train", "validation")):
    """File-mode text/csv training channels, each reading s3://bucket/prefix/<channel>/."""
    return [csv_channel(channel, f"s3://{bucket}/{prefix}/{channel}") for channel in channels]


def csv_channel(channel: str, s3_uri: str) -> dict:
    source = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": s3_uri}}
    return {"ChannelName": channel, "ContentType": "text/csv", "DataSource": source}


def training_definition(
    bucket: str,
    prefix: str,
    image: str = XGBOOST_IMAGE,
    channels: tuple[str, ...] = ("train", "validation"),
    max_runtime: int = 600,
) -> dict:
    """A CreateTrainingJob body without name and hyperparameters (a tuning job's definition):
    ``image`` in File mode on csv channels under s3://bucket/prefix/, the model written to
    s3://bucket/prefix/models, on one ml.m5.large with 5 GB of volume."""
    return {
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "InputDataConfig": csv_channels(bucket, prefix, channels),
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/{prefix}/models"},
        "ResourceConfig": copy.deepcopy(TRAINING_INSTANCE),
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }


def training_request(
    name: str,
    bucket: str,
    prefix: str,
    hyperparameters: dict[str, str],
    image: str = XGBOOST_IMAGE,
    channels: tuple[str, ...] = ("train", "validation"),
) -> dict:
    """A CreateTrainingJob body: training_definition's job named ``name``, ``hyperparameters``."""
    definition = training_definition(bucket, prefix, image, channels)
    return {"TrainingJobName": name, "HyperParameters": hyperparameters, **definition}


def wait_for(
    describe: Callable[[], dict],
    key: str,
    timeout: float = 120,
    pending: frozenset[str] = frozenset({"InProgress", "Stopping"}),
) -> dict:
    """Poll a Describe* call until ``key`` leaves the ``pending`` statuses (a job's, by default)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = describe()
        if description[key] not in pending:
            return description
        time.sleep(0.05)
    raise AssertionError(f"still {description[key]} after {timeout}s")


def one_variant(model: str, variant: str = "AllTraffic", instances: int = 1) -> list[dict]:
    """ProductionVariants for an endpoint config: ``model`` on ``instances`` ml.m5.large."""
    serving = {"InstanceType": "ml.m5.large", "InitialInstanceCount": instances}
    return [{"VariantName": variant, "ModelName": model, **serving}]


@pytest.fixture()
def connection(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow AWS connection id for the emulator, for running provider operators."""
    import json

    extra = {"endpoint_url": emulator.url, "region_name": "us-east-1"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_EMULATOR_TEST",
        json.dumps({"conn_type": "aws", "login": "t", "password": "t", "extra": extra}),
    )
    return "emulator_test"


@pytest.fixture(scope="session")
def bucket(aws) -> str:
    aws("s3").create_bucket(Bucket="emulator-tests")
    return "emulator-tests"


@dataclass(frozen=True)
class TrainedModel:
    processed: Path  # preprocess.py's output: train/ validation/ test/ schema/
    booster_path: Path  # the training job's xgboost-model, downloaded
    model_data_url: str
    builtin_model: str  # CreateModel on the XGBoost image, no script
    script_model: str  # the same archive with SAGEMAKER_PROGRAM=inference.py


def tar_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def image_scores(image: str, model_file: Path, features: Any) -> Any:
    """A built-in model file's scores computed in ``image``'s own environment, loaded as its
    container loads it: a 1.7-1 model is in xgboost 1.7's binary format, which the tests'
    xgboost 3 no longer reads; a 1.0-1 model is a pickle of xgboost 1.0's Booster."""
    import json
    import subprocess

    import numpy as np

    from emulator import environments

    script = (
        "import json, sys\n"
        "import numpy as np, xgboost as xgb\n"
        "from pathlib import Path\n"
        "from emulator.algorithms.model_server import builtin_predict_fn, load_booster\n"
        "booster = load_booster(Path(sys.argv[1]))\n"
        "rows = np.array(json.load(sys.stdin), dtype=float)\n"
        "print(json.dumps(builtin_predict_fn(xgb.DMatrix(rows), booster).tolist()))\n"
    )
    result = subprocess.run(
        [environments.environment_for(image).python, "-c", script, str(model_file)],
        input=json.dumps(np.asarray(features, dtype=float).tolist()),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    return np.array(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="session")
def trained_model(aws, bucket, tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    from tests.scripts.conftest import ADULT_CSV, SCRIPTS, load_script, preprocess_args

    processed = tmp_path_factory.mktemp("hosting-processed")
    assert load_script("preprocess").main(preprocess_args(ADULT_CSV.parent, processed)) == 0
    prefix = f"hosting-{uuid.uuid4().hex[:6]}"
    s3, sagemaker = aws("s3"), aws("sagemaker")
    for split in ("train", "validation"):
        s3.upload_file(str(processed / split / f"{split}.csv"), bucket, f"{prefix}/{split}/x.csv")
    job = f"{prefix}-train"
    sagemaker.create_training_job(
        TrainingJobName=job,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"objective": "binary:logistic", "num_round": "30", "max_depth": "5"},
        InputDataConfig=[
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/{prefix}/{channel}",
                    }
                },
            }
            for channel in ("train", "validation")
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/{prefix}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    done = wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName=job), "TrainingJobStatus"
    )
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    model_data_url = done["ModelArtifacts"]["S3ModelArtifacts"]
    local = tmp_path_factory.mktemp("hosting-model")
    s3.download_file(bucket, model_data_url.split("/", 3)[3], str(local / "model.tar.gz"))
    with tarfile.open(local / "model.tar.gz") as archive:
        archive.extractall(local, filter="data")
    code = tar_bytes(
        {
            "inference.py": (SCRIPTS / "inference.py").read_bytes(),
            "schema.json": (processed / "schema" / "schema.json").read_bytes(),
        }
    )
    s3.put_object(Bucket=bucket, Key=f"{prefix}/code/sourcedir.tar.gz", Body=code)
    builtin, script = f"{prefix}-builtin", f"{prefix}-script"
    sagemaker.create_model(
        ModelName=builtin,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": model_data_url},
    )
    sagemaker.create_model(
        ModelName=script,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": XGBOOST_IMAGE,
            "ModelDataUrl": model_data_url,
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/{prefix}/code/sourcedir.tar.gz",
            },
        },
    )
    return TrainedModel(processed, local / "xgboost-model", model_data_url, builtin, script)


# --- local accounts for the runs of the DAG end to end (tests/support/offline_account.py) ------


@pytest.fixture(scope="session")
def migrated_airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AIRFLOW_HOME whose metadata DB `airflow db migrate` brought to this Airflow's schema.

    Migrated once per test session (seconds of CPU): pytest-xdist's workers share the base
    temporary directory's parent, and the first worker to need the DB migrates it under a lock
    while the others wait, then find it current (ensure_airflow_db's stamp)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker's base is <the session's base>/gwN
        shared = shared.parent
    home = shared / "airflow-migrated"
    with (shared / "airflow-migrated.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # The emulator's URL is only read by tasks, and none runs here.
        ensure_airflow_db(offline_environment("http://127.0.0.1:9", home))
    return home


@pytest.fixture(scope="module")
def account(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_airflow_home: Path,
) -> Iterator[OfflineAccount]:
    """The module's local account, its emulator running for the whole module."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    state_dir = new_account(tmp_path_factory.mktemp(module), migrated_airflow_home)
    emulator = EmulatorProcess(state_dir / "emulator", log_path=state_dir / "emulator.log")
    with emulator:
        yield OfflineAccount(state_dir, emulator.url)
