"""check/check.json, a readable check/check.md and the confusion-matrix plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinykws.fsutil import atomic_write_text


def plot_confusion(conf: list[list[int]], labels: list[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(conf, np.float64)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)


def _markdown(report: dict) -> str:
    lines = ["# tinykws check", "", f"**{'PASSED' if report['passed'] else 'FAILED'}** on {report['n_clips']} clips.", ""]
    for failure in report["failures"]:
        lines.append(f"- failed: {failure}")
    lines += ["", "| engine | accuracy |", "|---|---|"]
    for name, e in report["engines"].items():
        lines.append(f"| {name} | {100 * e['accuracy']:.2f}% |")
    if "int8_drop_pp" in report:
        lines += ["", f"int8 drop against {report['float_reference']}: {report['int8_drop_pp']:.2f} points; "
                  f"top-1 agreement float vs int8: {100 * report['agreement']['float_vs_int8']:.2f}%", "",
                  "| score error int8 vs float | value |", "|---|---|"]
        lines += [f"| {k} | {v:.6g} |" for k, v in report["score_error_int8_vs_float"].items()]
    if "litert_vs_tflm" in report:
        lt = report["litert_vs_tflm"]
        lines += ["", f"LiteRT vs TFLite Micro int8: {100 * lt['identical_outputs']:.2f}% of clips bit-identical; "
                  f"LSB differences: {lt['lsb_histogram']}"]
    for name, share in report.get("bitexact", {}).items():
        lines.append(f"\n{name}: {100 * share:.2f}% of clips bit-identical")
    for name, a in report.get("pcm_agreement", {}).items():
        lines.append(f"\n{name} (features computed in C from PCM): top-1 agreement {100 * a['top1_agreement']:.2f}%, "
                     f"{100 * a['identical_outputs']:.2f}% of clips bit-identical")
    lines += ["", "## Per-class precision / recall", "", "| label | " +
              " | ".join(report["engines"]) + " |", "|---|" + "---|" * len(report["engines"])]
    for label in report["labels"]:
        cells = [f"{e['per_class'][label]['precision']:.2f} / {e['per_class'][label]['recall']:.2f}"
                 for e in report["engines"].values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Confusion matrices: " + ", ".join(f"`confusion_{n}.png`" for n in report["engines"]), ""]
    if report.get("skipped_files"):
        lines += [f"Skipped {len(report['skipped_files'])} unreadable file(s)."]
    return "\n".join(lines) + "\n"


def write_report(report: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, e in report["engines"].items():
        plot_confusion(e["confusion"], report["labels"], f"{name}: {100 * e['accuracy']:.2f}%",
                       out_dir / f"confusion_{name}.png")
    atomic_write_text(out_dir / "check.md", _markdown(report))
    atomic_write_text(out_dir / "check.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
