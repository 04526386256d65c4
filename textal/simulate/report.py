"""What a simulation leaves behind: the summary table, every curve point as CSV and JSON, a plot.

The summary compares strategies by the area under the macro-F1 learning curve (AULC), paired by
seed (every strategy of a seed starts from the same labels): a difference counts as a win or a
loss only when its 95% t-interval over seeds excludes 0, else it is a tie (within noise).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from textal.extras import require_extra
from textal.fsio import atomic_write, check_targets
from textal.simulate.metrics import Paired, area_under_curve, labels_to_reach, paired_difference
from textal.simulate.oracle import CurvePoint, Reference

#: Share of the full-data macro-F1 that "labels to reach" asks for.
TARGET_SHARE = 0.95
BASELINE = "random"
#: Joins a strategy and an embedding in run names when several embeddings are compared.
EMBEDDING_SEP = " @ "


@dataclass(frozen=True)
class MeanStd:
    mean: float
    std: float

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.std:.3f}"


def _mean_std(values: Sequence[float]) -> MeanStd:
    return MeanStd(
        float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    )


@dataclass(frozen=True)
class StrategySummary:
    """One strategy over its seeds. AULCs are normalised (mean height of the curve).

    ``labels_to_target`` is the first label count where the seed-mean macro-F1 curve reaches
    ``TARGET_SHARE`` of the full-data macro-F1 (``None``: never within the budget).
    ``vs_random``/``vs_best`` are paired AULC macro-F1 differences (``None`` against itself or
    when random was not run), ``accuracy_vs_random`` the same for AULC accuracy.
    ``seconds_per_round`` is fit + score + select, averaged.
    """

    strategy: str
    seeds: int
    final_accuracy: MeanStd
    final_macro_f1: MeanStd
    final_worst_recall: MeanStd
    aulc_accuracy: MeanStd
    aulc_macro_f1: MeanStd
    vs_random: Paired | None
    vs_best: Paired | None
    accuracy_vs_random: Paired | None
    labels_to_target: int | None
    seconds_per_round: float


def group_by_strategy(
    runs: Sequence[Sequence[CurvePoint]],
) -> dict[str, list[Sequence[CurvePoint]]]:
    """Runs per strategy, in first-seen order, each list ordered by seed."""
    groups: dict[str, list[Sequence[CurvePoint]]] = {}
    for run in runs:
        groups.setdefault(run[0].strategy, []).append(run)
    for group in groups.values():
        group.sort(key=lambda run: run[0].seed)
    return groups


def mean_curve(group: Sequence[Sequence[CurvePoint]], metric: str) -> tuple[list[int], np.ndarray]:
    """Label counts and the (seeds, points) array of ``metric`` ("accuracy" or "macro_f1")."""
    length = min(len(run) for run in group)
    labels = [p.labels for p in group[0][:length]]
    values = np.array([[getattr(p, metric) for p in run[:length]] for run in group])
    return labels, values


def summarize(runs: Sequence[Sequence[CurvePoint]], reference: Reference) -> list[StrategySummary]:
    """One row per strategy, in the order the strategies were run."""
    groups = group_by_strategy(runs)
    aulc = {name: _aulcs(group, "macro_f1") for name, group in groups.items()}
    aulc_accuracy = {name: _aulcs(group, "accuracy") for name, group in groups.items()}
    best = max(aulc, key=lambda name: np.mean(aulc[name]))
    rows = []
    for name, group in groups.items():
        labels, f1 = mean_curve(group, "macro_f1")
        finals = [run[-1] for run in group]
        seconds = [p.fit_s + p.select_s for run in group for p in run if p.select_s is not None]
        rows.append(
            StrategySummary(
                strategy=name,
                seeds=len(group),
                final_accuracy=_mean_std([p.accuracy for p in finals]),
                final_macro_f1=_mean_std([p.macro_f1 for p in finals]),
                final_worst_recall=_mean_std([min(p.recall.values()) for p in finals]),
                aulc_accuracy=_mean_std(aulc_accuracy[name]),
                aulc_macro_f1=_mean_std(aulc[name]),
                vs_random=_paired(aulc, name, _baseline(name)),
                vs_best=_paired(aulc, name, best),
                accuracy_vs_random=_paired(aulc_accuracy, name, _baseline(name)),
                labels_to_target=labels_to_reach(
                    labels, f1.mean(axis=0), TARGET_SHARE * reference.macro_f1
                ),
                seconds_per_round=float(np.mean(seconds)) if seconds else 0.0,
            )
        )
    return rows


def _baseline(name: str) -> str:
    """Random with the same embedding as ``name``."""
    _, sep, embedding = name.partition(EMBEDDING_SEP)
    return BASELINE + sep + embedding


def _aulcs(group: Sequence[Sequence[CurvePoint]], metric: str) -> list[float]:
    return [area_under_curve([p.labels for p in r], [getattr(p, metric) for p in r]) for r in group]


def _paired(aulc: dict[str, list[float]], name: str, other: str) -> Paired | None:
    if name == other or other not in aulc or len(aulc[other]) != len(aulc[name]):
        return None
    return paired_difference(aulc[name], aulc[other])


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def show_paired(paired: Paired | None) -> str:
    """``+0.012 ± 0.008 win``, as every table of paired differences shows one; ``—`` for none."""
    return "—" if paired is None else f"{paired.mean:+.3f} ± {paired.std:.3f} {paired.verdict}"


@dataclass(frozen=True)
class MultiLabelSummary:
    """One strategy of a multi-label simulation over its seeds: final scores and AULCs of subset
    accuracy, micro- and macro-F1; paired AULC differences against random (macro and micro) and
    against the best strategy by AULC macro-F1."""

    strategy: str
    seeds: int
    final_subset_accuracy: MeanStd
    final_micro_f1: MeanStd
    final_macro_f1: MeanStd
    aulc_subset_accuracy: MeanStd
    aulc_micro_f1: MeanStd
    aulc_macro_f1: MeanStd
    macro_vs_random: Paired | None
    micro_vs_random: Paired | None
    macro_vs_best: Paired | None
    seconds_per_round: float


def summarize_multilabel(runs: Sequence[Sequence[CurvePoint]]) -> list[MultiLabelSummary]:
    """One row per strategy of a multi-label simulation, in the order they were run."""
    groups = group_by_strategy(runs)
    macro = {name: _aulcs(group, "macro_f1") for name, group in groups.items()}
    micro = {name: _aulcs(group, "micro_f1") for name, group in groups.items()}
    best = max(macro, key=lambda name: np.mean(macro[name]))
    rows = []
    for name, group in groups.items():
        finals = [run[-1] for run in group]
        seconds = [p.fit_s + p.select_s for run in group for p in run if p.select_s is not None]
        rows.append(
            MultiLabelSummary(
                strategy=name,
                seeds=len(group),
                final_subset_accuracy=_mean_std([p.accuracy for p in finals]),
                final_micro_f1=_mean_std([p.micro_f1 or 0.0 for p in finals]),
                final_macro_f1=_mean_std([p.macro_f1 for p in finals]),
                aulc_subset_accuracy=_mean_std(_aulcs(group, "accuracy")),
                aulc_micro_f1=_mean_std(micro[name]),
                aulc_macro_f1=_mean_std(macro[name]),
                macro_vs_random=_paired(macro, name, _baseline(name)),
                micro_vs_random=_paired(micro, name, _baseline(name)),
                macro_vs_best=_paired(macro, name, best),
                seconds_per_round=float(np.mean(seconds)) if seconds else 0.0,
            )
        )
    return rows


def format_multilabel_summary(
    title: str, rows: Sequence[MultiLabelSummary], reference: Reference
) -> str:
    """A Markdown table of a multi-label simulation, with the full-data reference below it."""
    header = [
        "strategy",
        "final subset acc.",
        "final micro-F1",
        "final macro-F1",
        "AULC subset acc.",
        "AULC micro-F1",
        "AULC macro-F1",
        "ΔAULC macro-F1 vs random",
        "ΔAULC micro-F1 vs random",
        "ΔAULC macro-F1 vs best",
        "s/round",
    ]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [
            r.strategy,
            str(r.final_subset_accuracy),
            str(r.final_micro_f1),
            str(r.final_macro_f1),
            str(r.aulc_subset_accuracy),
            str(r.aulc_micro_f1),
            str(r.aulc_macro_f1),
            show_paired(r.macro_vs_random),
            show_paired(r.micro_vs_random),
            show_paired(r.macro_vs_best),
            f"{r.seconds_per_round:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Full data ({reference.labels} labels, {reference.model}): subset accuracy "
        f"{reference.accuracy:.3f}, micro-F1 {reference.micro_f1 or 0.0:.3f}, macro-F1 "
        f"{reference.macro_f1:.3f}. Mean ± std over {_seeds(rows[0].seeds)}; Δ: paired by "
        "seed, win/loss when the 95% t-interval excludes 0, else tie.",
    ]
    return "\n".join(lines) + "\n"


def format_summary(
    title: str, rows: Sequence[StrategySummary], reference: Reference, budget: int
) -> str:
    """A Markdown table of ``rows`` under ``title``, with the full-data reference below it."""
    header = [
        "strategy",
        "final accuracy",
        "final macro-F1",
        "final worst-class recall",
        "AULC accuracy",
        "AULC macro-F1",
        "ΔAULC-F1 vs random",
        "ΔAULC-F1 vs best",
        "ΔAULC-acc vs random",
        f"labels to {TARGET_SHARE:.0%} of full F1",
        "s/round",
    ]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        reach = f"> {budget}" if r.labels_to_target is None else str(r.labels_to_target)
        cells = [
            r.strategy,
            str(r.final_accuracy),
            str(r.final_macro_f1),
            str(r.final_worst_recall),
            str(r.aulc_accuracy),
            str(r.aulc_macro_f1),
            show_paired(r.vs_random),
            show_paired(r.vs_best),
            show_paired(r.accuracy_vs_random),
            reach,
            f"{r.seconds_per_round:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Full data ({reference.labels} labels, {reference.model}): accuracy "
        f"{reference.accuracy:.3f}, macro-F1 {reference.macro_f1:.3f}, worst-class recall "
        f"{min(reference.recall.values()):.3f}. Mean ± std over {_seeds(rows[0].seeds)}; "
        "Δ: paired by seed, win/loss when the 95% t-interval excludes 0, else tie.",
    ]
    return "\n".join(lines) + "\n"


def write_points_csv(
    path: Path,
    runs: Sequence[Sequence[CurvePoint]],
    classes: Sequence[str],
    multi_label: bool = False,
) -> None:
    """One row per curve point; per-class recall in columns ``recall:<class>``, labels per class
    in ``labeled:<class>``. Multi-label: ``accuracy`` is the subset accuracy, and a
    ``micro_f1`` column follows the model."""
    fields = ["strategy", "seed", "round", "labels", "accuracy", "macro_f1", "model"]
    fields += ["micro_f1"] if multi_label else []
    fields += ["fit_s", "select_s"] + [f"recall:{c}" for c in classes]
    fields += [f"labeled:{c}" for c in classes]
    with atomic_write(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(fields)
        for run in runs:
            for p in run:
                row = [p.strategy, p.seed, p.round, p.labels, p.accuracy, p.macro_f1, p.model]
                row += [p.micro_f1] if multi_label else []
                row += [p.fit_s, "" if p.select_s is None else p.select_s]
                row += [p.recall.get(c, "") for c in classes]
                row += [p.labeled.get(c, 0) for c in classes]
                writer.writerow(row)


def write_json(
    path: Path,
    config: dict,
    runs: Sequence[Sequence[CurvePoint]],
    reference: Reference,
    rows: Sequence[StrategySummary] | Sequence[MultiLabelSummary],
) -> None:
    """Everything in one file: the settings, the reference, the summary rows and every point."""
    document = {
        "config": config,
        "reference": asdict(reference),
        "summary": [asdict(r) for r in rows],
        "points": [asdict(p) for run in runs for p in run],
    }
    with atomic_write(path) as f:
        f.write(json.dumps(document, indent=1, ensure_ascii=False))


def plot_curves(
    path: Path,
    title: str,
    runs: Sequence[Sequence[CurvePoint]],
    reference: Reference,
    multi_label: bool = False,
) -> None:
    """Accuracy and macro-F1 against labels (multi-label: subset accuracy, micro- and
    macro-F1): seed mean with a ±1 std band per strategy, and the full-data score as a dashed
    line. Written as PNG."""
    require_extra("plots", "the learning-curve plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("accuracy", "accuracy", reference.accuracy)]
    if multi_label:
        panels = [
            ("accuracy", "subset accuracy", reference.accuracy),
            ("micro_f1", "micro-F1", reference.micro_f1 or 0.0),
        ]
    panels.append(("macro_f1", "macro-F1", reference.macro_f1))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), sharex=True)
    for ax, (metric, name, full) in zip(axes, panels, strict=True):
        for strategy, group in group_by_strategy(runs).items():
            labels, values = mean_curve(group, metric)
            mean = values.mean(axis=0)
            std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros_like(mean)
            (line,) = ax.plot(labels, mean, label=strategy, linewidth=1.6)
            ax.fill_between(labels, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.axhline(full, color="black", linestyle="--", linewidth=1, label="full data")
        ax.set_xlabel("labels")
        ax.set_ylabel(f"test {name}")
        ax.grid(alpha=0.3)
    axes[-1].legend(loc="lower right", fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, dpi=110, format="png")
    plt.close(fig)


def write_results(
    out: Path,
    title: str,
    settings: dict,
    runs: Sequence[Sequence[CurvePoint]],
    reference: Reference,
    classes: Sequence[str],
    multi_label: bool = False,
) -> str:
    """Write summary.md, curves.csv, curves.json and curves.png to ``out``; return the summary.
    ``multi_label``: the runs are multi-label (:func:`format_multilabel_summary`)."""
    rows: Sequence[StrategySummary] | Sequence[MultiLabelSummary]
    if multi_label:
        rows = summarize_multilabel(runs)
        table = format_multilabel_summary(title, rows, reference)
    else:
        rows = summarize(runs, reference)
        protocol = settings["protocol"]
        budget = protocol["init"] + protocol["rounds"] * protocol["batch_size"]
        table = format_summary(title, rows, reference, budget)
    check_targets(
        [out / name for name in ("summary.md", "curves.csv", "curves.json", "curves.png")]
    )
    with atomic_write(out / "summary.md") as f:
        f.write(table)
    write_points_csv(out / "curves.csv", runs, classes, multi_label)
    write_json(out / "curves.json", settings, runs, reference, rows)
    plot_curves(out / "curves.png", title, runs, reference, multi_label)
    return table
