"""The bad-input matrix: each case drives the real CLI and checks the exit code, that the message names
the file (or option) at fault, that no traceback reaches the user, and that nothing was left behind or
changed (the whole test folder is compared before and after).

Exit codes (README "Exit codes"): 2 bad usage or bad input, 3 the environment failed.
"""

from __future__ import annotations

import errno
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

import codegen_models as cm
from tinykws.cli import app
from tinykws.codegen.graph import parse_graph


# --- .tflite mutation helpers: overwrite one stored field of the flatbuffer ---------------------------

def _root(data: bytes):
    import tflite

    model = tflite.Model.GetRootAsModel(data, 0)
    return model, model.Subgraphs(0)


def _field_pos(obj, slot: int) -> int:
    """Byte position of a scalar field of a flatbuffer table (it must be stored, not defaulted)."""
    o = obj._tab.Offset(slot)
    if not o:
        raise LookupError(f"field at vtable slot {slot} is not stored")
    return obj._tab.Pos + o


def _vector_pos(obj, slot: int, j: int, size: int) -> int:
    return obj._tab.Vector(obj._tab.Offset(slot)) + j * size


def _put(data: bytes, pos: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, pos, value)
    return bytes(out)


class _Options:
    """An operator's builtin options table, read through the generic flatbuffer table."""

    def __init__(self, op):
        self._tab = op.BuiltinOptions()


# option vtable slots (schema.fbs): Conv2DOptions / DepthwiseConv2DOptions
CONV_SLOTS = {"padding": 4, "stride_w": 6, "stride_h": 8, "activation": 10, "dilation_w": 12, "dilation_h": 14}
DW_SLOTS = {"padding": 4, "stride_w": 6, "stride_h": 8, "activation": 12, "dilation_w": 14, "dilation_h": 16}
TENSOR_BUFFER, TENSOR_QUANT, QUANT_SCALE, QUANT_ZERO_POINT = 8, 12, 8, 10
OP_OPCODE_INDEX, OP_INPUTS = 4, 6


def _find_op(data: bytes, opcode: str, **options) -> int:
    graph = parse_graph(data)
    return next(op.index for op in graph.operators
                if op.opcode == opcode and all(op.options.get(k) == v for k, v in options.items()))


def set_option(opcode: str, name: str, value: int, fmt: str = "<i", **where) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        _, sub = _root(data)
        slots = DW_SLOTS if opcode == "DEPTHWISE_CONV_2D" else CONV_SLOTS
        op = sub.Operators(_find_op(data, opcode, **where))
        return _put(data, _field_pos(_Options(op), slots[name]), fmt, value)
    return mutate


def _conv_output(data: bytes) -> int:
    return parse_graph(data).operators[_find_op(data, "CONV_2D")].outputs[0]


def set_quantization(slot: int, fmt: str, value) -> Callable[[bytes], bytes]:
    """The first scale (float32) or zero point (int64) of the first convolution's output."""
    def mutate(data: bytes) -> bytes:
        _, sub = _root(data)
        q = sub.Tensors(_conv_output(data)).Quantization()
        return _put(data, _vector_pos(q, slot, 0, struct.calcsize(fmt)), fmt, value)
    return mutate


def set_scale(value: float) -> Callable[[bytes], bytes]:
    return set_quantization(QUANT_SCALE, "<f", value)


def set_zero_point(value: int) -> Callable[[bytes], bytes]:
    return set_quantization(QUANT_ZERO_POINT, "<q", value)


def set_op_input(value: int) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        _, sub = _root(data)
        return _put(data, _vector_pos(sub.Operators(_find_op(data, "CONV_2D")), OP_INPUTS, 0, 4), "<i", value)
    return mutate


def set_opcode_index(value: int) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        _, sub = _root(data)
        op = next(sub.Operators(i) for i in range(sub.OperatorsLength()) if sub.Operators(i).OpcodeIndex())
        return _put(data, _field_pos(op, OP_OPCODE_INDEX), "<I", value)
    return mutate


