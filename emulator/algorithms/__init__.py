"""Programs that play SageMaker's built-in algorithm containers inside a job sandbox."""
