"""Accuracy, confusion matrices and score-error metrics (as ST Edge AI validate reports them)."""

from __future__ import annotations

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def per_class(conf: np.ndarray, labels: tuple[str, ...]) -> dict[str, dict[str, float]]:
    out = {}
    for i, label in enumerate(labels):
        tp = conf[i, i]
        predicted, actual = conf[:, i].sum(), conf[i, :].sum()
        out[label] = {"precision": float(tp / predicted) if predicted else 0.0,
                      "recall": float(tp / actual) if actual else 0.0, "support": int(actual)}
    return out


def score_errors(reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """Error of ``test`` scores against ``reference`` scores, over all clips and classes."""
    ref = np.asarray(reference, np.float64)
    err = np.asarray(test, np.float64) - ref
    ref_flat, test_flat = ref.reshape(len(ref), -1), (ref + err).reshape(len(ref), -1)
    norms = np.linalg.norm(ref_flat, axis=1) * np.linalg.norm(test_flat, axis=1)
    cosine = np.where(norms > 0, (ref_flat * test_flat).sum(axis=1) / np.maximum(norms, 1e-30), 1.0)
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "max_abs": float(np.max(np.abs(err))) if err.size else 0.0,
        "mean": float(np.mean(err)),
        "std": float(np.std(err)),
        "l2_relative": float(np.linalg.norm(err) / max(np.linalg.norm(ref), 1e-30)),
        "cosine_similarity": float(np.mean(cosine)),
    }


def lsb_histogram(a: np.ndarray, b: np.ndarray) -> dict[str, int]:
    """Histogram of |a - b| in integer steps (LSBs), over every output element."""
    diff = np.abs(np.asarray(a, np.int32) - np.asarray(b, np.int32)).reshape(-1)
    values, counts = np.unique(diff, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts)}


def identical_rows(a: np.ndarray, b: np.ndarray) -> float:
    """Share of clips whose whole output vector is identical."""
    a, b = np.asarray(a).reshape(len(a), -1), np.asarray(b).reshape(len(b), -1)
    return float(np.mean(np.all(a == b, axis=1))) if len(a) else 1.0
