"""Measuring binarizations: DIBCO metrics, the benchmark over collections, OCR, baselines."""
