"""The benchmark suite: every figure beside its baseline, measured in the same run.

    python -m tinykws.bench --out bench [--quick]      (or `make bench`)

writes ``bench/results.md`` and ``bench/results.json``:

- instructions per inference on a Cortex-M4 (QEMU mps2-an386, ``-icount
  shift=0``, after one warm-up; the slowest of the timed runs) for DS-CNN
  S/M/L, portable kernels vs the optimized (DSP) kernels, each checked
  bit-exact against TFLite Micro; for S, published MLPerf Tiny figures in a
  separate column labelled with their source; S also on a Cortex-M55 (QEMU mps3-an547);
- with ``--tflm-dir`` (``make bench TFLM_DIR=DIR``), TFLite Micro itself built for the
  Cortex-M4 (reference and CMSIS-NN kernels) and run beside the engine (``bench_tflm``);
- instructions per 20 ms feature frame of the C front end, portable vs
  optimized arithmetic, on both cores;
- host latency per inference: our engine compiled for the host (-O2 and -O3)
  vs LiteRT (XNNPACK, one thread) vs the TFLite Micro runtime (median of
  repeats);
- arena and flash bytes vs the TFLite Micro runtime's arena and the .tflite;
- MFCC throughput (numpy vs tf.signal) and training throughput in Python.

The models are untrained presets with random BatchNorm statistics, so the
suite needs no data. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host_platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.bench_tflm import tflm_section

#: Published figures for DS-CNN-S (the MLPerf Tiny KWS model) on a Cortex-M4F, shown beside ours in a
#: separate column with their public source: they are cycles on a real board (STM32L4R5, 120 MHz),
#: not instructions in this run's emulator, so no ratio is computed from them.
MLPERF_TINY_SOURCE = "MLPerf Tiny inference results (KWS, DS-CNN-S), STM32L4R5 Cortex-M4F 120 MHz"
PUBLISHED_DS_CNN_S_M4: tuple[tuple[str, float, str], ...] = (
    ("TFLite Micro 2.3 reference kernels", 21_840_000, "v0.5: 182 ms = ~21.8 M cycles"),
    ("microTVM + CMSIS-NN", 12_000_000, "v1.0: 100 ms = ~12.0 M cycles"),
    ("ST X-CUBE-AI 7.3", 9_000_000, "v1.0: 75 ms = ~9.0 M cycles"),
)
PLATFORM_TITLES = {"cortex-m4": "Cortex-M4 (QEMU mps2-an386)", "cortex-m55": "Cortex-M55 (QEMU mps3-an547)"}


@dataclass
class Row:
    """One figure beside its baseline: ratio = baseline / ours (> 1: ours is better)
    for costs, or ours / baseline for throughputs (``higher_is_better``)."""

    section: str
    figure: str
    ours: float
    baseline: float | None
    baseline_name: str
    unit: str
    higher_is_better: bool = False
    note: str = ""
    published: float | None = None   # a figure from a public source (not measured here; no ratio)
    published_source: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not self.ours:
            return None
        return self.ours / self.baseline if self.higher_is_better else self.baseline / self.ours


#: The shipped models whose --stream cost the bench measures: the always-on model (VALID in time:
#: incremental engine) and the one-second classifier (SAME: today's full window at every inference).
STREAM_MODEL = Path("models") / "ds-cnn-s-stream-kws12"
FULL_WINDOW_MODEL = Path("models") / "ds-cnn-s-kws12"


@dataclass
class BenchOptions:
    out: Path
    presets: tuple[str, ...] = ("ds-cnn-s", "ds-cnn-m", "ds-cnn-l")
    repeats: int = 5
    host_inputs: int = 200
    device_inputs: int = 3
    verify_inputs: int = 50
    training_clips: int = 2000
    mfcc_clips: int = 200
    host_inputs_per_preset: dict = field(default_factory=lambda: {"ds-cnn-m": 50, "ds-cnn-l": 20})
    sections: tuple[str, ...] = ("device", "frontend", "stream", "host", "memory", "python")
    stream_model: Path = STREAM_MODEL
    full_window_model: Path = FULL_WINDOW_MODEL
    tflm_dir: Path | None = None  # a TensorFlow Lite Micro tree: run it on the Cortex-M4 (bench_tflm)


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def add(self, *args, **kwargs) -> None:
        self.rows.append(Row(*args, **kwargs))


# --- models ----------------------------------------------------------------------------

def randomize_batchnorm(model, seed: int = 0) -> None:
    """Random BatchNorm statistics, so activations of an untrained model are not trivial."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n).astype(np.float32), rng.normal(0.0, 0.3, n).astype(np.float32),
                               rng.normal(0.0, 0.3, n).astype(np.float32), rng.uniform(0.5, 2.0, n).astype(np.float32)])


