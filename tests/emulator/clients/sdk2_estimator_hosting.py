"""SDK 2 client code: train, attach, deploy, predict, batch transform, register, deploy a package.

A built-in XGBoost 1.7-1 ``Estimator.fit(logs=True)`` on numeric features of the Adult data,
``Estimator.attach`` to the finished job, ``Model.deploy`` and ``Predictor.predict``,
``Transformer.transform`` over held-out rows, ``Model.register`` into a package group, and
``ModelPackage(...).deploy()`` of the registered version. Runs in the SDK 2 environment;
reports what it found.

Usage: sdk2_estimator_hosting.py BUCKET DATA_CSV PREFIX GROUP_NAME
"""

import sys

import numpy as np
import sagemaker
from client_support import (
    HOSTING_HYPERPARAMETERS,
    ROLE,
    numeric_adult,
    report,
    sdk_session,
    upload_channels,
)
from sagemaker.deserializers import CSVDeserializer
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model, ModelPackage
from sagemaker.predictor import Predictor
from sagemaker.s3 import S3Downloader
from sagemaker.serializers import CSVSerializer

bucket, data_csv, prefix, group_name = sys.argv[1:5]
INSTANCE = "ml.m5.large"

session = sdk_session(sagemaker.session.Session, bucket)

frame = numeric_adult(data_csv)
train, validation, test = np.split(frame.sample(frac=1, random_state=3), [2400, 3200])
uris = upload_channels(session, bucket, prefix, {"train": train, "validation": validation})
test.drop(columns="label").to_csv("test.csv", header=False, index=False)
test_uri = session.upload_data("test.csv", bucket=bucket, key_prefix=f"{prefix}/batch-in")

image_uri = sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
estimator = Estimator(
    image_uri=image_uri,
    role=ROLE,
    instance_count=1,
    instance_type=INSTANCE,
    output_path=f"s3://{bucket}/{prefix}/model",
    sagemaker_session=session,
    hyperparameters=dict(HOSTING_HYPERPARAMETERS),
)
estimator.fit(
    {
        name: TrainingInput(uri, content_type="text/csv")
        for name, uri in (("train", uris["train"]), ("validation", uris["validation"]))
    },
    logs=True,
)
job_name = estimator.latest_training_job.name

attached = Estimator.attach(job_name, sagemaker_session=session)
result = {
    "job": job_name,
    "attached": {
        "model_data": attached.model_data,
        "hyperparameters": attached.hyperparameters(),
        "image_uri": attached.image_uri,
        "output_path": attached.output_path,
        "instance_type": attached.instance_type,
    },
    "model_data": estimator.model_data,
}

model = Model(
    image_uri=image_uri,
    model_data=attached.model_data,
    role=ROLE,
    sagemaker_session=session,
    predictor_cls=Predictor,
)
predictor = model.deploy(
    initial_instance_count=1,
    instance_type=INSTANCE,
    serializer=CSVSerializer(),
    deserializer=CSVDeserializer(),
)
features = test.drop(columns="label").to_numpy()
scores = [float(row[0]) for row in predictor.predict(features)]
labels = test["label"].to_numpy()
result["endpoint"] = {
    "name": predictor.endpoint_name,
    "count": len(scores),
    "min": min(scores),
    "max": max(scores),
    "accuracy": float(np.mean((np.array(scores) > 0.5) == labels)),
}

transformer = attached.transformer(
    instance_count=1,
    instance_type=INSTANCE,
    output_path=f"s3://{bucket}/{prefix}/batch-out",
    accept="text/csv",
)
transformer.transform(test_uri, content_type="text/csv", split_type="Line")
transformer.wait(logs=False)
transform_job = session.sagemaker_client.describe_transform_job(
    TransformJobName=transformer.latest_transform_job.name
)
batch = S3Downloader.read_file(f"s3://{bucket}/{prefix}/batch-out/test.csv.out", session)
batch_scores = [float(line) for line in batch.split()]
result["transform"] = {
    "status": transform_job["TransformJobStatus"],
    "count": len(batch_scores),
    "max_difference_from_endpoint": max(
        abs(a - b) for a, b in zip(batch_scores, scores, strict=False)
    ),
}

package = model.register(
    content_types=["text/csv"],
    response_types=["text/csv"],
    inference_instances=[INSTANCE],
    transform_instances=[INSTANCE],
    model_package_group_name=group_name,
    approval_status="Approved",
)
described = session.sagemaker_client.describe_model_package(
    ModelPackageName=package.model_package_arn
)
result["package"] = {
    "arn": package.model_package_arn,
    "version": described["ModelPackageVersion"],
    "status": described["ModelApprovalStatus"],
}
package_predictor = ModelPackage(
    role=ROLE,
    model_package_arn=package.model_package_arn,
    sagemaker_session=session,
    predictor_cls=Predictor,
).deploy(initial_instance_count=1, instance_type=INSTANCE, serializer=CSVSerializer(), wait=False)
# The SDK's own wait polls every 30 s; a second's poll is what a user waiting on it passes.
session.wait_for_endpoint(package_predictor.endpoint_name, poll=1)
package_scores = [float(v) for v in package_predictor.predict(features[:20]).decode().split()]
result["package_endpoint"] = {
    "name": package_predictor.endpoint_name,
    "max_difference_from_endpoint": max(
        abs(a - b) for a, b in zip(package_scores, scores[:20], strict=True)
    ),
}

for each in (predictor, package_predictor):
    each.delete_endpoint()
report(result)
