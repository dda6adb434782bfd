"""Offline stand-in for the AWS endpoints the pipeline uses.

One loopback HTTP endpoint serves S3, STS, IAM and CloudWatch Logs through moto's server
application, and SageMaker / SageMaker Runtime through this package's own engine, which really
runs the jobs. It is a development and test tool, not production compute.
"""
