"""
# Adult income: the same pipeline, delegated to a native SageMaker Pipeline

Airflow schedules, parameterises and watches; SageMaker Pipelines runs the steps:

```
check conf ─► prepare run ─► wait for input ─► upsert pipeline ─► start pipeline (and wait)
           ─► summary (always)

SageMaker Pipeline: Preprocess ─► Train (or Tune) ─► Evaluate ─► AccuracyGate
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
- **tuning_max_jobs** > 0 picks a tuning pipeline per training mode and **tuning_strategy**
  (`adult-income-xgboost-pipeline-tuning-bayesian`, `...-script-tuning-random`, ...): a Tune
  step (TuningStep) runs the main DAG's tuning job in Train's place, its size and objective
  pipeline parameters, and Evaluate reads the best training job's model
  (`Steps.Tune.TrainingJobSummaries[0]`); the summary names `tuning_job` and the best job.
- **start pipeline** (SageMakerStartPipelineOperator) passes the planned pipeline parameters
  (its templated `pipeline_params`, shown in the Rendered Template tab) and waits; a retried
  task re-attaches to its run's execution instead of starting another.
- **summary** records every step's status, the decision (`registered` | `rejected`), the
  accuracy and the registered version in `summary.json`, with the main DAG's keys.
"""

from __future__ import annotations

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from include.adult_income import native_tasks, run_start
from include.adult_income.operators import AttachOrStartPipelineOperator
from include.adult_income.params import native_pipeline_params
from include.adult_income.tasks import planned

with DAG(
    dag_id="adult_income_native_pipeline",
    description="UCI Adult income as a native SageMaker Pipeline, started and watched by Airflow",
    doc_md=__doc__,
    **run_start.DAILY,  # @daily from 2024-01-01, no catch-up, three runs at once
    params=native_pipeline_params(),
    tags=["sagemaker", "sagemaker-pipelines", "xgboost", "adult-income"],
    default_args={"retries": 2},  # the delay: [core] default_task_retry_delay
) as dag:
    check_conf, prepare_run, wait_for_input = run_start.begin_run(native_tasks.prepare_run)
    upsert_pipeline = PythonOperator(
        task_id=native_tasks.UPSERT_TASK, python_callable=native_tasks.upsert_pipeline
    )
    start_pipeline = AttachOrStartPipelineOperator(
        task_id=native_tasks.START_TASK,
        pipeline_name=planned("pipeline", "name"),  # one per training_mode and tuning_strategy
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
