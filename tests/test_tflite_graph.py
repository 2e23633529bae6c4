"""The flatbuffer reader against LiteRT's own view of the same model."""

from __future__ import annotations

import numpy as np
import pytest

import codegen_models as cm
from tinykws.errors import ModelError
from tinykws.codegen.graph import parse_graph, read_graph


@pytest.fixture(scope="module")
def model() -> bytes:
    return cm.to_int8_tflite(cm.ds_cnn_like(filters=8, blocks=1), (49, 10, 1))


def _litert(model: bytes):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model)
    it.allocate_tensors()
    return it


def test_tensors_match_litert(model):
    graph = parse_graph(model)
    it = _litert(model)
    details = {d["index"]: d for d in it.get_tensor_details()}
    assert len(details) <= len(graph.tensors)
    for index, d in details.items():
        t = graph.tensor(index)
        assert t.name == d["name"]
        assert t.shape == tuple(d["shape"])
        assert t.dtype == np.dtype(d["dtype"])
        qp = d["quantization_parameters"]
        np.testing.assert_array_equal(np.float32(t.scales), np.float32(qp["scales"]))
        np.testing.assert_array_equal(t.zero_points, qp["zero_points"])
        if t.is_constant and t.dtype == np.int8:
            np.testing.assert_array_equal(t.data, it.get_tensor(index))
    assert graph.inputs == (it.get_input_details()[0]["index"],)
    assert graph.outputs == (it.get_output_details()[0]["index"],)


def test_operators_and_options(model):
    graph = parse_graph(model)
    names = [op.opcode for op in graph.operators]
    assert names == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"]
    conv = graph.operators[0]
    assert conv.options["StrideH"] == 2 and conv.options["StrideW"] == 2
    assert conv.options["Padding"] == 0  # SAME
    assert conv.options["FusedActivationFunction"] == 1  # RELU
    assert graph.tensor(conv.inputs[1]).shape == (8, 10, 4, 1)
    assert graph.operators[5].options["Beta"] == pytest.approx(1.0)
    # The dense layer's zero bias was dropped by the converter: an absent optional input.
    fc = graph.operators[4]
    assert fc.input(2) is None or graph.tensor(fc.input(2)).dtype == np.int32
    assert graph.consumers(graph.operators[0].outputs[0]) == [1]


def test_truncated_and_wrong_files_name_the_file(model, tmp_path):
    cases = {"truncated.tflite": model[: len(model) // 2], "text.tflite": b"hello world, not a model",
             "empty.tflite": b""}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ModelError, match=name):
            read_graph(path)
    with pytest.raises(ModelError, match="no such"):
        read_graph(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="directory"):
        read_graph(tmp_path)
