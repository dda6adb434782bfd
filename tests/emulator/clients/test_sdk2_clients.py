"""SageMaker Python SDK 2.x client code, run unchanged against the emulator.

Each client script runs in the SDK 2 environment as a subprocess against the in-process
emulator and reports what it saw; the tests check outcomes (statuses, the evaluation's
accuracy, registered versions, predictions), and look at the emulator's side with boto3.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.emulator.clients.conftest import CLIENTS
from tests.support.sdk2_environment import run_client


def test_pipelines_tutorial_runs_end_to_end(emulator, aws, bucket, sdk2, adult_slice, workdir):
    name = f"sdk2-tutorial-{uuid.uuid4().hex[:6]}"
    group = f"{name}-group"
    result = run_client(
        CLIENTS / "sdk2_pipeline_tutorial.py",
        emulator.url,
        workdir,
        bucket,
        str(adult_slice),
        name,
        group,
        "0.75",
        python=sdk2,
    )
    assert result["status"] == "Succeeded", result["failures"]
    assert result["steps"] == {
        "Preprocess": "Succeeded",
        "Train": "Succeeded",
        "Evaluate": "Succeeded",
        "AccuracyCheck": "Succeeded",
        "CreateModel": "Succeeded",
        "Register-RegisterModel": "Succeeded",
    }
    assert result["condition"] == [{"Outcome": "True"}]
    # The evaluation ran in the 1.0-1 image's own xgboost and read its pickled Booster.
    assert result["evaluation"]["xgboost"] == "1.0.0"
    assert result["evaluation"]["metrics"]["accuracy"]["value"] >= 0.8
    assert result["versions"] == [[1, "PendingManualApproval"]]
    (model,) = result["models"]
    container = aws("sagemaker").describe_model(ModelName=model)["PrimaryContainer"]
    assert container["Image"].endswith("/sagemaker-xgboost:1.0-1-cpu-py3")
    assert container["ModelDataUrl"].endswith("/output/model.tar.gz")

    # The lineage table lists each job's S3 inputs and outputs, as the tutorial shows it.
    assert "lineage_error" not in result, result["lineage_error"]
    lineage = result["lineage"]
    assert set(lineage) == {"Preprocess", "Train", "Evaluate"}
    for step, rows in lineage.items():
        directions = {row["Direction"] for row in rows}
        assert directions == {"Input", "Output"}, (step, rows)
    train_outputs = [row for row in lineage["Train"] if row["Direction"] == "Output"]
    assert any(row["Name/Source"].endswith("model.tar.gz") for row in train_outputs)
