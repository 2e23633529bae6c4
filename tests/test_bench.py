"""The benchmark suite (tinykws.bench) in quick form on a tiny model: it runs,
writes results.md and results.json, and every figure stands beside a baseline
measured in the same run. Timings are never asserted; instruction counts
from QEMU are exact, so the optimized kernels must beat the portable ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import codegen_models as cm
from tinykws.bench import BenchOptions, Results, Row, parse_args, render_markdown, run_bench, write_results
from tinykws.toolchain import toolchain_available


@pytest.fixture(scope="module")
def tiny_model() -> bytes:
    return cm.to_int8_tflite(cm.ds_cnn_like(filters=8, blocks=1), (49, 10, 1))


def test_quick_bench_on_a_tiny_model(tiny_model, tmp_path):
    opts = BenchOptions(out=tmp_path / "bench", presets=("tiny",), repeats=1, host_inputs=5, device_inputs=2,
                        sections=("device", "frontend", "host", "memory"))
    steps = []
    results = run_bench(opts, models={"tiny": tiny_model}, progress=lambda: steps.append(1))
    md, js = write_results(results, opts)
    text, payload = md.read_text(), json.loads(js.read_text())
    assert "## Memory" in text and "## Host latency per inference (median)" in text
    assert len(payload["rows"]) == len(results.rows) and steps
    arena = next(r for r in results.rows if r.figure == "tiny arena")
    assert arena.baseline and arena.ratio > 1  # smaller than TFLite Micro's arena
    host = [r for r in results.rows if r.section.startswith("Host latency")]
    assert host and all(r.ours > 0 and r.baseline > 0 for r in host)
    if toolchain_available("cortex-m4")[0]:
        device = next(r for r in results.rows if r.figure == "tiny optimized kernels (DSP)")
        assert device.ratio > 1, device  # exact counts: fewer instructions than the portable kernels
        assert "optimized 2/2" in device.note  # bit-exact with TFLite Micro
        frontend = [r for r in results.rows if "feature frame" in r.section]
        assert frontend and all(0 < r.ours < r.baseline for r in frontend)


def test_rows_render_with_and_without_a_baseline(tmp_path):
    results = Results()
    results.add("S", "cost", 50.0, 100.0, "base", "instructions")
    results.add("S", "throughput", 30.0, 10.0, "base", "clips/s", higher_is_better=True)
    results.add("S", "alone", 7.0, None, "", "clips/s", higher_is_better=True)
    assert [r.ratio for r in results.rows] == [2.0, 3.0, None]
    text = render_markdown(results, BenchOptions(out=tmp_path, presets=("x",)))
    assert "| cost | 50 instructions | 100 | base | 2.00x | — | — |" in text
    assert "| alone | 7.0 clips/s | — |  | — | — | — |" in text
    assert Row("S", "f", 1.0, 0.0, "", "bytes").ratio is None


def test_published_figures_sit_in_their_own_labelled_column(tmp_path):
    """A figure not measured in this run is never a baseline (no ratio) and names its public source."""
    results = Results()
    results.add("S", "ours", 2.0e6, None, "", "instructions", note="published: x", published=21_840_000,
                published_source="MLPerf Tiny inference results")
    assert results.rows[0].ratio is None
    text = render_markdown(results, BenchOptions(out=tmp_path, presets=("x",)))
    assert "| ours | 2,000,000 instructions | — |  | — | 21,840,000 | MLPerf Tiny inference results |" in text
    assert "reference.md" not in text


def test_quick_option_measures_s_only():
    assert parse_args(["--quick", "--out", "x"]).presets == ("ds-cnn-s",)
    assert parse_args(["--out", "x"]).presets == ("ds-cnn-s", "ds-cnn-m", "ds-cnn-l")
    assert parse_args(["--presets", "ds-cnn-m"]).out == Path("bench")


def test_stream_section_says_when_there_is_no_always_on_model(tmp_path):
    opts = BenchOptions(out=tmp_path / "bench", presets=(), sections=("stream",), stream_model=tmp_path / "none")
    results = run_bench(opts, models={}, progress=lambda: None)
    assert not results.rows and "no shipped always-on model" in results.facts["stream_skipped"]
