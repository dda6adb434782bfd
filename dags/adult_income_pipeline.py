"""
# Adult income: XGBoost on SageMaker

The SageMaker Pipelines tutorial (UCI Adult census income) as an Airflow DAG:

```
check conf ─► wait for input ─► prepare run ─► preprocess ─► train ─► evaluate ─► accuracy gate
    accuracy gate ├─ pass ─► create model + register model version ─► approve (a person, optional)
                  │            └─► should deploy ─► deploy endpoint ─► smoke check
                  └─ fail ─► model rejected (nothing created or registered)
    summary (always runs): summary.json with the decision; fails the run if any task failed
```

- **Input**: `s3://<bucket>/<prefix>/raw/ds=<logical date>/` (conf `input_data_uri` overrides).
- **Outputs** go under the run's own prefix `…/runs/<dag>/<run>/`: data, model, evaluation and
  `summary.json`. Names of jobs and models derive from (dag, run, task), and each job carries a
  fingerprint of its request (scripts included): a retry, a clear or a backfill re-attaches to
  its own work when nothing changed, and runs the step again when something did.
- **Gate**: `metrics.accuracy.value` of evaluation.json against `accuracy_threshold`, and
  against the group's champion (its newest Approved version, scored by the evaluate job on this
  run's test set) minus `max_regression`. Failing either, nothing is created or registered.
- **Approval** (optional): with `human_approval`, the version is registered
  PendingManualApproval and a person approves or rejects it in the UI ("Required actions");
  unanswered after `approval_timeout_minutes` it stays pending and nothing is deployed.
- **Model**: the booster behind `inference.py` (the run's feature schema inside), so it scores
  raw census records (CSV with a header, or JSON records).
- **Deploy** (optional): with `deploy: true` and the version `Approved`
  (`model_approval_status`), the endpoint `endpoint_name` is created or updated in place to
  this run's endpoint config, then a few raw input records are scored as a smoke check.
- **Settings** (bucket, role, connection, poll interval, deferrable) come from
  `ADULT_PIPELINE_*` environment variables or `adult_pipeline_*` Variables; see
  `include/adult_income/settings.py`.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.sdk import DAG

from include.adult_income import settings, tasks
from include.adult_income.approval import ModelVersionApprovalOperator
from include.adult_income.operators import (
    AttachOrCreateProcessingOperator,
    AttachOrCreateTrainingOperator,
    CreateOrReuseModelOperator,
    DeployEndpointOperator,
    RegisterOnceOperator,
)
from include.adult_income.params import pipeline_params

SETTINGS = settings.dag_settings()
JOB_ARGS = {
    "aws_conn_id": SETTINGS.aws_conn_id,
    "check_interval": SETTINGS.poll_seconds,
    "deferrable": SETTINGS.deferrable,
}

with DAG(
    dag_id="adult_income_pipeline",
    description="UCI Adult income: preprocess, train, evaluate, gate, register on SageMaker",
    doc_md=__doc__,
    schedule="@daily",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=3,
    params=pipeline_params(),
    tags=["sagemaker", "xgboost", "adult-income"],
    default_args={
        "retries": 2,
        "retry_delay": SETTINGS.retry_delay,
        # Retries are for transient faults (throttling, 5xx, capacity): back off, doubling the
        # delay each time, up to half an hour. Airflow 3 takes a multiplier here: True would
        # read as 1.0, a constant delay. Errors no retry can fix raise AirflowFailException.
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
    },
) as dag:
    check_conf = PythonOperator(task_id="check_conf", python_callable=tasks.check_conf)
    wait_for_input = PythonSensor(
        task_id="wait_for_input",
        python_callable=tasks.input_ready,
        poke_interval=SETTINGS.poll_seconds,
        timeout=6 * 3600,
        mode="reschedule",
    )
    prepare_run = PythonOperator(task_id="prepare_run", python_callable=tasks.prepare_run)
    preprocess = AttachOrCreateProcessingOperator(
        task_id="preprocess", build_config=tasks.preprocess_config, **JOB_ARGS
    )
    train = AttachOrCreateTrainingOperator(
        task_id="train",
        build_config=tasks.training_config,
        print_log=SETTINGS.stream_training_log,
        **JOB_ARGS,
    )
    evaluate = AttachOrCreateProcessingOperator(
        task_id="evaluate", build_config=tasks.evaluate_config, **JOB_ARGS
    )
    accuracy_gate = BranchPythonOperator(
        task_id="accuracy_gate", python_callable=tasks.accuracy_gate
    )
    create_model = CreateOrReuseModelOperator(
        task_id=tasks.MODEL_TASK, build_config=tasks.model_config, aws_conn_id=SETTINGS.aws_conn_id
    )
    register_model_version = RegisterOnceOperator(
        task_id=tasks.REGISTER_TASK,
        build_request=tasks.model_package_config,
        aws_conn_id=SETTINGS.aws_conn_id,
    )
    approve_model_version = ModelVersionApprovalOperator(
        task_id=tasks.APPROVAL_TASK,
        register_task_id=tasks.REGISTER_TASK,
        gate_task_id="accuracy_gate",
        aws_conn_id=SETTINGS.aws_conn_id,
        retries=0,  # an answer is given once; a retry would ask again
    )
    model_rejected = PythonOperator(task_id=tasks.REJECT_TASK, python_callable=tasks.model_rejected)
    should_deploy = ShortCircuitOperator(
        task_id=tasks.DEPLOY_GATE_TASK,
        python_callable=tasks.should_deploy,
        ignore_downstream_trigger_rules=False,  # skip the deploy only; the summary still runs
    )
    deploy = DeployEndpointOperator(
        task_id=tasks.DEPLOY_TASK, build_config=tasks.endpoint_config, **JOB_ARGS
    )
    smoke_check = PythonOperator(task_id=tasks.SMOKE_TASK, python_callable=tasks.smoke_check)
    summary = PythonOperator(
        task_id="summary", python_callable=tasks.summarize, trigger_rule="all_done", retries=0
    )

    check_conf >> wait_for_input >> prepare_run >> preprocess >> train >> evaluate >> accuracy_gate
    accuracy_gate >> [create_model, register_model_version, model_rejected]
    register_model_version >> approve_model_version
    [create_model, approve_model_version] >> should_deploy >> deploy >> smoke_check
    [create_model, register_model_version, model_rejected, smoke_check] >> summary
