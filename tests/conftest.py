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

import boto3
import pytest
from botocore.config import Config

from emulator.process import EmulatorProcess
from emulator.server import EmulatorServer
from tests.support.offline_account import OfflineAccount, new_account
from tests.support.response_shapes import ResponseShapeChecker
from tools.offline import ensure_airflow_db, offline_environment

# Every SageMaker response a test's `aws` clients receive is checked against botocore's output
# shape (tests/support/response_shapes.py); a test fails on what the emulator got wrong.
RESPONSE_SHAPES = ResponseShapeChecker()


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
# One ml.m5.large with 1 GB of volume: what every test processing job asks for.
ONE_INSTANCE = {
    "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
}


def processing_request(name: str, entrypoint: list[str], image: str = SKLEARN_IMAGE) -> dict:
    """A minimal CreateProcessingJob body: ``entrypoint`` in ``image``, no inputs or outputs."""
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "ProcessingResources": copy.deepcopy(ONE_INSTANCE),
        "AppSpecification": {"ImageUri": image, "ContainerEntrypoint": list(entrypoint)},
    }


def wait_for(describe: Callable[[], dict], key: str, timeout: float = 120) -> dict:
    """Poll a Describe* call until ``key`` leaves InProgress/Stopping."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = describe()
        if description[key] not in {"InProgress", "Stopping"}:
            return description
        time.sleep(0.05)
    raise AssertionError(f"still {description[key]} after {timeout}s")


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
    """An AIRFLOW_HOME whose metadata DB `airflow db migrate` brought to this Airflow's schema."""
    home = tmp_path_factory.mktemp("airflow-migrated")
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