def set_weights_buffer(value: int) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        _, sub = _root(data)
        weights = parse_graph(data).operators[_find_op(data, "CONV_2D")].inputs[1]
        return _put(data, _field_pos(sub.Tensors(weights), TENSOR_BUFFER), "<I", value)
    return mutate


def truncate(n: int) -> Callable[[bytes], bytes]:
    return lambda data: data[:n]


# --- the matrix ---------------------------------------------------------------------------------------

@dataclass
class Ctx:
    tmp: Path
    model_bytes: bytes
    trained_run: Path
    tone_data: Path

    def model(self, mutate: Callable[[bytes], bytes] | None = None) -> Path:
        path = self.tmp / "model.tflite"
        path.write_bytes(mutate(self.model_bytes) if mutate else self.model_bytes)
        return path

    def run(self, shipped: bool = False) -> Path:
        run = self.tmp / ("models" if shipped else "runs") / "tones"
        shutil.copytree(self.trained_run, run)
        if shipped:  # what `ship` adds: the model card and the cross-validation report
            (run / "README.md").write_text("# tones\n")
            (run / "cv.json").write_text("{}\n")
        return run

    def user_folder(self) -> Path:
        folder = self.tmp / "mine"
        folder.mkdir()
        (folder / "thesis.txt").write_text("three years of work\n")
        return folder

    def a_file(self) -> Path:
        path = self.tmp / "notes.txt"
        path.write_text("not a folder\n")
        return path


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Ctx], tuple[list[str], str]]  # -> (command line, text the message must name)
    exit_code: int
    fault: int | None = None  # errno injected into every file write of the command


def _codegen(mutate, expect: str = "") -> Callable[[Ctx], tuple[list[str], str]]:
    def setup(c: Ctx):
        model = c.model(mutate)
        return ["codegen", str(model), "--out", str(c.tmp / "engine")], expect or str(model)
    return setup


def _codegen_out(make_out: Callable[[Ctx], Path]) -> Callable[[Ctx], tuple[list[str], str]]:
    def setup(c: Ctx):
        out = make_out(c)
        return ["codegen", str(c.model()), "--out", str(out)], str(out)
    return setup


def _train(args: Callable[[Ctx], list[str]], named: Callable[[Ctx], str]) -> Callable[[Ctx], tuple[list[str], str]]:
    def setup(c: Ctx):
        return ["train", "--data-dir", str(c.tone_data), *args(c)], named(c)
    return setup


def _recipe(c: Ctx, **fields) -> Path:
    import json

    path = c.tmp / "recipe.json"
    path.write_text(json.dumps(fields))
    return path


def _run_cmd(make: Callable[[Ctx, Path], tuple[list[str], str]], shipped: bool = False):
    return lambda c: make(c, c.run(shipped))


