"""The third-person experiment's figure: the expert's demo drives and each method's evaluated episodes (every
training run's) drawn on the scenario's map, coloured by how they ended; then the share of the floor-to-ceiling gap
each method closes and the domain probe's accuracy, with their intervals over training runs. A PNG, matplotlib's
Agg backend. Frame: y points south, so the y axis is inverted (north up, as highway-env renders it)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from drivebench.scenarios import family as families
from drivebench.scenarios import registry
from drivebench.thirdperson import METHODS

ENDS = {"arrived": "#2ca02c", "crashed": "#d62728", "off_road": "#ff7f0e"}
OTHER_END = "#7f7f7f"
"""timeout, stuck, invalid action"""
TITLES = {"first_person": "first-person GAIL (ceiling)", "naive": "naive GAIL (floor)",
          "tpil": "domain-adversarial (TPIL)", "oracle": "oracle map to ego"}


def thirdperson_figure(result, data: dict, path: Path | str) -> Path:
    """Draw `result` (experiment.ThirdPersonResult) with its JSON summary `data` into `path`."""
    spec = registry.get(result.config.scenario).spec
    family = families.of(spec)
    xmin, xmax, ymin, ymax = family.bounds(spec)
    pad = 0.05 * max(xmax - xmin, ymax - ymin)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    panels = [("demos", f"expert demos ({len(result.demo_poses)}; shown to the learner in the "
                        f"{result.config.frame} frame)", [(p, "arrived") for p in result.demo_poses])]
    trained = data.get("methods_trained", METHODS)
    for m in trained:
        est = data["methods"][m]
        paths = [(rec.trajectory.poses, rec.metrics.termination) for r in result.of(m) for rec in r.records]
        panels.append((m, f"{TITLES[m]}: {est['success']['value']:.0%} arrive, score "
                          f"{est['driving_score']['value']:.0f}", paths))
    for ax, (_, title, paths) in zip(axes.ravel(), panels):
        family.draw(ax, spec)
        for poses, end in paths:
            ax.plot(poses[:, 0], poses[:, 1], color=ENDS.get(end, OTHER_END), lw=0.7, alpha=0.5)
        ax.set_xlim(xmin - pad, xmax + pad)
        ax.set_ylim(ymax + pad, ymin - pad)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    ax = axes.ravel()[-1]
    x = np.arange(len(trained))
    gaps = [data["gap_closed"][m] for m in trained]
    values = [g["value"] if g["value"] is not None else 0.0 for g in gaps]
    err = [[v - (g["low"] if g["low"] is not None else v) for v, g in zip(values, gaps)],
           [(g["high"] if g["high"] is not None else v) - v for v, g in zip(values, gaps)]]
    ax.bar(x - 0.2, values, 0.4, yerr=err, color="#1f5fbf", capsize=3, label="gap closed (driving score)")
    probe = [data["methods"][m]["probe"] for m in trained]
    ax.bar(x + 0.2, [p["value"] for p in probe], 0.4, color="#9467bd", capsize=3, label="domain probe accuracy",
           yerr=[[p["value"] - p["low"] for p in probe], [p["high"] - p["value"] for p in probe]])
    ax.axhline(0.5, color="#9467bd", lw=0.8, ls=":")
    ax.axhline(1.0, color="k", lw=0.6, ls="--")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xticks(x, [m.replace("_", "-") for m in trained], fontsize=8)
    ax.set_title("gap closed (naive 0 -> first-person 1);\nprobe accuracy (0.5 = frame-invariant)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    handles = [plt.Line2D([], [], color=c, label=k.replace("_", "-")) for k, c in ENDS.items()]
    handles.append(plt.Line2D([], [], color=OTHER_END, label="timeout / stuck"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(f"Third-person imitation on {result.config.scenario}, demos in the {result.config.frame} frame, "
                 f"{data['runs']} training run(s) x {data['episodes']} episodes, {result.config.preset} preset "
                 f"(lambda {data['domain_weight']:g})", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.96))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
