"""The CIFAR-10 benchmark's committed results (``benchmarks/results/cifar10.json``): load them, draw the
representation-learning curve, and print the table with its comparisons (README, notebook 06, docs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import stats

RESULTS_FILE = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "cifar10.json"
KEY = "cifar10-jpeg75"  # the JPEG-75 copy of CIFAR-10: never mixed with torchvision's


def load(path: Path = RESULTS_FILE) -> dict:
    """The CIFAR-10 benchmark's committed results (``benchmarks/cifar10.py``; {} where not shipped)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def plot_curve(results: dict, budget: str = "100", base_width: int = 32):
    """The representation-learning curve from ``benchmarks/results/cifar10.json``: probe test accuracy at
    ``budget`` labels/class against GAN epochs (mean ± 95 % CI over seeds), with the rotation-head runs
    where they exist, the random-init D and pixel lines and the epoch validation chose. Returns the figure."""
    import matplotlib.pyplot as plt

    entry = results[f"{KEY}/w{base_width}/headline"]
    curve = entry["curve"][budget]
    epochs = curve["epochs"]
    figure, axis = plt.subplots(figsize=(6.4, 4))
    mean = np.array([100 * p["mean"] for p in curve["dcgan_discriminator"]])
    half = np.array([100 * (p["ci95"] or 0) for p in curve["dcgan_discriminator"]])
    axis.plot(epochs, mean, "o-", color="#d62", label="DCGAN discriminator")
    axis.fill_between(epochs, mean - half, mean + half, color="#d62", alpha=0.2)
    rotation = entry.get("rotation_head", {}).get(budget, {}).get("curve")
    if rotation:  # the same GAN seeds with SS-GAN's rotation head on D (no labels)
        r_mean = np.array([100 * p["mean"] for p in rotation["test"]])
        r_half = np.array([100 * (p["ci95"] or 0) for p in rotation["test"]])
        axis.plot(rotation["epochs"], r_mean, "s--", color="#7a3", label="+ rotation head on D (SS-GAN)")
        axis.fill_between(rotation["epochs"], r_mean - r_half, r_mean + r_half, color="#7a3", alpha=0.15)
    for name, colour, label in (("random_init_discriminator", "#69c", "random-init discriminator"),
                                ("raw_pixels", "#999", "raw pixels")):
        line = curve[name]
        m, h = 100 * line["mean"], 100 * (line["ci95"] or 0)
        axis.axhline(m, color=colour, label=label)
        axis.axhspan(m - h, m + h, color=colour, alpha=0.15)
    chosen = entry["budgets"][budget]["epochs_chosen_on_validation"]
    axis.axvline(chosen, color="#d62", ls=":", lw=1, label=f"epoch chosen on validation ({chosen})")
    if rotation:
        chosen_rotation = entry["rotation_head"][budget]["epochs_chosen_on_validation"]
        axis.axvline(chosen_rotation, color="#7a3", ls=":", lw=1,
                     label=f"rotation head: epoch chosen on validation ({chosen_rotation})")
    axis.set_xticks(sorted(set(epochs) | set(rotation["epochs"] if rotation else [])))
    axis.set_xlabel("GAN training epochs (45,000 unlabelled images)")
    axis.set_ylabel(f"test accuracy, % ({budget} labels/class)")
    axis.set_title(f"CIFAR-10 (JPEG-75): linear probe, mean ± 95 % CI over {len(entry['seeds'])} GAN seeds",
                   fontsize=9)
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure


CONTROLS = (  # results key, its paired gap, what the row is, what the gap subtracts
    ("autoencoder", "gap_dcgan_minus_autoencoder", "Autoencoder (encoder = D's blocks)",
     "DCGAN D - autoencoder"),
    ("rotation_head", "gap_dcgan_minus_rotation", "GAN with a rotation head on D (SS-GAN, no labels)",
     "plain D - rotation-head D"),
    ("supervised_cnn", "gap_dcgan_minus_supervised", "Supervised CNN (D's architecture + linear head, "
     "trained on the draw only, flips and 4-px shifts)", "DCGAN D probe - supervised CNN"),
)


def signed(estimate: dict | None) -> str:
    """A paired gap as '+x.x ± y.y', or a dash where it was not measured."""
    return stats.Estimate.from_dict(estimate).format(signed=True) if estimate else "–"