def preset_keras_model(name: str, seed: int = 0):
    import keras

    from tinykws.config import FeatureConfig
    from tinykws.model.build import PRESETS, build_model

    keras.utils.set_random_seed(seed)
    model = build_model(PRESETS[name], FeatureConfig(), 12)
    randomize_batchnorm(model, seed)
    return model


def preset_int8_model(name: str, seed: int = 0) -> bytes:
    """An untrained preset, full-int8 quantized on random representative inputs."""
    from tinykws.export.quantize import convert_int8

    model = preset_keras_model(name, seed)
    representative = np.random.default_rng(seed).normal(0.0, 1.0, (32, 49, 10, 1)).astype(np.float32)
    return convert_int8(model, representative)


# --- measurements ------------------------------------------------------------------------

def _device_counts(model: bytes, platform: str, work: Path, n_inputs: int) -> tuple[dict[str, int], str]:
    """Instructions per inference (slowest timed run) of both kernel variants, and bit-exactness."""
    from tinykws.codegen import generate_engine
    from tinykws.codegen.device import build_device_program, run_device_program
    from tinykws.codegen.bitexact import compare_outputs, random_inputs
    from tinykws.verify.engines import TFLMEngine

    engine = generate_engine(model)
    x = random_inputs(max(n_inputs, 1), engine.model.tensors[engine.model.input].size, seed=1)
    reference = TFLMEngine(model).run(x)
    counts, exact = {}, []
    for kernels in ("portable", "optimized"):
        elf = build_device_program(engine, work / f"{platform}-{kernels}", platform=platform, kernels=kernels)
        run = run_device_program(elf, engine, x, platform=platform)
        report = compare_outputs(run.outputs, reference)
        counts[kernels] = run.instructions_max
        exact.append(f"{kernels} {report.n_identical}/{report.n_inputs}")
    return counts, ", ".join(exact)


def device_section(results: Results, models: dict[str, bytes], opts: BenchOptions, work: Path, step) -> None:
    """Instructions per inference on the Cortex-M4 (and M55 for S), portable vs optimized kernels."""
    from tinykws.toolchain import toolchain_available

    available, why_not = toolchain_available("cortex-m4")
    if not available:
        results.facts["device_skipped"] = why_not
        return
    section = f"{PLATFORM_TITLES['cortex-m4']}, instructions per inference"
    for name, model in models.items():
        counts, exact = _device_counts(model, "cortex-m4", work / name, opts.device_inputs)
        step()
        step()
        note = f"bit-exact with TFLite Micro: {exact}"
        results.add(section, f"{name} optimized kernels (DSP)", counts["optimized"], counts["portable"],
                    "our portable kernels", "instructions", note=note)
        if name == "ds-cnn-s":
            results.facts["tflm_cortex_m"] = ("TFLite Micro on the Cortex-M is not run by this bench: the rows "
                                              "below show published figures, labelled with their source")
            for label, value, detail in PUBLISHED_DS_CNN_S_M4:
                results.add(section, f"{name} optimized kernels (DSP)", counts["optimized"], None,
                            "", "instructions", note=f"published: {label}, {detail} (cycles, not instructions)",
                            published=value, published_source=MLPERF_TINY_SOURCE)
    if "ds-cnn-s" in models and toolchain_available("cortex-m55")[0]:
        counts, exact = _device_counts(models["ds-cnn-s"], "cortex-m55", work / "m55", opts.device_inputs)
        results.add(f"{PLATFORM_TITLES['cortex-m55']}, instructions per inference",
                    "ds-cnn-s optimized kernels (DSP, Helium for 1x1 convolutions)", counts["optimized"],
                    counts["portable"], "our portable kernels", "instructions",
                    note=f"bit-exact with TFLite Micro: {exact}")
        step()


