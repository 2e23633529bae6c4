"""Parameters, MACs and int8 activation memory per layer.

Counts follow the DS-CNN write-ups: batch norm folded into the preceding
convolution (so every conv has a bias), standard conv = Kh*Kw*Cin*Cout*Hout*Wout
MACs, depthwise = Kh*Kw*C*Hout*Wout, pointwise = Cin*Cout*Hout*Wout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinykws.config import FeatureConfig, ModelConfig
from tinykws.model.build import out_rows


@dataclass(frozen=True)
class LayerProfile:
    name: str
    op: str
    out_shape: tuple[int, ...]
    params: int
    macs: int
    act_bytes: int
    standard_macs: int | None = None  # for a separable block: the standard conv it replaces
    kernel: tuple[int, int] | None = None

    @property
    def separable_ratio(self) -> float | None:
        return None if self.standard_macs is None else self.macs / self.standard_macs


@dataclass(frozen=True)
class ModelProfile:
    name: str
    layers: tuple[LayerProfile, ...]

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def peak_act_bytes(self) -> int:
        """Largest input + output pair of any layer (a lower bound of the arena)."""
        sizes = [layer.act_bytes for layer in self.layers]
        return max(a + b for a, b in zip(sizes, sizes[1:]))


def same_out(size: int, stride: int) -> int:
    return math.ceil(size / stride)


def valid_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


def conv_macs(kh: int, kw: int, cin: int, cout: int, hout: int, wout: int) -> int:
    return kh * kw * cin * cout * hout * wout


def separable_macs(kh: int, kw: int, cin: int, cout: int, hout: int, wout: int) -> int:
    """Depthwise KhxKw plus pointwise 1x1."""
    return kh * kw * cin * hout * wout + cin * cout * hout * wout


def separable_ratio_formula(cout: int, kh: int, kw: int) -> float:
    """The textbook ratio separable/standard = 1/Cout + 1/K^2."""
    return 1.0 / cout + 1.0 / (kh * kw)


def profile_config(model: ModelConfig, features: FeatureConfig, n_classes: int) -> ModelProfile:
    h, w, c = features.n_frames, features.n_mfcc, 1
    first = model.first
    layers = [LayerProfile("input", "INPUT", (h, w, c), 0, 0, h * w * c)]
    kh, kw = first.kernel
    pad = model.time_padding  # VALID or SAME in time, SAME in frequency (model.build)
    h, w = out_rows(h, kh, first.stride[0], pad), same_out(w, first.stride[1])
    layers.append(LayerProfile("conv", "CONV_2D", (h, w, first.filters),
                               kh * kw * c * first.filters + first.filters,
                               conv_macs(kh, kw, c, first.filters, h, w), h * w * first.filters, kernel=(kh, kw)))
    c = first.filters
    kh, kw = model.ds_kernel
    for i, (filters, stride) in enumerate(zip(model.ds_filters, model.ds_strides), start=1):
        if model.kind == "mobilenetv2":
            h, w, c = _inverted_residual_layers(layers, f"ds{i}", h, w, c, filters, stride, model)
            continue
        h, w = out_rows(h, kh, stride[0], pad), same_out(w, stride[1])
        layers.append(LayerProfile(f"ds{i}_dw", "DEPTHWISE_CONV_2D", (h, w, c), kh * kw * c + c,
                                   kh * kw * c * h * w, h * w * c, kernel=(kh, kw)))
        layers.append(LayerProfile(f"ds{i}_pw", "CONV_2D", (h, w, filters), c * filters + filters,
                                   c * filters * h * w, h * w * filters,
                                   standard_macs=conv_macs(kh, kw, c, filters, h, w), kernel=(1, 1)))
        c = filters
    layers.append(LayerProfile("pool", "MEAN", (1, 1, c), 0, 0, c))
    layers.append(LayerProfile("logits", "FULLY_CONNECTED", (n_classes,), c * n_classes + n_classes,
                               c * n_classes, n_classes))
    layers.append(LayerProfile("softmax", "SOFTMAX", (n_classes,), 0, 0, n_classes))
    return ModelProfile(model.name, tuple(layers))


def _inverted_residual_layers(layers: list, name: str, h: int, w: int, c: int, filters: int,
                              stride: tuple[int, int], model: ModelConfig) -> tuple[int, int, int]:
    kh, kw = model.ds_kernel
    e = c * model.expansion
    layers.append(LayerProfile(f"{name}_expand", "CONV_2D", (h, w, e), c * e + e, c * e * h * w, h * w * e,
                               kernel=(1, 1)))
    h, w = same_out(h, stride[0]), same_out(w, stride[1])
    layers.append(LayerProfile(f"{name}_dw", "DEPTHWISE_CONV_2D", (h, w, e), kh * kw * e + e, kh * kw * e * h * w,
                               h * w * e, kernel=(kh, kw)))
    layers.append(LayerProfile(f"{name}_project", "CONV_2D", (h, w, filters), e * filters + filters,
                               e * filters * h * w, h * w * filters, kernel=(1, 1)))
    if tuple(stride) == (1, 1) and c == filters:
        layers.append(LayerProfile(f"{name}_add", "ADD", (h, w, filters), 0, 0, h * w * filters))
    return h, w, filters


def separable_rows(profile: ModelProfile) -> list[tuple[str, int, int, float, float]]:
    """(block, separable MACs, standard MACs, ratio, 1/Cout + 1/K^2) per separable block."""
    rows = []
    layers = profile.layers
    for dw, pw in zip(layers, layers[1:]):
        if dw.op == "DEPTHWISE_CONV_2D" and pw.standard_macs is not None:
            kh, kw = dw.kernel or (3, 3)
            block = dw.name.removesuffix("_dw")
            macs = dw.macs + pw.macs
            rows.append((block, macs, pw.standard_macs, macs / pw.standard_macs,
                         separable_ratio_formula(pw.out_shape[-1], kh, kw)))
    return rows


def profile_to_dict(profile: ModelProfile) -> dict:
    return {
        "name": profile.name,
        "params": profile.params,
        "macs": profile.macs,
        "peak_activation_bytes": profile.peak_act_bytes,
        "layers": [
            {"name": l.name, "op": l.op, "out_shape": list(l.out_shape), "params": l.params,
             "macs": l.macs, "act_bytes": l.act_bytes, "standard_macs": l.standard_macs}
            for l in profile.layers
        ],
        "separable": [
            {"block": b, "macs": m, "standard_macs": s, "ratio": r, "formula": f}
            for b, m, s, r, f in separable_rows(profile)
        ],
    }
