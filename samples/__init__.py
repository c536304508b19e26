"""Sample models and scoring scripts made by code (nothing is downloaded)."""
