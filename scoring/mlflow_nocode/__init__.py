"""The scoring script of no-code MLflow deployments (``score.py``), copied as a code folder."""
