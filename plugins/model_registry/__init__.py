"""The model-registry page: SageMaker's model registry in the Airflow UI (see
model_registry_plugin.py beside this package)."""
