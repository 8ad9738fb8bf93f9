"""The report's index.html: one static page, CSS inline, no script and no external address; figures and files
by relative paths, so the folder opens from disk (or from any web server) as it is."""
from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drivebench.leaderboard import Suite
from drivebench.report.gifs import GifResult

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; max-width: 1280px;
       margin: 1.5em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h3 { margin-bottom: 0.3em; }
p.explain { color: #444; max-width: 60em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.55em; text-align: left; white-space: nowrap; }
th { background: #f1f1f1; }
table.leaderboard td { font-variant-numeric: tabular-nums; }
table.leaderboard tbody tr:nth-child(even) { background: #fafafa; }
table.info th { width: 11em; vertical-align: top; }
table.info td { white-space: normal; }
figure { margin: 0.6em 0 1.4em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.88em; color: #555; max-width: 60em; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1em; }
.gifs { display: flex; flex-wrap: wrap; gap: 1.2em; }
.gifs figure { width: 320px; }
.note { color: #8a4b00; background: #fff6e5; border-left: 3px solid #e69500; padding: 0.3em 0.7em; }
"""

EXPLAIN = {
    "leaderboard": "One table per track: all (every scenario) and each scenario family, in the standard data "
                   "regime and in the few-demo one (-<n>demos: the entries trained on that many demos per "
                   "scenario); the baselines are on every track for reference, and each track's rows are computed "
                   "over its scenarios only. Entries ranked by their in-distribution driving score (route "
                   "completion x infraction penalties, 0-100) with 95% intervals in brackets: rliable's stratified "
                   "bootstrap over the entry's training runs (runs) within scenarios; a one-run entry (1*: the "
                   "baselines, a one-policy submission) has intervals over episodes. The off-distribution score is "
                   "the same over the shifted conditions; P(improve) is the probability that a run of the entry "
                   "beats a run of the next one down on a scenario. Incomplete entries miss some episodes and rank "
                   "below the rest (an entry for one family is complete on that family's track). The score bars "
                   "cover every entry and run; the robustness curves, maps, failure plots and GIFs below show each "
                   "entry's first training run.",
    "scores": "Each bar is an entry's mean driving score with its 95% interval; the right panel is the same score "
              "under the off-distribution shifts. Overlapping whiskers mean the data cannot tell the two entries "
              "apart; the drop from left to right is what leaving the demonstrations costs.",
    "robustness": "The share of episodes that do not arrive as the car starts further from the demonstrations "
                  "(moved sideways and turned away). A learner that only copied the expert's states (BC) climbs "
                  "steeply; one trained on the states it visits itself (DAgger) should stay near the expert.",
    "trajectories": "Every official episode of each entry on the scenario under {condition}, drawn on the road "
                    "(y points down, as in the simulator). Look for paths that leave the road in the curve "
                    "(orange circles: first step off the road) and for crashes (red crosses); the expert's panel "
                    "shows what recovering from the same starts looks like.",
    "failures": "Where episodes ended without arriving, over all entries and conditions, coloured by cause and "
                "shaped by entry. Clusters are the hard places: the outside of a curve, the mouth of the goal bay.",
    "gifs": "For each entry, of the official seeds where it failed and the expert arrived from the same start "
            "(curves under {condition} first), the one where it got furthest, simulated again with rendering; "
            "played at {speed:g}x speed, the last frame holds on the failure.",
}


@dataclass(frozen=True)
class Picture:
    """A figure on the page."""

    file: str
    """relative path of the PNG or GIF ('' if it could not be made)"""
    alt: str
    caption: str = ""
    error: str = ""
    """why it is missing ('' when it is there)"""


def _e(text) -> str:
    return html.escape(str(text))


def picture(p: Picture) -> str:
    if not p.file:
        return f'<p class="note">{_e(p.alt)}: not drawn ({_e(p.error)})</p>'
    caption = f"<figcaption>{_e(p.caption)}</figcaption>" if p.caption else ""
    return f'<figure><img src="{_e(p.file)}" alt="{_e(p.alt)}">{caption}</figure>'


def info_table(run_info: Mapping[str, object], suite: Suite) -> str:
    items = dict(run_info)
    items.setdefault("suite", f"v{suite.version}: {len(suite.scenarios)} scenarios ({', '.join(suite.scenarios)}) x "
                              f"{suite.describe_seeds()}; conditions: {', '.join(map(str, suite.conditions))}")
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_text(v))}</td></tr>" for k, v in items.items())
    return f'<table class="info"><tbody>{rows}</tbody></table>'


def _text(value) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, sort_keys=isinstance(value, dict))
    return str(value)


def gif_figure(result: GifResult) -> str:
    r = result.request
    title = f"{r.entry} on {r.scenario} under {r.shift}, seed {r.seed}"
    if not result.file:
        return f'<p class="note">{_e(title)}: no GIF ({_e(result.error)})</p>'
    mismatch = ("" if result.matches in (True, None) else
                " Note: this replay did not reproduce the stored episode exactly (the agent changed since?).")
    return (f'<figure><img src="{_e(result.file)}" alt="{_e(title)}" width="300">'
            f"<figcaption><b>{_e(title)}</b>: {_e(r.why)}.{_e(mismatch)}</figcaption></figure>")


def render(*, title: str, run_info: Mapping[str, object], suite: Suite, leaderboard_html: str, files: Sequence[str],
           scores: Picture, robustness: Picture, trajectories: Sequence[Picture], failures: Sequence[Picture],
           gifs: Sequence[GifResult], gif_note: str, condition: str, speed: float, notes: Sequence[str]) -> str:
    """The whole page as a string."""
    file_list = " &middot; ".join(f'<a href="{_e(f)}">{_e(f)}</a>' for f in files)
    gif_html = "".join(gif_figure(g) for g in gifs)
    if gif_note:
        gif_html += f'<p class="note">{_e(gif_note)}</p>'
    notes_html = "".join(f'<p class="note">{_e(n)}</p>' for n in notes)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{_e(title)}</h1>
{info_table(run_info, suite)}
{notes_html}
<h2 id="leaderboard">Leaderboard</h2>
<p class="explain">{_e(EXPLAIN["leaderboard"])}</p>
{leaderboard_html}
<p>The tables behind this page: {file_list}</p>
<h2 id="scores">Driving score per entry</h2>
<p class="explain">{_e(EXPLAIN["scores"])}</p>
{picture(scores)}
<h2 id="robustness">Robustness: failure rate vs start offset</h2>
<p class="explain">{_e(EXPLAIN["robustness"])}</p>
{picture(robustness)}
<h2 id="trajectories">Trajectories on the map</h2>
<p class="explain">{_e(EXPLAIN["trajectories"].format(condition=condition))}</p>
{"".join(picture(p) for p in trajectories) or "<p>No scenario evaluated.</p>"}
<h2 id="failures">Where failures happen</h2>
<p class="explain">{_e(EXPLAIN["failures"])}</p>
<div class="grid">{"".join(picture(p) for p in failures)}</div>
<h2 id="gifs">Failures replayed</h2>
<p class="explain">{_e(EXPLAIN["gifs"].format(condition=condition, speed=speed))}</p>
<div class="gifs">{gif_html}</div>
</body>
</html>
"""