CASES = [
    # §1: never lose a user's data
    Case("codegen-out-user-folder", _codegen_out(Ctx.user_folder), 2),
    Case("codegen-out-run-dir", _codegen_out(lambda c: c.run()), 2),
    Case("codegen-out-is-a-file", _codegen_out(Ctx.a_file), 2),
    Case("train-out-existing-run", _train(lambda c: ["--out", str(c.run()), "--epochs", "1"],
                                          lambda c: str(c.tmp / "runs" / "tones")), 2),
    Case("train-out-user-folder", _train(lambda c: ["--out", str(c.user_folder())], lambda c: str(c.tmp / "mine")),
         2),
    Case("train-force-shipped-folder", _train(lambda c: ["--out", str(c.run(shipped=True)), "--force"],
                                              lambda c: str(c.tmp / "models" / "tones")), 2),
    Case("train-out-is-a-file", _train(lambda c: ["--out", str(c.a_file())], lambda c: str(c.tmp / "notes.txt")), 2),
    Case("train-epochs-0", _train(lambda c: ["--out", str(c.tmp / "new"), "--epochs", "0"], lambda c: "--epochs"), 2),
    Case("train-epochs-negative", _train(lambda c: ["--out", str(c.tmp / "new"), "--epochs", "-3"],
                                         lambda c: "--epochs"), 2),
    Case("train-recipe-epochs-0", _train(lambda c: ["--out", str(c.tmp / "new"), "--recipe", str(_recipe(c, epochs=0))],
                                         lambda c: str(c.tmp / "recipe.json")), 2),
    Case("train-batch-size-0", _train(lambda c: ["--out", str(c.tmp / "new"), "--batch-size", "0"],
                                      lambda c: "--batch-size"), 2),
    Case("stream-eval-write-shipped", _run_cmd(lambda c, run: (
        ["stream-eval", str(run), "--data-dir", str(c.tone_data), "--minutes", "0.1", "--write-config"],
        str(run / "config.json")), shipped=True), 2),
    Case("stream-eval-write-with-threshold", _run_cmd(lambda c, run: (
        ["stream-eval", str(run), "--data-dir", str(c.tone_data), "--threshold", "0", "--write-config"],
        "--threshold")), 2),
    Case("stream-eval-minutes-0", _run_cmd(lambda c, run: (
        ["stream-eval", str(run), "--data-dir", str(c.tone_data), "--minutes", "0"], "--minutes")), 2),
    # §2: codegen on a corrupt .tflite: every quantization parameter, option and index
    Case("tflite-scale-zero", _codegen(set_scale(0.0)), 2),
    Case("tflite-scale-nan", _codegen(set_scale(float("nan"))), 2),
    Case("tflite-scale-inf", _codegen(set_scale(float("inf"))), 2),
    Case("tflite-scale-negative", _codegen(set_scale(-0.05)), 2),
    Case("tflite-zero-point-300", _codegen(set_zero_point(300)), 2),
    Case("tflite-stride-0", _codegen(set_option("CONV_2D", "stride_h", 0, StrideH=2)), 2),
    Case("tflite-dilation-0", _codegen(set_option("DEPTHWISE_CONV_2D", "dilation_h", 0, DilationHFactor=2)), 2),
    Case("tflite-padding-7", _codegen(set_option("CONV_2D", "padding", 7, "<b", Padding=1)), 2),
    Case("tflite-activation-9", _codegen(set_option("CONV_2D", "activation", 9, "<b",
                                                    FusedActivationFunction=1)), 2),
    Case("tflite-tensor-index", _codegen(set_op_input(9999)), 2),
    Case("tflite-buffer-index", _codegen(set_weights_buffer(9999)), 2),
    Case("tflite-opcode-index", _codegen(set_opcode_index(9999)), 2),
    Case("tflite-truncated", _codegen(truncate(600)), 2),
    Case("tflite-not-a-model", _codegen(lambda data: b"RIFF" + bytes(60)), 2),
    # §2: counts and limits
    Case("codegen-verify-huge", lambda c: (["codegen", str(c.model()), "--out", str(c.tmp / "e"), "--verify",
                                            "100000000"], "--verify"), 2),
    Case("check-max-drop-negative", _run_cmd(lambda c, run: (
        ["check", str(run), "--data-dir", str(c.tone_data), "--max-drop", "-1"], "--max-drop")), 2),
    Case("firmware-golden-count-0", _run_cmd(lambda c, run: (
        ["firmware", str(run), "--target", "host", "--out", str(c.tmp / "fw"), "--golden-count", "0"],
        "--golden-count")), 2),
    Case("firmware-golden-count-huge", _run_cmd(lambda c, run: (
        ["firmware", str(run), "--target", "host", "--out", str(c.tmp / "fw"), "--golden-count", "100000"],
        "--golden-count")), 2),
    Case("firmware-out-is-a-file", _run_cmd(lambda c, run: (
        ["firmware", str(run), "--target", "host", "--out", str(c.a_file())], str(c.tmp / "notes.txt"))), 2),
    # §2: the environment fails while outputs are written: exit 3 and the path
    Case("codegen-disk-full", _codegen_out(lambda c: c.tmp / "engine"), 3, fault=errno.ENOSPC),
    Case("codegen-read-only-folder", _codegen_out(lambda c: c.tmp / "engine"), 3, fault=errno.EROFS),
    Case("codegen-permission-denied", _codegen_out(lambda c: c.tmp / "engine"), 3, fault=errno.EACCES),
]


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    """Every option the mutations need is stored: stride 2, VALID padding, dilation 2, RELU."""
    return cm.to_int8_tflite(cm.kitchen_sink(), (24, 12, 3), n_rep=8)


