"""
# Adult income: the same pipeline, delegated to a native SageMaker Pipeline

Airflow schedules, parameterises and watches; SageMaker Pipelines runs the steps:

```
check conf ─► prepare run ─► wait for input ─► upsert pipeline ─► start pipeline (and wait)
           ─► summary (always)

SageMaker Pipeline: Preprocess ─► Train ─► Evaluate ─► AccuracyGate
                    AccuracyGate ├─ true  ─► CreateModel, RegisterModel
                                 └─ false ─► (nothing registered)
```

- **prepare run** reads the settings (Airflow Variables, as the main DAG) once and plans the
  run: its layout and the execution's parameters.
- **upsert pipeline** builds the definition with the SageMaker Python SDK from the same request
  bodies as `adult_income_pipeline` (same scripts, images, hyperparameters) and creates the
  pipeline, or updates it only when the definition changed.
- **training_mode** picks the pipeline: `adult-income-xgboost-pipeline` (built-in algorithm)
  or `adult-income-xgboost-pipeline-script` (train.py in script mode); the mode is the Train
  step's shape, a build option rather than a pipeline parameter.
- **start pipeline** (SageMakerStartPipelineOperator) passes the planned pipeline parameters
  (its templated `pipeline_params`, shown in the Rendered Template tab) and waits; a retried
  task re-attaches to its run's execution instead of starting another.
- **summary** records every step's status, the decision (`registered` | `rejected`), the
  accuracy and the registered version in `summary.json`, with the main DAG's keys.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.sdk import DAG

from include.adult_income import native_tasks, settings, tasks
from include.adult_income.operators import AttachOrStartPipelineOperator
from include.adult_income.params import native_pipeline_params
from include.adult_income.tasks import planned

with DAG(
    dag_id="adult_income_native_pipeline",
    description="UCI Adult income as a native SageMaker Pipeline, started and watched by Airflow",
    doc_md=__doc__,
    schedule="@daily",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=3,
    params=native_pipeline_params(),
    tags=["sagemaker", "sagemaker-pipelines", "xgboost", "adult-income"],
    default_args={"retries": 2},  # the delay: [core] default_task_retry_delay
) as dag:
    check_conf = PythonOperator(task_id="check_conf", python_callable=tasks.check_conf)
    prepare_run = PythonOperator(
        task_id=tasks.PLAN_TASK,
        python_callable=native_tasks.prepare_run,
        op_kwargs={"variables": settings.templated()},
    )
    wait_for_input = PythonSensor(
        task_id="wait_for_input",
        python_callable=tasks.input_ready,
        op_kwargs={
            "input_uri": planned("layout", "input_uri"),
            "aws_conn_id": planned("settings", "aws_conn_id"),
            "region": planned("settings", "region"),
        },
        poke_interval=300,  # a daily export: checking every five minutes is plenty
        timeout=6 * 3600,
        mode="reschedule",
    )
    upsert_pipeline = PythonOperator(
        task_id=native_tasks.UPSERT_TASK, python_callable=native_tasks.upsert_pipeline
    )
    start_pipeline = AttachOrStartPipelineOperator(
        task_id=native_tasks.START_TASK,
        pipeline_name=planned("pipeline", "name"),  # one pipeline per training_mode
        pipeline_params=planned("parameters"),
        aws_conn_id=planned("settings", "aws_conn_id"),
        check_interval=planned("settings", "poll_seconds"),
        render_template_as_native_obj=True,
    )
    summary = PythonOperator(
        task_id="summary",
        python_callable=native_tasks.summarize,
        trigger_rule="all_done",
        retries=0,
    )

    check_conf >> prepare_run >> wait_for_input >> upsert_pipeline >> start_pipeline >> summary
