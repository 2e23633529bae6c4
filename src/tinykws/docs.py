"""The README's figures, generated from the results files that commands wrote.

    python -m tinykws.docs [--bench bench/results.json] [--check]      (or `make docs`)

README.md holds generated regions between markers::

    <!-- generated: NAME -->
    ...
    <!-- end -->

NAME is ``bench`` (``docs/results/bench.json``: the last `make bench`, copied
there because bench/ is not tracked) or ``model:FOLDER`` (a shipped model
folder ``models/FOLDER``: manifest.json, cv.json, check.json,
stream_eval.json, config.json). A figure whose results file is missing is
shown as missing, never typed in. ``--check`` writes nothing and exits 1 when
a region is stale.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from tinykws.errors import InputError

BENCH_RESULTS = Path("docs") / "results" / "bench.json"
REGION = re.compile(r"(<!-- generated: (?P<name>[\w:.-]+) -->\n)(?P<body>.*?)(<!-- end -->)", re.DOTALL)


def _load(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None


def _missing(what: str, how: str) -> str:
    return f"not measured: {what} is missing ({how})"


# --- model:FOLDER ----------------------------------------------------------------------------

def _cv_row(cv: dict | None, engine: str) -> str:
    if cv is None:
        return _missing("cv.json", "`tinykws cv`, then `tinykws ship`")
    s = cv[f"{engine}_accuracy"]
    drop = f", drop {cv['int8_drop_pp']:.2f} points" if engine == "int8" else ""
    return (f"{100 * s['mean']:.2f}% ± {100 * s['std']:.2f} (min {100 * s['min']:.2f}, max {100 * s['max']:.2f}), "
            f"{len(cv['folds'])} of {cv['k']} folds{drop}")


def _check_row(check: dict | None) -> tuple[str, str]:
    if check is None:
        return "the shipped model, `tinykws check`", _missing("check.json", "`tinykws check RUN`, then `tinykws ship`")
    engines = ", ".join(f"{name} {100 * e['accuracy']:.2f}%" for name, e in check["engines"].items())
    agreement = check.get("agreement", {}).get("float_vs_int8")
    extra = f"; float/int8 agreement {100 * agreement:.2f}%" if agreement is not None else ""
    identical = check.get("litert_vs_tflm", {}).get("identical_outputs")
    extra += f"; LiteRT and TFLite Micro bit-identical on {100 * identical:.2f}%" if identical is not None else ""
    return f"the shipped model, `tinykws check` on {check['n_clips']:,} held-out clips", engines + extra


def _stream_row(stream: dict | None) -> tuple[str, str]:
    if stream is None:
        return "streaming, `tinykws stream-eval`", _missing("stream_eval.json", "`tinykws stream-eval RUN`, then ship")
    smoothing = stream.get("stream_config", {})
    chosen = stream.get("operating_point", {}).get("chosen_on")
    how = (f", mean of {smoothing['average_results']} results, {smoothing['min_count']} in a row"
           if "average_results" in smoothing else "")
    clean = stream.get("clean")
    return (f"streaming, `tinykws stream-eval` ({stream['minutes']:g} min of test stream at {stream['snr_db']:g} dB "
            f"SNR), threshold int8 {stream['threshold']}{how}" + (f", chosen on the {chosen}" if chosen else ""),
            f"{100 * stream['false_reject_rate']:.1f}% false rejections at "
            f"{stream['false_accepts_per_hour']:.1f} false accepts per hour"
            + (f" (clean: {100 * clean['false_reject_rate']:.1f}% at {clean['false_accepts_per_hour']:.1f})"
               if clean else ""))


def model_region(root: Path, name: str) -> str:
    """The figures of the shipped model folder models/NAME under `root` (shown by its path in the repository)."""
    from tinykws.config import load_config
    from tinykws.model.card import architecture

    shown, folder = f"models/{name}", root / "models" / name
    manifest = _load(folder / "manifest.json")
    if manifest is None or not (folder / "config.json").is_file():
        raise InputError(f"{folder}: not a shipped model folder (config.json and manifest.json needed)")
    config = load_config(folder / "config.json")
    cv = _load(folder / "cv.json")
    sizes = manifest["artifacts"]
    rows = [
        ("speaker-grouped cross-validation, float", _cv_row(cv, "float"), "cv.json"),
        ("speaker-grouped cross-validation, int8", _cv_row(cv, "int8"), "cv.json"),
        (*_check_row(_load(folder / "check.json")), "check.json"),
        ("int8.tflite / float.tflite", f"{sizes['int8.tflite']['bytes']:,} B / "
         + (f"{sizes['float.tflite']['bytes']:,} B" if "float.tflite" in sizes else "—"), "manifest.json"),
        ("TFLite Micro arena (Python runtime)", f"{manifest['tflm_arena_bytes']:,} B", "manifest.json"),
        (*_stream_row(_load(folder / "stream_eval.json")), "stream_eval.json"),
    ]
    head = (f"`{shown}`: {architecture(config)}, {manifest['params']:,} params, "
            f"{manifest['macs']:,} MACs, {len(config.labels)} classes, trained on "
            f"{', '.join(f'`{d}`' for d in config.data_dirs) or 'data not recorded'}.")
    return "\n".join([head, "", "| figure | value | results file |", "|---|---|---|",
                      *[f"| {a} | {b} | `{shown}/{c}` |" for a, b, c in rows]]) + "\n"


# --- bench -----------------------------------------------------------------------------------

def bench_region(results: dict | None) -> str:
    from tinykws.bench import _fmt as _number  # the bench's own formatting of its figures

    if results is None:
        return f"No bench results are committed: run `make bench`, then `make docs` (writes `{BENCH_RESULTS}`).\n"
    facts = results.get("facts", {})
    lines = [f"`make bench` of {facts.get('date_utc', '(date not recorded)')} UTC on a {facts.get('machine', '?')} "
             f"machine, Python {facts.get('python', '?')}; presets {', '.join(results.get('presets', []))} "
             f"(`{BENCH_RESULTS}`; `bench/results.md` has the notes)."]
    section = None
    for row in results.get("rows", []):
        if row["section"] != section:
            section = row["section"]
            lines += ["", f"{section}:", "", "| figure | ours | baseline | ratio |", "|---|---:|---|---:|"]
        unit, ratio = row.get("unit", ""), row.get("ratio")
        baseline = (f"{_number(row.get('baseline'), unit)} ({row['baseline_name']})" if row.get("baseline_name")
                    else _number(row.get("baseline"), unit))
        lines.append(f"| {row['figure']} | {_number(row.get('ours'), unit)} {unit} | {baseline} | "
                     f"{'—' if ratio is None else f'{ratio:.2f}x'} |")
    skipped = sorted(k for k in facts if k.endswith("_skipped"))
    if skipped:
        lines += ["", "Not measured in that run: " + "; ".join(f"{k}: {facts[k]}" for k in skipped) + "."]
    return "\n".join(lines) + "\n"


# --- README ----------------------------------------------------------------------------------

def region_text(name: str, root: Path) -> str:
    if name == "bench":
        return bench_region(_load(root / BENCH_RESULTS))
    if name.startswith("model:"):
        return model_region(root, name.split(":", 1)[1])
    raise InputError(f"unknown generated region {name!r} (known: bench, model:FOLDER)")


def render(text: str, root: Path) -> str:
    """`text` with every generated region rewritten from the results files under `root`."""
    if not REGION.search(text):
        raise InputError("no generated regions (<!-- generated: NAME --> ... <!-- end -->) found")
    return REGION.sub(lambda m: m.group(1) + region_text(m.group("name"), root) + m.group(4), text)


def stale_regions(text: str, root: Path) -> list[str]:
    fresh = {m.group("name"): m.group("body") for m in REGION.finditer(render(text, root))}
    return [m.group("name") for m in REGION.finditer(text) if fresh[m.group("name")] != m.group("body")]


def copy_bench(source: Path, root: Path) -> bool:
    """Copy a `make bench` results.json to docs/results/bench.json; True when it changed."""
    target = root / BENCH_RESULTS
    _load(source)  # refuse a broken file before it replaces a good one
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinykws.docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository (default: here)")
    parser.add_argument("--bench", type=Path, default=Path("bench") / "results.json",
                        help="a `make bench` results.json to commit as docs/results/bench.json (if it exists)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    readme = args.root / "README.md"
    try:
        text = readme.read_text()
        if args.check:
            stale = stale_regions(text, args.root)
            print(f"{readme}: stale regions: {', '.join(stale)} (run make docs)" if stale else f"{readme}: up to date")
            return 1 if stale else 0
        bench = args.bench if args.bench.is_absolute() else args.root / args.bench
        if bench.is_file() and copy_bench(bench, args.root):
            print(f"copied {bench} to {args.root / BENCH_RESULTS}")
        new = render(text, args.root)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if new != text:
        readme.write_text(new)
    print(f"{readme}: {'regenerated' if new != text else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
