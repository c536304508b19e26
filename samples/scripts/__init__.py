"""Sample scoring scripts for trying alerts: one that answers slowly, one that fails at a rate.

Deploy a folder holding them as a deployment's ``code_configuration.code`` and pick one
with ``scoring_script``; they need only the inference server (no model, no numpy).
"""
