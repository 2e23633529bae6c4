"""The bench's TensorFlow Lite Micro rows: TFLM built and run on the Cortex-M4 in the bench's run.

With a TFLite Micro tree (``make bench TFLM_DIR=DIR``; ``make tflm-tree`` makes one), one model
(the shipped ``models/ds-cnn-s-kws12`` by default) is rendered twice: as the ``cortex-m4``
bundle (the tinykws engine) and as the ``tflm`` bundle, built for the Cortex-M4 with TFLM's
reference kernels and with its CMSIS-NN kernels (arm-none-eabi-gcc, TFLM's cortex_m_generic
target, its own flags; only the model's kernel sources are compiled, TFLM_KERNEL_SOURCES, which
links the same program as TFLM's full library). All three run the same app, golden clips and
``--bench`` loop in QEMU mps2-an386 with ``-icount shift=0``, and the same clips through
``--batch``. Measured:
instructions per inference, the arena (the engine's static arena; TFLM's
``arena_used_bytes()`` on the chip), the linked ``.text`` (code + read-only data) of the engine
and of TFLM's library and the model array, from the linker maps, and whether the int8
outputs are identical. Without a tree, the bench says so and keeps its published figures.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: TFLM's BUILD_TYPE for the bench: NDEBUG, error messages kept (the tflm bundle's default).
TFLM_BUILD_TYPE = "release_with_logs"
TFLM_KERNELS = ("reference", "cmsis_nn")
KERNEL_TITLES = {"reference": "TFLite Micro reference kernels", "cmsis_nn": "TFLite Micro + CMSIS-NN"}
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "ds-cnn-s-kws12"
SECTION = "Cortex-M4 (QEMU mps2-an386), TFLite Micro built and run in this run"
KERNELS_DIR = "tensorflow/lite/micro/kernels"
BATCH_CLIPS = 8
BUILD_TIMEOUT = 3 * 3600
RUN_TIMEOUT = 1800


@dataclass(frozen=True)
class Measured:
    """One build of one bundle, run in QEMU."""

    metrics: dict[str, int]
    text: dict[str, int]     # part -> linked .text bytes
    outputs: bytes           # --batch int8 outputs
    flags: dict[str, str]


# --- TFLM's sources ---------------------------------------------------------------------------

def kernel_sources(tflm_dir: Path, ops: tuple[str, ...], kernels: str) -> list[str]:
    """The kernel sources of `ops` in the TFLM tree: the file that defines ``Register_OP()``, its
    ``*_common.cc``, and ``kernel_util.cc``; with CMSIS-NN, the file of the same name in
    ``kernels/cmsis_nn/`` where there is one (TFLM's specialization rule)."""
    root = tflm_dir / KERNELS_DIR
    files: list[str] = []
    for op in ops:
        pattern = re.compile(rf"\bRegister_{op}\s*\(\s*\)\s*{{")
        found = [p for p in sorted(root.glob("*.cc")) if not p.name.endswith("_test.cc")
                 and pattern.search(p.read_text(errors="replace"))]
        if not found:
            raise FileNotFoundError(f"{root}: no kernel source defines Register_{op}()")
        for path in found:
            common = path.with_name(f"{path.stem}_common.cc")
            files += [path.name] + ([common.name] if common.is_file() else [])
    files.append("kernel_util.cc")
    chosen = []
    for name in dict.fromkeys(files):
        special = root / kernels / name
        chosen.append(f"{KERNELS_DIR}/{kernels}/{name}" if kernels != "reference" and special.is_file()
                      else f"{KERNELS_DIR}/{name}")
    return chosen


# --- the linker map ---------------------------------------------------------------------------

_OUTPUT_SECTION = re.compile(r"^(\.[\w.]+)(?:\s+0x[0-9a-f]+\s+0x[0-9a-f]+)?\s*$")
_INPUT = re.compile(r"^ (?:\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


def text_by_file(map_text: str) -> dict[str, int]:
    """Bytes of the output section .text (code and read-only data) per input file of a GNU ld map.
    Merged string sections are listed with their sizes before merging, so they run into the next
    input section: each input section ends at most where the next one starts."""
    entries: list[tuple[int, int, str]] = []
    section = ""
    for line in map_text.split("Linker script and memory map", 1)[-1].splitlines():
        head = _OUTPUT_SECTION.match(line)
        if head:
            section = head[1]
            continue
        match = _INPUT.match(line)
        if section == ".text" and match and not line.lstrip().startswith("*fill*"):
            entries.append((int(match[1], 16), int(match[2], 16), match[3].strip()))
    sizes: dict[str, int] = {}
    for i, (start, size, path) in enumerate(entries):
        end = start + size if i + 1 == len(entries) else min(start + size, max(start, entries[i + 1][0]))
        sizes[path] = sizes.get(path, 0) + end - start
    return sizes


def text_parts(map_text: str, parts: dict[str, str]) -> dict[str, int]:
    """.text bytes per part: `parts` maps a part to a regex on the input file; the rest is 'other'."""
    totals = {name: 0 for name in (*parts, "other")}
    for path, size in text_by_file(map_text).items():
        name = next((n for n, pattern in parts.items() if re.search(pattern, path)), "other")
        totals[name] += size
    return totals


# --- building and running the bundles ---------------------------------------------------------

def _make(bundle: Path, *args: str, timeout: float) -> str:
    done = subprocess.run(["nice", "-n", "10", "make", "-C", str(bundle), "--no-print-directory", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        from tinykws.toolchain import BuildError

        raise BuildError(f"make {' '.join(args)} in {bundle} failed:\n{(done.stdout + done.stderr)[-4000:]}")
    return done.stdout


def _metrics(stdout: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)=(-?\d+)\s*$", stdout, re.MULTILINE)}


def _run_bundle(bundle: Path, make_vars: list[str], pcm: np.ndarray) -> tuple[dict[str, int], bytes]:
    """`make run` (bench and self-test) and `make run ARGS="--batch ..."`; the metrics and outputs."""
    out = _make(bundle, *make_vars, "run", timeout=RUN_TIMEOUT)
    metrics = _metrics(out)
    metrics["self_test_pass"] = int("self_test=pass" in out)
    pcm.astype("<i2").tofile(bundle / "batch_in.raw")
    _make(bundle, *make_vars, "run", "ARGS=--batch batch_in.raw batch_out.raw", timeout=RUN_TIMEOUT)
    return metrics, (bundle / "batch_out.raw").read_bytes()


def measure_engine(bundle: Path, pcm: np.ndarray) -> Measured:
    """The cortex-m4 bundle (tinykws engine, its default DSP kernels)."""
    _make(bundle, timeout=BUILD_TIMEOUT)
    metrics, outputs = _run_bundle(bundle, [], pcm)
    memory = json.loads((bundle / "bundle.json").read_text())["memory"]
    metrics["arena_bytes"] = memory.get("C engine arena (all activations)", 0)
    text = text_parts((bundle / "build" / "tinykws-app.map").read_text(), {"engine": r"build/model/"})
    return Measured(metrics, text, outputs, {"build": "the cortex-m4 bundle's Makefile (-O2)"})


def measure_tflm(bundle: Path, tflm_dir: Path, kernels: str, ops: tuple[str, ...], pcm: np.ndarray) -> Measured:
    """The tflm bundle for the Cortex-M4 with `kernels`; TFLM's library built from the model's kernels."""
    make_vars = [f"TFLM_DIR={tflm_dir}", "TFLM_ARCH=cortex-m4", f"TFLM_KERNELS={kernels}",
                 f"TFLM_BUILD_TYPE={TFLM_BUILD_TYPE}", f"TFLM_PYTHON={sys.executable}",
                 "TFLM_KERNEL_SOURCES=" + " ".join(kernel_sources(tflm_dir, ops, kernels))]
    printed = _make(bundle, *make_vars, "-s", "flags", timeout=60) + _make(bundle, *make_vars, "-s", "tflm-flags",
                                                                             timeout=600)
    flags = dict(line.split("=", 1) for line in printed.splitlines() if "=" in line)
    _make(bundle, *make_vars, timeout=BUILD_TIMEOUT)
    metrics, outputs = _run_bundle(bundle, make_vars, pcm)
    text = text_parts((bundle / flags["map"]).read_text(),
                      {"library": r"libtensorflow-microlite\.a", "model": r"tflite/model_data\.o"})
    return Measured(metrics, text, outputs, flags)


# --- the bench section ------------------------------------------------------------------------

def batch_pcm(run_dir: Path, n: int = BATCH_CLIPS) -> np.ndarray:
    """Clips for the identical-outputs check: the golden test signals, then seeded noise at several levels."""
    from tinykws.firmware.golden import synthesise_clips
    from tinykws.run import open_run

    features = open_run(run_dir).config.features
    clips = [pcm for _, pcm in synthesise_clips(features, min(4, n))]
    rng = np.random.default_rng(14)
    while len(clips) < n:
        level = 100 * 3 ** (len(clips) - 4)  # 100, 300, 900, 2700 (int16 standard deviation)
        clips.append(np.clip(rng.normal(0, level, features.clip_samples), -32768, 32767))
    return np.stack(clips).astype(np.int16)


def _identical(a: bytes, b: bytes, n: int) -> str:
    rows = len(a) // n if n else 0
    same = sum(a[i * rows:(i + 1) * rows] == b[i * rows:(i + 1) * rows] for i in range(n)) if rows else 0
    return f"{same}/{n}"


def measure_all(tflm_dir: Path, model_dir: Path, work: Path) -> tuple[Measured, dict[str, Measured], int]:
    from tinykws.firmware import make_bundle
    from tinykws.firmware.model_facts import read_model_facts
    from tinykws.run import open_run

    ops = read_model_facts(open_run(model_dir)).ops
    pcm = batch_pcm(model_dir)
    engine = measure_engine(make_bundle(model_dir, "cortex-m4", work / "cortex-m4").path, pcm)
    tflm_bundle = make_bundle(model_dir, "tflm", work / "tflm").path
    return engine, {k: measure_tflm(tflm_bundle, tflm_dir, k, ops, pcm) for k in TFLM_KERNELS}, len(pcm)


def tflm_section(results, tflm_dir: Path | None, work: Path, model_dir: Path = DEFAULT_MODEL) -> None:
    """Rows of TFLM measured beside the tinykws engine, or a fact saying why not."""
    from tinykws.toolchain import toolchain_available

    if tflm_dir is None:
        results.facts["tflm_cortex_m"] = ("TFLite Micro not run on the Cortex-M: no TFLM_DIR given (make bench "
                                          "TFLM_DIR=DIR; make tflm-tree makes one); the published figures are shown "
                                          "in their own column with their source")
        return
    available, why_not = toolchain_available("cortex-m4")
    if not available:
        results.facts["tflm_cortex_m"] = f"TFLite Micro not run on the Cortex-M: {why_not}"
        return
    engine, tflm, n = measure_all(Path(tflm_dir).resolve(), Path(model_dir), work / "tflm-bench")
    add_rows(results, Path(model_dir).name, engine, tflm, n)


def add_rows(results, model: str, engine: Measured, tflm: dict[str, Measured], n: int) -> None:
    """Per kernel build: instructions, arena and .text beside the engine's, ratios by the bench's rule."""
    for kernels, m in tflm.items():
        title = KERNEL_TITLES[kernels]
        same = _identical(engine.outputs, m.outputs, n)
        note = (f"int8 outputs identical to the tinykws engine on {same} clips; TFLM self-test "
                f"{'pass' if m.metrics.get('self_test_pass') else 'FAIL'}")
        results.add(SECTION, f"{model} tinykws engine (cortex-m4 bundle), instructions per inference",
                    engine.metrics.get("instructions_per_inference", 0), m.metrics.get("instructions_per_inference"),
                    f"{title} (measured, BUILD_TYPE={TFLM_BUILD_TYPE})", "instructions", note=note)
        results.add(SECTION, f"{model} tinykws engine arena", engine.metrics.get("arena_bytes", 0),
                    m.metrics.get("tflm_arena_used_bytes"), f"{title}: arena_used_bytes() on the chip", "bytes")
        results.add(SECTION, f"{model} tinykws engine .text (code + constants)", engine.text["engine"],
                    m.text["library"] + m.text["model"], f"{title}: library + model array .text", "bytes",
                    note=f"library {m.text['library']:,} B + model array {m.text['model']:,} B")
        add_facts(results.facts, kernels, m, same)
    results.facts.update(tflm_cortex_m=f"TFLite Micro built for the Cortex-M4 and run in this run: '{SECTION}'",
                         tflm_model=model, tflm_engine_self_test="pass" if engine.metrics.get("self_test_pass")
                         else "FAIL", tflm_engine_build=engine.flags["build"],
                         tflm_engine_text_rest_bytes=engine.text["other"])


def add_facts(facts: dict, kernels: str, m: Measured, same: str) -> None:
    facts[f"tflm_{kernels}_identical_outputs"] = same
    facts[f"tflm_{kernels}_text_library_bytes"] = m.text["library"]
    facts[f"tflm_{kernels}_text_model_bytes"] = m.text["model"]
    facts[f"tflm_{kernels}_text_rest_bytes"] = m.text["other"]  # app, front end, golden vectors, newlib, libstdc++
    facts[f"tflm_{kernels}_instructions_per_frame"] = m.metrics.get("instructions_per_frame")
    facts[f"tflm_{kernels}_build"] = m.flags.get("tflm_build", "")
    facts[f"tflm_{kernels}_cxxflags"] = m.flags.get("cxxflags", "")  # main.cc
    facts[f"tflm_{kernels}_library_cxxflags"] = m.flags.get("tflm_CXXFLAGS", "")  # as TFLM's Makefile reports them
    level = {part: m.flags.get(f"tflm_{part}_OPTIMIZATION_LEVEL", "?")
             for part in ("CORE", "KERNEL", "THIRD_PARTY_KERNEL")}
    facts[f"tflm_{kernels}_library_optimization"] = (f"core {level['CORE']}, kernels {level['KERNEL']}, "
                                                     f"third-party kernels {level['THIRD_PARTY_KERNEL']}")
