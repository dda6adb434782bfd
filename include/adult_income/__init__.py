"""Settings, names, request builders and gate logic for the Adult income DAGs.

Nothing here imports pandas, xgboost, scikit-learn or the SageMaker SDK at module level, so DAG
files that import it parse fast and offline.
"""
