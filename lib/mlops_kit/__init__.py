"""mlops-kit: a teaching kit for Module 1 of the MLOps Zoomcamp."""

__version__ = "0.1.0"
