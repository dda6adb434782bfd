# Airflow 3 image with the project's locked dependencies (requirements.lock).
FROM apache/airflow:3.3.2-python3.11
COPY requirements.lock /requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /requirements.lock
