"""The onnxruntime engine: the only module that imports onnxruntime."""

from __future__ import annotations

import onnxruntime as ort


def available_providers() -> list[str]:
    """Execution providers this onnxruntime build offers (CPU always among them)."""
    return list(ort.get_available_providers())


def runtime_version() -> str:
    return ort.__version__