def report(results: dict, base_width: int = 32) -> str:
    """Markdown for README and notebook 06: per budget, test accuracy ± 95 % CI over seeds and the
    paired gap to the random-init discriminator, with the validation-chosen epoch."""
    entry = results[f"{KEY}/w{base_width}/headline"]
    seeds = len(entry["seeds"])
    lines = [f"CIFAR-10 as JPEG-75 (`{KEY}`, mirror commit {entry['source']['commit'][:7]}), D width "
             f"{base_width}, GAN on the 45,000-image pool, {seeds} GAN seeds x {entry['draws_per_seed']} "
             "label draws; epochs, ridge penalty and random-init's initialisation chosen on the 5,000-image "
             "validation split; test scored once per number (95 % Student t intervals over seeds).", "",
             "| labels per class | GAN epochs (validation) | raw pixels | random-init D | DCGAN D "
             "| paired gap D - random-init D, points |", "|---:|---:|---:|---:|---:|---:|"]
    for budget, row in entry["budgets"].items():
        results_row = row["results"]

        def cell(name, results_row=results_row):
            accuracy = results_row[name].get("accuracy")
            return stats.Estimate.from_dict(accuracy).format() if accuracy else "–"

        gap_text = signed(results_row["dcgan_discriminator"].get("gap"))
        lines.append(f"| {budget} | {row['epochs_chosen_on_validation']} | {cell('raw_pixels')} | "
                     f"{cell('random_init_discriminator')} | {cell('dcgan_discriminator')} | {gap_text} |")
    for key, gap_key, what, comparison in CONTROLS:
        for budget, row in entry.get(key, {}).items():
            epochs = row.get("epochs_chosen_on_validation")
            trained = f", {epochs} epoch{'s' * (epochs != 1)} (validation)" if epochs is not None else ""
            lines.append(f"\n{what}, {budget}/class, {len(row['seeds'])} seeds{trained}: "
                         f"{stats.Estimate.from_dict(row['accuracy']).format()}; {comparison}, paired: "
                         f"{signed(row.get(gap_key))} points.")
            if "recipe_chosen_on_validation" in row:
                rotation_gap = signed(row.get("gap_rotation_minus_random_init"))
                lines[-1] += (f" Validation chose the {row['recipe_chosen_on_validation']} recipe "
                              f"({100 * row['validation']:.1f} % with the rotation head, "
                              f"{100 * row['plain_validation']:.1f} % plain); "
                              f"rotation-head D - random-init D, paired: {rotation_gap} points.")
    for budget, rows in entry.get("larger_budgets", {}).items():
        lines.append("\n" + larger_budget_line(budget, rows))
    return "\n".join(lines)


LARGER_BUDGET_LABELS = {"rotation_discriminator": "rotation-head D", "dcgan_discriminator": "DCGAN D",
                        "random_init_discriminator": "random-init D", "autoencoder": "autoencoder",
                        "supervised_cnn": "supervised CNN", "raw_pixels": "raw pixels"}


def larger_budget_line(budget: str, rows: dict) -> str:
    """One sentence for 400 labels/class or all labels: each representation's accuracy over its seeds and
    the paired gaps of the trained discriminators (and pixels) to the controls."""
    cells = []
    for name in (n for n in LARGER_BUDGET_LABELS if n in rows):
        row = rows[name]
        accuracy = stats.Estimate.from_dict(row["accuracy"])
        if len(row["seeds"]) > 1:
            notes = [f"{len(row['seeds'])} seeds"]
            text = accuracy.format()
        else:
            notes, text = [f"seed {row['seeds'][0]}"], f"{100 * accuracy.mean:.1f}"
        notes += [f"- {label} {signed(row[f'gap_minus_{other}'])}"
                  for other, label in LARGER_BUDGET_LABELS.items() if f"gap_minus_{other}" in row]
        cells.append(f"{LARGER_BUDGET_LABELS[name]} {text} ({', '.join(notes)})")
    what = ("All 45,000 labels (one draw per seed" if budget == "all"
            else f"{budget} labels per class (5 draws per seed")
    return (f"{what}; ridge, each trained D and the autoencoder at their 100-per-class epoch, the CNN's "
            "steps on validation; paired gaps in points): " + "; ".join(cells) + ".")
