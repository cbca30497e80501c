"""Recommending: feature encoding, baselines, the onnxruntime engine, re-ranking, metrics."""