def frontend_section(results: Results, work: Path, step) -> None:
    """Instructions per 20 ms frame of the C front end (stream mode), portable vs optimized arithmetic."""
    from tinykws.config import FeatureConfig, Normalisation
    from tinykws.audio.frontend import frontend_dir, render_frontend
    from tinykws.toolchain import build_elf, run_firmware, toolchain_available

    features = FeatureConfig()
    norm = Normalisation(mean=(0.0,) * features.n_mfcc, std=(1.0,) * features.n_mfcc)
    src = work / "frontend"
    render_frontend(src, features, norm, 0.05, 0)
    sources = [*sorted(src.glob("*.c")), frontend_dir() / "tools" / "tk_features_cli.c"]
    pcm = (np.random.default_rng(0).normal(0, 3000, features.clip_samples)).astype(np.int16)
    pcm.tofile(work / "pcm.raw")
    for platform in PLATFORM_TITLES:
        if not toolchain_available(platform)[0]:
            continue
        counts = {}
        for variant, flags in (("portable", ("-DTK_FEATURES_PORTABLE",)), ("optimized", ())):
            elf = build_elf(sources, work / f"frontend-{platform}-{variant}.elf", include_dirs=[src],
                            platform=platform, extra_flags=flags)
            result = run_firmware(elf, ["stream", work / "pcm.raw", work / "features.out"], platform=platform,
                                  timeout=300)
            counts[variant] = result.metrics().get("instructions_per_frame", 0)
        results.add(f"{PLATFORM_TITLES[platform]}, instructions per 20 ms feature frame",
                    "C front end: libm-free log, fused multiply-add", counts["optimized"], counts["portable"],
                    "portable arithmetic (logf, separate multiply and add)", "instructions")
    step()


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def host_section(results: Results, models: dict[str, bytes], opts: BenchOptions, work: Path, step) -> None:
    """Latency per inference on this machine, timed side by side (median of repeats)."""
    from tinykws.codegen.host import CEngine
    from tinykws.codegen.bitexact import random_inputs
    from tinykws.verify.engines import LiteRTEngine, TFLMEngine

    for name, model in models.items():
        engines = {"c": CEngine(model, work / f"host-{name}"),
                   "c-O3": CEngine(model, work / f"host-{name}-O3", opt="-O3"),
                   "litert": LiteRTEngine(model, reference=False, threads=1), "tflm": TFLMEngine(model)}
        n = opts.host_inputs_per_preset.get(name, opts.host_inputs)
        x = random_inputs(n, engines["c"].input_size, seed=2)
        per = {k: _median_seconds(lambda e=e: e.run(x), opts.repeats) / len(x) * 1e6 for k, e in engines.items()}
        for ours, label in (("c", "gcc -O2"), ("c-O3", "gcc -O3")):
            for key, baseline in (("litert", "LiteRT (XNNPACK, 1 thread)"), ("tflm", "TFLite Micro runtime")):
                results.add("Host latency per inference (median)", f"{name} C engine ({label}, portable kernels)",
                            per[ours], per[key], baseline, "µs")
        step()


def memory_section(results: Results, models: dict[str, bytes], work: Path, step) -> None:
    from tinykws.codegen import generate_engine
    from tinykws.codegen.host import cortex_m4_flash_bytes
    from tinykws.verify.engines import tflm_arena_bytes

    for name, model in models.items():
        engine = generate_engine(model)
        results.add("Memory", f"{name} arena", engine.arena_bytes, tflm_arena_bytes(model),
                    "TFLite Micro runtime arena", "bytes")
        try:
            for kernels, what in (("portable", "portable kernels, int8 weights"),
                                  ("optimized", "DSP kernels, pre-unpacked int16 weights")):
                flash = cortex_m4_flash_bytes(engine, work / f"flash-{name}", kernels)
                results.add("Memory", f"{name} engine flash (Cortex-M4, -Os, {what}; code + constants)", flash,
                            len(model), "the .tflite alone (TFLite Micro also needs its runtime)", "bytes")
        except Exception as exc:  # the cross compiler is optional
            results.facts[f"{name}_flash_skipped"] = str(exc)[:200]
        step()


