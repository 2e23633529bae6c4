"""`tinykws stream RUN WAV` and `tinykws stream-eval RUN --data-dir DIR ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

MAX_MINUTES = 24 * 60.0
RunArg = Annotated[Path, typer.Argument(help="run directory or shipped model folder (config.json + int8.tflite)")]


def stream(
    run_dir: RunArg,
    wav: Annotated[Path, typer.Argument(help="WAV file of any length (resampled to the model's rate)")],
    threshold: Annotated[Optional[int], typer.Option(
        help="int8 threshold instead of the run's stream.threshold")] = None,
) -> None:
    """Detect keywords in a long recording: label, time (s) and smoothed score per detection."""
    import dataclasses

    from tinykws.cli.common import console
    from tinykws.run import open_run
    from tinykws.stream.detect import detect_wav, hop_time

    cfg = open_run(run_dir).config.stream
    cfg = cfg if threshold is None else dataclasses.replace(cfg, threshold=threshold)
    detections, run, quant = detect_wav(run_dir, wav, cfg)
    for d in detections:
        t = float(hop_time(d.hop, run.config.features))
        console.print(f"{t:9.2f} s  {run.config.labels[d.label]:<10} score {float(quant.probability(d.score)):.3f} "
                      f"(int8 {d.score})", highlight=False)
    console.print(f"{len(detections)} detection(s) in {wav} (threshold int8 {cfg.threshold})", highlight=False)


def stream_eval(
    run_dir: RunArg,
    data_dir: Annotated[list[Path], typer.Option("--data-dir", help="data folder(s) of held-out clips")],
    minutes: Annotated[float, typer.Option(min=0.05, max=MAX_MINUTES,
                                           help="length of the test stream in minutes")] = 60.0,
    snr: Annotated[float, typer.Option("--snr", help="speech over background noise, dB")] = 20.0,
    seed: Annotated[int, typer.Option(help="random seed of the stream")] = 0,
    max_fa: Annotated[float, typer.Option("--max-fa-per-hour", min=0.0, help="false accepts per hour allowed at the "
                                                                   "chosen operating point")] = 0.5,
    threshold: Annotated[Optional[int], typer.Option(
        min=-128, max=127, help="evaluate this int8 threshold only (no sweep, config.json unchanged)")] = None,
    write_config: Annotated[bool, typer.Option(
        "--write-config", help="write the chosen operating point (threshold, average_results, "
                                          "min_count) into the run's config.json")] = False,
    into_shipped: Annotated[bool, typer.Option(
        "--into-shipped-model", help="with --write-config: allow changing a shipped model folder's config.json "
                                     "(models/NAME, made by `tinykws ship`)")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="folder of the report and plot "
                                                              "(default RUN/stream)")] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="also write the report here")] = None,
    tune_minutes: Annotated[Optional[float], typer.Option(
        "--validation-minutes", min=0.05, max=MAX_MINUTES,
        help="length of the validation stream that chooses the threshold (default: --minutes)")] = None,
    clean: Annotated[bool, typer.Option("--clean/--no-clean",
                                        help="also score the test stream without background noise")] = True,
    fast: Annotated[bool, typer.Option(
        "--fast", help="LiteRT's optimized (XNNPACK) kernels: much faster, but not bit-exact with the "
                       "reference kernels that the MCU's engine matches")] = False,
) -> None:
    """Long streams of held-out keywords over noise and unknown words: FRR, false accepts/hour, latency.

    The held-out speakers are split in two: the threshold is chosen on a validation stream of one
    half and the figures are measured on a test stream of the other (also clean, without noise)."""
    from tinykws.run import open_run
    from tinykws.stream.evaluate import EvalOptions, apply_operating_point, evaluate, plot_tradeoff, write_json

    run = open_run(run_dir)
    _check_write_config(run.path, write_config, into_shipped, threshold)
    opts = EvalOptions(minutes=minutes, snr_db=snr, seed=seed, max_false_accepts_per_hour=max_fa,
                       fixed_threshold=threshold, tune_minutes=tune_minutes, clean=clean)
    with _progress() as bar:
        task = bar.add_task("loading held-out clips", total=None)
        report = evaluate(run, data_dir, opts, lambda what, done, total: bar.update(
            task, description=what, completed=done, total=total), reference=not fast)
    out_dir = out or run.path / "stream"
    write_json(report, out_dir / "stream_eval.json")
    if json_path is not None:
        write_json(report, json_path)
    if threshold is None:
        plot_tradeoff(report, out_dir / "tradeoff.png")
        if write_config:
            apply_operating_point(run, report)
    _print_report(report, out_dir, saved=threshold is None and write_config)


def _check_write_config(run_dir: Path, write_config: bool, into_shipped: bool, threshold: Optional[int]) -> None:
    """Refuse, before any work, a config.json change that was not asked for explicitly enough."""
    from tinykws.errors import InputError
    from tinykws.run import is_shipped

    if write_config and threshold is not None:
        raise InputError("--write-config writes the threshold a sweep chooses; it cannot go with --threshold")
    if write_config and is_shipped(run_dir) and not into_shipped:
        raise InputError(f"{run_dir / 'config.json'}: belongs to a shipped model folder; add "
                         "--into-shipped-model to change its threshold")
    if into_shipped and not write_config:
        raise InputError("--into-shipped-model only makes sense with --write-config")


def _progress():
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from tinykws.cli.common import err_console

    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeRemainingColumn(), console=err_console, transient=False)


def _print_report(report: dict, out_dir: Path, saved: bool) -> None:
    from tinykws.cli.common import console, err_console

    lat = report["latency_ms"]
    for name, k in report["per_keyword"].items():
        console.print(f"  {name:<6} {k['hits']:4d}/{k['events']:<4d} detected, "
                      f"FRR {100 * k['false_reject_rate']:5.1f}%, {k['false_accepts']} false accept(s)",
                      highlight=False)
    median = "n/a" if lat["median"] is None else f"{lat['median']:.0f} ms (p90 {lat['p90']:.0f} ms)"
    console.print(f"{report['minutes']:g} min, {report['events']['keyword']} keywords, "
                  f"{report['events']['unknown']} unknown words ({report['unknown_words_per_hour']:.0f}/hour), "
                  f"SNR {report['snr_db']:g} dB: threshold int8 {report['threshold']} "
                  f"(mean of {report['stream_config']['average_results']} results, "
                  f"{report['stream_config']['min_count']} in a row) "
                  f"(p={report['threshold_probability']:.3f}): FRR "
                  f"{100 * report['false_reject_rate']:.2f}%, {report['false_accepts_per_hour']:.2f} false accepts "
                  f"per hour, latency after the word median {median}", highlight=False)
    if "clean" in report:
        c = report["clean"]
        console.print(f"clean (no background noise, same events): FRR {100 * c['false_reject_rate']:.2f}%, "
                      f"{c['false_accepts_per_hour']:.2f} false accepts per hour", highlight=False)
    if "validation" in report:
        v = report["validation"]
        console.print(f"threshold chosen on the validation stream ({report['speakers']['validation']} speakers; "
                      f"test stream: {report['speakers']['test']}): there FRR "
                      f"{100 * v['false_reject_rate']:.2f}%, {v['false_accepts_per_hour']:.2f} false accepts per hour",
                      highlight=False)
    if not report["operating_point"]["speakers_disjoint"]:
        err_console.print("[yellow]warning:[/] only one held-out speaker: the threshold was chosen on a stream "
                          "of the same speaker as the test stream", highlight=False)
    ctx = report["false_accepts_by_context"]
    console.print(f"false accepts: {ctx['unknown_word']} during unknown words, {ctx['keyword']} during keywords "
                  f"(wrong word or repeat), {ctx['noise']} in noise only", highlight=False)
    if "validation" in report and not any(c["false_accepts_per_hour"] <= report["goal"]["max_false_accepts_per_hour"]
                                          for c in report["validation"]["curve"]):
        err_console.print(f"[yellow]warning:[/] no threshold keeps false accepts at or below "
                          f"{report['goal']['max_false_accepts_per_hour']:g} per hour; chose the one with the "
                          "fewest (see the curve; --max-fa-per-hour sets the budget)", highlight=False)
    verdict = "[bold green]meets[/]" if report["meets_goal"] else "[bold yellow]misses[/]"
    console.print(f"{verdict} the goal (FRR <= {100 * report['goal']['max_false_reject_rate']:g}%, "
                  f"<= {report['goal']['max_false_accepts_per_hour']:g} false accepts/hour); report "
                  f"{out_dir / 'stream_eval.json'}" + ("; threshold written to config.json" if saved else ""))


def register(app: typer.Typer) -> None:
    from tinykws.cli.common import guarded

    app.command("stream")(guarded(stream))
    app.command("stream-eval")(guarded(stream_eval))
