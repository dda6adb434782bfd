"""SDK 2 client code: a hyperparameter tuning job, as SDK 2 users write it.

A ``HyperparameterTuner`` over a built-in XGBoost 1.7-1 ``Estimator`` (Random search over eta
and max_depth, maximising ``validation:auc``) on numeric features of the Adult data:
``fit()`` (which waits), ``describe()``, ``best_training_job()``, ``analytics().dataframe()``
and ``best_estimator()`` (an Estimator attached to the best job). Runs in the SDK 2
environment; reports what it found.

Usage: sdk2_tuner.py BUCKET DATA_CSV TUNING_JOB_NAME
"""

import sys

import sagemaker
from client_support import ROLE, numeric_adult, report, sdk_session, upload_channels
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

bucket, data_csv, job_name = sys.argv[1:4]
INSTANCE = "ml.m5.large"

session = sdk_session(sagemaker.session.Session, bucket)
shuffled = numeric_adult(data_csv).sample(frac=1, random_state=9)
uris = upload_channels(
    session, bucket, job_name, {"train": shuffled[:2400], "validation": shuffled[2400:3200]}
)

estimator = Estimator(
    image_uri=sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1"),
    role=ROLE,
    instance_count=1,
    instance_type=INSTANCE,
    output_path=f"s3://{bucket}/{job_name}/model",
    sagemaker_session=session,
    hyperparameters={"objective": "binary:logistic", "num_round": 20, "eval_metric": "auc"},
)
tuner = HyperparameterTuner(
    estimator,
    objective_metric_name="validation:auc",
    hyperparameter_ranges={
        "eta": ContinuousParameter(0.05, 0.5),
        "max_depth": IntegerParameter(2, 6),
    },
    strategy="Random",
    objective_type="Maximize",
    max_jobs=2,
    max_parallel_jobs=2,
    random_seed=7,
)
tuner.fit(
    {name: TrainingInput(uri, content_type="text/csv") for name, uri in uris.items()},
    job_name=job_name,
)
described = tuner.describe()
frame = tuner.analytics().dataframe()

best_estimator = tuner.best_estimator()
definition = described["TrainingJobDefinition"]
report(
    {
        "status": described["HyperParameterTuningJobStatus"],
        "best": tuner.best_training_job(),
        "analytics": frame.to_dict("records"),
        # what fit() sent, as Describe returns it
        "resources": definition.get("HyperParameterTuningResourceConfig"),
        "static_hyperparameters": definition["StaticHyperParameters"],
        "best_estimator": {
            "job": best_estimator.latest_training_job.name,
            "model_data": best_estimator.model_data,
            "hyperparameters": best_estimator.hyperparameters(),
            "instance_type": best_estimator.instance_type,
        },
    }
)