def _snapshot(root: Path) -> dict[str, tuple[int, int] | None]:
    out: dict[str, tuple[int, int] | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            st = os.stat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_size, st.st_mtime_ns)
    return out


def _inject_write_fault(monkeypatch, code: int) -> None:
    """Every file write fails with ``code`` (what a full disk, a read-only mount or a missing permission does)."""
    def fail(self, *args, **kwargs):
        raise OSError(code, os.strerror(code), str(self))

    monkeypatch.setattr(Path, "write_text", fail)
    monkeypatch.setattr(Path, "write_bytes", fail)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path, model_bytes, trained_run, tone_data, monkeypatch):
    ctx = Ctx(tmp_path, model_bytes, trained_run, tone_data)
    args, named = case.setup(ctx)
    before = _snapshot(tmp_path)
    if case.fault is not None:
        _inject_write_fault(monkeypatch, case.fault)
    result = CliRunner().invoke(app, args)
    monkeypatch.undo()
    assert result.exit_code == case.exit_code, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    message = " ".join(result.output.split())
    assert named in message or named in result.output, result.output
    assert "Traceback" not in result.output and "struct.error" not in result.output
    assert _snapshot(tmp_path) == before, "the command changed or left files behind"


def test_codegen_replaces_its_own_earlier_output(tmp_path, model_bytes):
    """The positive side of the marker: a second codegen into the same folder succeeds."""
    model = tmp_path / "model.tflite"
    model.write_bytes(model_bytes)
    for _ in range(2):
        result = CliRunner().invoke(app, ["codegen", str(model), "--out", str(tmp_path / "engine")])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "engine" / "tinykws-codegen.json").is_file()


def test_train_force_removes_every_derived_artifact(run_copy, tone_data):
    """--force retrains in place: the old int8 model, C files, manifest and checks are gone, a user's file stays."""
    (run_copy / "check").mkdir(exist_ok=True)
    (run_copy / "check" / "check.json").write_text("{}\n")
    (run_copy / "my_notes.txt").write_text("keep me\n")
    old_config = (run_copy / "config.json").read_text()
    result = CliRunner().invoke(app, ["train", "--data-dir", str(tone_data), "--out", str(run_copy), "--epochs", "1",
                                      "--width", "0.25", "--batch-size", "32", "--seed", "5", "--force"])
    assert result.exit_code == 0, result.output
    for gone in ("int8.tflite", "float.tflite", "manifest.json", "c", "check"):
        assert not (run_copy / gone).exists(), gone
    assert (run_copy / "model.keras").is_file() and (run_copy / "config.json").read_text() != old_config
    assert (run_copy / "my_notes.txt").read_text() == "keep me\n"


def test_stream_eval_leaves_config_alone_unless_asked(run_copy, tone_data, tmp_path):
    before = (run_copy / "config.json").read_bytes()
    result = CliRunner().invoke(app, ["stream-eval", str(run_copy), "--data-dir", str(tone_data), "--minutes", "0.2",
                                      "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    assert (run_copy / "config.json").read_bytes() == before
    assert "threshold written" not in result.output


def test_missing_compiler_is_an_environment_failure(tmp_path, model_bytes, monkeypatch):
    """No gcc on PATH: exit 3 naming the compiler (the engine itself was generated: exit 3 is about the machine)."""
    import tinykws.toolchain

    model = tmp_path / "model.tflite"
    model.write_bytes(model_bytes)
    monkeypatch.setattr(tinykws.toolchain.shutil, "which", lambda name: None)
    result = CliRunner().invoke(app, ["codegen", str(model), "--out", str(tmp_path / "engine"), "--verify", "2"])
    assert result.exit_code == 3, result.output
    assert "'gcc' not found" in result.output and "Traceback" not in result.output
