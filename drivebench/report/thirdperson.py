"""The report's third-person imitation section (issue 19): a thirdperson.json (`drivebench thirdperson`) as a
Markdown section and an HTML fragment that show the table of the four methods, the gap each closes, the domain
probe and the figure, with what they mean. `write_section(folder)` writes section.md and section.html beside the
JSON; `drivebench thirdperson` calls it after the experiment."""
from __future__ import annotations

import html
import json
from pathlib import Path

from drivebench.thirdperson.cli import format_report, table

EXPLANATION = (
    "The learner drives in its own ego frame; the expert's demos are the same drives seen from outside. "
    "first_person trains GAIL (a discriminator over (s, s')) on ego-frame demos: the ceiling. naive shows the "
    "discriminator the third-person demos against the learner's ego-frame transitions: the frame alone separates "
    "them (the floor). tpil shares one encoder between both frames, trains a domain head through gradient reversal "
    "and adds a random policy run in the demonstrator's frame as negatives, so that the frame does not reveal the "
    "expert. oracle maps the demos into the ego frame analytically: the most alignment can give. Gap closed: "
    "(method - naive) / (first_person - naive) of the driving score. Probe: a logistic regression's held-out accuracy "
    "at telling the frames apart in the discriminator's features (0.5: frame-invariant).")


def section_markdown(data: dict) -> str:
    figure = Path(data.get("figure", "thirdperson.png")).name
    return "\n".join([
        f"## Third-person imitation: {data['scenario']}, {data['frame']} frame", "",
        EXPLANATION, "",
        "```", format_report(data), "```", "",
        f"![trajectories per method and gap closed]({figure})", "",
    ])


def section_html(data: dict) -> str:
    figure = html.escape(Path(data.get("figure", "thirdperson.png")).name)
    head = html.escape(f"Third-person imitation: {data['scenario']}, {data['frame']} frame")
    note = html.escape(format_report(data).split("\n\n")[0])
    return "\n".join([
        f'<section id="thirdperson-{html.escape(data["scenario"])}-{html.escape(data["frame"])}">',
        f"<h2>{head}</h2>", f"<p>{html.escape(EXPLANATION)}</p>", f"<p>{note}</p>",
        table(data).to_html(index=False, escape=True, border=0),
        f'<img src="{figure}" alt="trajectories per method and gap closed" style="max-width:100%">',
        "</section>", ""])


def write_section(folder: Path | str) -> list[Path]:
    """section.md and section.html from folder/thirdperson.json; returns their paths."""
    folder = Path(folder)
    data = json.loads((folder / "thirdperson.json").read_text())
    md, page = folder / "section.md", folder / "section.html"
    md.write_text(section_markdown(data))
    page.write_text(section_html(data))
    return [md, page]
