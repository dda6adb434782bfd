"""SDK 3 client code: ModelTrainer.train, ModelBuilder build + deploy + invoke, Transformer.

The built-in XGBoost 1.7-1 trained on numeric features of the Adult data (its logs streamed),
the model built and deployed to an endpoint that is invoked with CSV rows, and a batch
transform over the same rows. Runs with the project's SDK 3; reports what it found.

Usage: sdk3_hosting.py BUCKET DATA_CSV PREFIX
"""

import sys

import numpy as np
from client_support import (
    HOSTING_HYPERPARAMETERS,
    ensure_execution_role,
    numeric_adult,
    report,
    sdk_session,
    upload_channels,
)
from sagemaker.core import image_uris
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.transformer import Transformer
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData, OutputDataConfig

bucket, data_csv, prefix = sys.argv[1:4]
INSTANCE = "ml.m5.large"

session = sdk_session(Session, bucket)
role = ensure_execution_role(session.boto_session.client("iam"))

shuffled = numeric_adult(data_csv).sample(frac=1, random_state=5)
train, validation, test = shuffled[:2400], shuffled[2400:3200], shuffled[3200:]
uris = upload_channels(session, bucket, prefix, {"train": train, "validation": validation})
test.drop(columns="label").to_csv("test.csv", header=False, index=False)
test_uri = session.upload_data("test.csv", bucket=bucket, key_prefix=f"{prefix}/batch-in")

image_uri = image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
trainer = ModelTrainer(
    training_image=image_uri,
    compute=Compute(instance_type=INSTANCE, instance_count=1),
    role=role,
    sagemaker_session=session,
    base_job_name="sdk3-hosting-train",
    output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/{prefix}/model"),
    hyperparameters=dict(HOSTING_HYPERPARAMETERS),
)
trainer.train(
    input_data_config=[
        InputData(channel_name=name, data_source=uri, content_type="text/csv")
        for name, uri in uris.items()
    ],
    logs=True,
)
job = trainer._latest_training_job  # what ModelBuilder(model=trainer) reads too
model_data = job.model_artifacts.s3_model_artifacts

builder = ModelBuilder(
    s3_model_data_url=model_data,
    image_uri=image_uri,
    role_arn=role,
    sagemaker_session=session,
)
model = builder.build(model_name=f"{prefix}-model")
endpoint = builder.deploy(
    endpoint_name=f"{prefix}-endpoint", initial_instance_count=1, instance_type=INSTANCE
)
features = test.drop(columns="label").to_numpy()
body = "\n".join(",".join(str(value) for value in row) for row in features)
answer = endpoint.invoke(body=body, content_type="text/csv", accept="text/csv")
scores = [float(value) for value in answer.body.read().decode().split()]
labels = test["label"].to_numpy()

transformer = Transformer(
    model_name=f"{prefix}-model",
    instance_count=1,
    instance_type=INSTANCE,
    accept="text/csv",
    assemble_with="Line",
    output_path=f"s3://{bucket}/{prefix}/batch-out",
    sagemaker_session=session,
)
transformer.transform(test_uri, content_type="text/csv", split_type="Line", logs=False)
batch = session.read_s3_file(bucket, f"{prefix}/batch-out/test.csv.out")
batch_scores = [float(line) for line in batch.split()]

report(
    {
        "job": job.training_job_name,
        "job_status": job.training_job_status,
        "model_data": model_data,
        "endpoint": {
            "name": endpoint.endpoint_name,
            "status": endpoint.endpoint_status,
            "count": len(scores),
            "rows": len(features),
            "min": min(scores),
            "max": max(scores),
            "accuracy": float(np.mean((np.array(scores) > 0.5) == labels)),
        },
        "transform": {
            "count": len(batch_scores),
            "max_difference_from_endpoint": max(
                abs(a - b) for a, b in zip(batch_scores, scores, strict=False)
            ),
        },
    }
)
endpoint.delete()