def tf_signal_mfcc(audio: np.ndarray, cfg) -> np.ndarray:
    """The MFCC of the MLPerf Tiny reference pipeline, with tf.signal."""
    import tensorflow as tf

    stft = tf.signal.stft(audio.astype(np.float32), cfg.window_samples, cfg.hop_samples, fft_length=cfg.fft_size)
    mel_w = tf.signal.linear_to_mel_weight_matrix(cfg.n_mels, cfg.n_bins, cfg.sample_rate, cfg.fmin_hz, cfg.fmax_hz)
    log_mel = tf.math.log(tf.tensordot(tf.abs(stft), mel_w, 1) + cfg.log_offset)
    return tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., : cfg.n_mfcc].numpy()


def python_section(results: Results, opts: BenchOptions, step) -> None:
    """MFCC throughput (numpy vs tf.signal) and training throughput, clips per second."""
    from tinykws.audio.mfcc import mfcc
    from tinykws.config import FeatureConfig

    cfg = FeatureConfig()
    audio = np.random.default_rng(3).normal(0, 0.1, (opts.mfcc_clips, cfg.clip_samples)).astype(np.float32)
    t_np = _median_seconds(lambda: mfcc(audio, cfg), max(1, opts.repeats // 2))
    t_tf = _median_seconds(lambda: tf_signal_mfcc(audio, cfg), max(1, opts.repeats // 2))
    results.add("Python throughput", "MFCC, numpy (tinykws.audio.mfcc.mfcc)", len(audio) / t_np, len(audio) / t_tf,
                "tf.signal", "clips/s", higher_is_better=True)
    step()
    training_section(results, opts)
    step()


def _fit_clips_per_s(model, make_dataset: Callable[[int], object], n_clips: int) -> float:
    """End-to-end clips/s of one epoch of ``make_dataset(seed)``, after a traced warm-up epoch."""
    model.fit(make_dataset(0), epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(make_dataset(1), epochs=1, verbose=0)
    return n_clips / (time.perf_counter() - start)


def training_section(results: Results, opts: BenchOptions) -> None:
    """Training throughput of DS-CNN-S with the recipe's augmentation (time shift, noise mixing,
    silence and unknown shares), MFCC included: the tf.data pipeline against the per-clip numpy
    generator it replaced, on the same clips, model and settings, in this process."""
    import tensorflow as tf

    from tinykws.audio.mfcc import compute_normalisation, mfcc
    from tinykws.config import RunConfig
    from tinykws.data.augment import reference_batches
    from tinykws.data.pipeline import NoiseBank, plan_epoch, training_dataset
    from tinykws.model.train import compile_model

    cfg = RunConfig()
    fc, tc = cfg.features, cfg.train
    rng = np.random.default_rng(5)
    audio = (rng.normal(0, 0.1, (opts.training_clips, fc.clip_samples)) * np.hanning(fc.clip_samples)).astype(np.float32)
    y = rng.integers(0, len(cfg.labels), opts.training_clips).astype(np.int32)
    noise = [rng.normal(0, 0.3, 10 * fc.clip_samples).astype(np.float32) for _ in range(3)]
    cfg = cfg.replace(normalisation=compute_normalisation(mfcc(audio[:200], fc)))
    bank, bank_noise = (audio * 32768).astype(np.int16), NoiseBank(noise, fc.clip_samples)
    n_clips = len(plan_epoch(y, cfg.labels, tc, fc, bank_noise, np.random.default_rng(1)))
    spec = (tf.TensorSpec((None, fc.n_frames, fc.n_mfcc, 1), tf.float32),
            tf.TensorSpec((None, len(cfg.labels)), tf.float32))

    def new(seed: int):
        plan = plan_epoch(y, cfg.labels, tc, fc, bank_noise, np.random.default_rng(seed))
        return training_dataset(plan, bank, bank_noise, fc, tc, cfg.normalisation, len(cfg.labels), seed)

    def old(seed: int):
        return tf.data.Dataset.from_generator(lambda: reference_batches(audio, y, noise, cfg, seed),
                                              output_signature=spec).prefetch(2)

    rates = {}
    for name, make in (("old", old), ("new", new)):
        model = preset_keras_model("ds-cnn-s")
        compile_model(model, cfg)
        rates[name] = _fit_clips_per_s(model, make, n_clips)
    results.add("Training throughput (DS-CNN-S, batch 100, augmentation and MFCC included)",
                "tf.data pipeline (tinykws.data.pipeline)", rates["new"], rates["old"],
                "per-clip numpy generator (the first pipeline)", "clips/s", higher_is_better=True,
                note=f"{n_clips} clips per epoch; oneDNN {os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')}")
    model = preset_keras_model("ds-cnn-s")
    compile_model(model, cfg)
    x = np.concatenate([xb for xb, _ in reference_batches(audio, y, noise, cfg, 2)])
    labels = np.eye(len(cfg.labels), dtype=np.float32)[rng.integers(0, len(cfg.labels), len(x))]
    rate = _fit_clips_per_s(model, lambda s: tf.data.Dataset.from_tensor_slices((x, labels)).batch(100), len(x))
    results.add("Training throughput (DS-CNN-S, batch 100, augmentation and MFCC included)",
                "Keras fit alone, features precomputed (the ceiling)", rate, None, "", "clips/s",
                higher_is_better=True)


# --- report ------------------------------------------------------------------------------

def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("instructions", "bytes"):
        return f"{int(round(value)):,}"
    return f"{value:,.1f}"


def render_markdown(results: Results, opts: BenchOptions) -> str:
    lines = ["# tinykws benchmark", "",
             f"Presets: {', '.join(opts.presets)} (untrained, random BatchNorm statistics, int8). "
             "Ratios: how many times better ours is than the baseline (cost: baseline / ours; "
             "throughput: ours / baseline).", ""]
    section = None
    for row in results.rows:
        if row.section != section:
            section = row.section
            lines += ["", f"## {section}", "",
                      "| figure | ours | baseline (same run) | baseline is | ratio | published | published source "
                      "| note |", "|---|---:|---:|---|---:|---:|---|---|"]
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}x" if row.ratio >= 0.1 else f"{row.ratio:.3g}x"
        published = "—" if row.published is None else f"{row.published:,.0f}"
        lines.append(f"| {row.figure} | {_fmt(row.ours, row.unit)} {row.unit} | {_fmt(row.baseline, row.unit)} | "
                     f"{row.baseline_name} | {ratio} | {published} | {row.published_source or '—'} | {row.note} |")
    lines += ["", "## Facts", ""] + [f"- {k}: {v}" for k, v in sorted(results.facts.items())]
    return "\n".join(lines) + "\n"


def write_results(results: Results, opts: BenchOptions) -> tuple[Path, Path]:
    opts.out.mkdir(parents=True, exist_ok=True)
    md, js = opts.out / "results.md", opts.out / "results.json"
    md.write_text(render_markdown(results, opts))
    payload = {"rows": [dict(vars(r), ratio=r.ratio) for r in results.rows], "facts": results.facts,
               "presets": list(opts.presets)}
    js.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return md, js


# --- driver ------------------------------------------------------------------------------

def stream_section(results: Results, opts: BenchOptions, work: Path, step) -> None:
    """Instructions per second of audio of the cortex-m4 (and m55) bundle's --stream mode: the
    incremental engine of the always-on model against today's full-window stream, same recording."""
    from tinykws.stream.bench import stream_cost, synthetic_recording, today_full_window
    from tinykws.toolchain import toolchain_available

    if not (opts.stream_model / "int8.tflite").exists():
        results.facts["stream_skipped"] = f"{opts.stream_model}: no shipped always-on model"
        step()
        return
    wav = synthetic_recording(work / "stream.wav", 20)
    for platform in PLATFORM_TITLES:
        if not toolchain_available(platform)[0]:
            continue
        cost = stream_cost(opts.stream_model, work / f"stream-{platform}", wav=wav, target=platform)
        section = f"{PLATFORM_TITLES[platform]}, --stream instructions per second of audio"
        note = (f"{opts.stream_model.name}, front end + model + recognizer, {cost.seconds:g} s recording; "
                f"stream state {cost.incremental.state_bytes:,} B")
        if (opts.full_window_model / "int8.tflite").exists():
            today = today_full_window(opts.full_window_model, work / f"today-{platform}", wav, platform)
            results.add(section, "incremental engine (always-on model)", cost.incremental.per_second,
                        today.per_second, f"today's full window ({opts.full_window_model.name}, every "
                        f"{today.hop_ms:g} ms)", "instructions", note=note)
        results.add(section, "incremental engine (always-on model)", cost.incremental.per_second,
                    cost.full_window.per_second, "full window, same model", "instructions", note=note)
        results.add(section, "model alone, incremental", cost.incremental.model_per_second,
                    cost.full_window.model_per_second, "full window, same model", "instructions",
                    note=f"{cost.incremental.model_per_inference:,} vs {cost.full_window.model_per_inference:,} "
                         "per inference")
    step()


def _total_steps(opts: BenchOptions) -> int:
    n = len(opts.presets)
    per = {"device": 2 * n + ("ds-cnn-s" in opts.presets), "frontend": 1, "host": n, "memory": n, "python": 2,
           "stream": 1}
    return n + sum(per[s] for s in opts.sections)


def run_bench(opts: BenchOptions, models: dict[str, bytes] | None = None, progress=None) -> Results:
    """Run the selected sections; ``models`` (name -> int8 .tflite) skips building the presets."""
    results = Results()
    results.facts.update({"python": sys.version.split()[0], "machine": host_platform.machine(),
                          "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())})
    step = progress or (lambda: None)
    if models is None:
        models = {}
        for name in opts.presets:
            models[name] = preset_int8_model(name)
            step()
    with tempfile.TemporaryDirectory(prefix="tinykws-bench-") as tmp:
        work = Path(tmp)
        if "device" in opts.sections:
            device_section(results, models, opts, work, step)
            tflm_section(results, opts.tflm_dir, work)
        if "frontend" in opts.sections:
            frontend_section(results, work, step)
        if "stream" in opts.sections:
            stream_section(results, opts, work, step)
        if "host" in opts.sections:
            host_section(results, models, opts, work, step)
        if "memory" in opts.sections:
            memory_section(results, models, work, step)
        if "python" in opts.sections:
            python_section(results, opts, step)
    return results


def parse_args(argv: list[str] | None = None) -> BenchOptions:
    parser = argparse.ArgumentParser(prog="python -m tinykws.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench"), help="directory for results.md and results.json")
    parser.add_argument("--quick", action="store_true", help="DS-CNN-S only, fewer repeats")
    parser.add_argument("--presets", nargs="+", default=None, help="presets to measure (default: S, M, L)")
    parser.add_argument("--tflm-dir", type=Path, default=None,
                        help="a TensorFlow Lite Micro tree: build and run it on the Cortex-M4 beside the engine")
    args = parser.parse_args(argv)
    opts = BenchOptions(out=args.out)
    if args.quick:
        opts = BenchOptions(out=args.out, presets=("ds-cnn-s",), repeats=3, host_inputs=100, training_clips=600,
                            mfcc_clips=100)
    if args.presets:
        opts.presets = tuple(args.presets)
    opts.tflm_dir = args.tflm_dir
    return opts


def main(argv: list[str] | None = None) -> int:
    from tinykws import tfquiet

    tfquiet.install()
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as `tinykws train` runs
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    opts = parse_args(argv)
    console = Console(stderr=True)
    with Progress(TextColumn("bench"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("bench", total=_total_steps(opts))
        results = run_bench(opts, progress=lambda: progress.advance(task))
    md, js = write_results(results, opts)
    print(md.read_text())
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
