"""
# Adult income: XGBoost on SageMaker

The SageMaker Pipelines tutorial (UCI Adult census income) as an Airflow DAG:

```
check conf ─► prepare run ─► wait for input ─► preprocess ─► train or tune ─┬─► train ─┬─► evaluate
                                                                           └─► tune ──┘
    evaluate ─► accuracy gate
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
- **Training**: `training_mode` `builtin` (SageMaker's XGBoost algorithm) or `script`
  (`include/scripts/train.py` in the XGBoost 1.7-1 framework container). With
  `tuning_max_jobs` > 0 the `tune` task runs a hyperparameter tuning job instead of `train`
  (`tuning_strategy`, `tuning_objective`, `tuning_max_parallel_jobs`); its best training job's
  model is what evaluate, the gate and registration read.
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
- **Plan**: `prepare run` reads the settings (Airflow Variables `adult_pipeline_*`, e.g.
  `AIRFLOW_VAR_ADULT_PIPELINE_BUCKET`; see `include/adult_income/settings.py`) once, and plans
  the run: its S3 layout and every SageMaker request. Each SageMaker task's `config` is that
  plan's request (see its Rendered Template tab), so a run never changes paths midway.
  Deferrable operators and the retry delay are Airflow's own configuration
  (`[operators] default_deferrable`, `[core] default_task_retry_delay`).
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from airflow.sdk import DAG

from include.adult_income import run_start, tasks
from include.adult_income.approval import ModelVersionApprovalOperator
from include.adult_income.operators import (
    AttachOrCreateProcessingOperator,
    AttachOrCreateTrainingOperator,
    AttachOrCreateTuningOperator,
    CreateOrReuseModelOperator,
    DeployEndpointOperator,
    RegisterOnceOperator,
)
from include.adult_income.params import pipeline_params
from include.adult_income.tasks import planned

# Every SageMaker task takes its connection, poll interval and request from the run's plan
# (prepare_run's XCom), rendered as Python objects rather than as text.
FROM_PLAN = {
    "aws_conn_id": planned("settings", "aws_conn_id"),
    "render_template_as_native_obj": True,
}
JOB_ARGS = {**FROM_PLAN, "check_interval": planned("settings", "poll_seconds")}

with DAG(
    dag_id="adult_income_pipeline",
    description="UCI Adult income: preprocess, train, evaluate, gate, register on SageMaker",
    doc_md=__doc__,
    **run_start.DAILY,  # @daily from 2024-01-01, no catch-up, three runs at once
    params=pipeline_params(),
    tags=["sagemaker", "xgboost", "adult-income"],
    default_args={
        # The delay between tries is [core] default_task_retry_delay. Retries are for
        # transient faults (throttling, 5xx, capacity): back off, doubling the delay each
        # time, up to half an hour. Airflow 3 takes a multiplier here: True would read as 1.0,
        # a constant delay. Errors no retry can fix raise AirflowFailException.
        "retries": 2,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
    },
) as dag:
    check_conf, prepare_run, wait_for_input = run_start.begin_run(tasks.prepare_run)
    preprocess = AttachOrCreateProcessingOperator(
        task_id=tasks.PREPROCESS_TASK,
        config=planned("requests", tasks.PREPROCESS_TASK),
        **JOB_ARGS,
    )
    train_or_tune = BranchPythonOperator(
        task_id=tasks.ROUTE_TASK, python_callable=tasks.train_or_tune
    )
    train = AttachOrCreateTrainingOperator(
        task_id=tasks.TRAIN_TASK,
        config=planned("requests", tasks.TRAIN_TASK),
        print_log=planned("settings", "stream_training_log"),
        **JOB_ARGS,
    )
    tune = AttachOrCreateTuningOperator(
        task_id=tasks.TUNE_TASK,
        config=planned("requests", tasks.TUNE_TASK),
        **JOB_ARGS,
    )
    evaluate = AttachOrCreateProcessingOperator(
        task_id=tasks.EVALUATE_TASK,
        config=planned("requests", tasks.EVALUATE_TASK),
        build_config=tasks.evaluate_config,  # reads the model train (or tune's best job) made
        trigger_rule="none_failed_min_one_success",  # one of train and tune is skipped
        **JOB_ARGS,
    )
    accuracy_gate = BranchPythonOperator(
        task_id=tasks.GATE_TASK, python_callable=tasks.accuracy_gate
    )
    create_model = CreateOrReuseModelOperator(
        task_id=tasks.MODEL_TASK,
        config=planned("requests", tasks.MODEL_TASK),
        build_config=tasks.model_config,  # serves the model train made
        **FROM_PLAN,
    )
    register_model_version = RegisterOnceOperator(
        task_id=tasks.REGISTER_TASK,
        config=planned("requests", tasks.REGISTER_TASK),
        build_request=tasks.model_package_config,  # train's model, the gate's accuracy
        **FROM_PLAN,
    )
    approve_model_version = ModelVersionApprovalOperator(
        task_id=tasks.APPROVAL_TASK,
        register_task_id=tasks.REGISTER_TASK,
        gate_task_id=tasks.GATE_TASK,
        **FROM_PLAN,
        retries=0,  # an answer is given once; a retry would ask again
    )
    model_rejected = PythonOperator(task_id=tasks.REJECT_TASK, python_callable=tasks.model_rejected)
    should_deploy = ShortCircuitOperator(
        task_id=tasks.DEPLOY_GATE_TASK,
        python_callable=tasks.should_deploy,
        ignore_downstream_trigger_rules=False,  # skip the deploy only; the summary still runs
    )
    deploy = DeployEndpointOperator(
        task_id=tasks.DEPLOY_TASK,
        config=planned("requests", tasks.DEPLOY_TASK),
        build_config=tasks.endpoint_config,  # the model create_model made
        **JOB_ARGS,
    )
    smoke_check = PythonOperator(task_id=tasks.SMOKE_TASK, python_callable=tasks.smoke_check)
    summary = PythonOperator(
        task_id="summary", python_callable=tasks.summarize, trigger_rule="all_done", retries=0
    )

    check_conf >> prepare_run >> wait_for_input >> preprocess >> train_or_tune >> [train, tune]
    [train, tune] >> evaluate >> accuracy_gate
    accuracy_gate >> [create_model, register_model_version, model_rejected]
    register_model_version >> approve_model_version
    [create_model, approve_model_version] >> should_deploy >> deploy >> smoke_check
    [create_model, register_model_version, model_rejected, smoke_check] >> summary
