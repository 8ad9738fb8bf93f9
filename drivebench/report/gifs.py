"""Short GIFs of the most telling failures: an evaluated episode simulated again, rendered off screen.

The episode is the evaluated one: the same agent, scenario spec, shift wrapper and seed, through the same
rollout (`run_episode` with stuck detection, the policy reset with the seed first), with torch single-threaded
as in the harness; `GifResult.matches` says whether the path and the ending came out as the database holds
them. Rendering uses highway-env's `rgb_array` mode with offscreen rendering (STACK.md), and turns the viewer
back on where SDL_VIDEODRIVER=dummy (as under pytest) made highway-env disable its drawing, which would give
black frames. Any failure is returned in `GifResult.error`, never raised: the report is written without the
GIF.
"""
from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from drivebench.eval.policies import load_policy
from drivebench.core.records import EpisodeRecord
from drivebench.core.records import Episode
from drivebench.core.rollout import run_episode
from drivebench.eval.shifts import NONE, Shift, make_env, shifted_spec
from drivebench.leaderboard import Suite
from drivebench.report.data import EXPERT, MAP_CONDITION, Records
from drivebench.scenarios import family as families
from drivebench.scenarios import registry

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # frames are drawn off screen: no display (and no SDL warnings)

MAX_GIFS = 4
WIDTH = 300
"""GIF width [px]"""
HEIGHT = 150
"""GIF height [px]"""
MAX_FRAMES = 60
"""Longer episodes are subsampled to at most this many frames."""
COLOURS = 48
"""Palette size of each frame (highway-env draws with a few flat colours)."""
SPEEDUP = 2.0
"""Playback speed relative to simulated time."""
HOLD_LAST_MS = 1500
"""How long the last frame (the failure) stays on screen [ms]."""


@dataclass(frozen=True)
class GifRequest:
    """One evaluated episode to show."""

    entry: str
    agent: str
    """the agent id that drove it"""
    scenario: str
    shift: Shift
    seed: int
    why: str
    """what happened, in words, for the caption"""

    @property
    def filename(self) -> str:
        text = f"failure-{self.entry}-{self.scenario}-{self.shift.name}{self.shift.level or ''}-{self.seed}"
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", text) + ".gif"


@dataclass(frozen=True)
class GifResult:
    request: GifRequest
    file: str
    """the GIF's file name, '' if it could not be made"""
    frames: int
    error: str
    """why there is no GIF ('' when there is one)"""
    matches: bool | None
    """the simulated episode ended as the stored one, along the same path (None: no stored episode given)"""


def choose_failures(records: Records, entries: dict[str, dict], order: Sequence[str], suite: Suite, *,
                    limit: int = MAX_GIFS) -> list[GifRequest]:
    """At most one failure per entry, `limit` in all, trained and submitted entries first (then the other
    baselines), each in `order`: among the official seeds where the entry did not arrive and the expert did,
    the one where it got furthest (route completion; the first such seed on ties), looking first at curve
    scenarios under MAP_CONDITION, then at the other scenarios and conditions. Deterministic: it depends only
    on the records."""
    kinds = {name: entries[name]["kind"] for name in order if name in entries}
    names = [n for n in order if n != EXPERT and kinds.get(n) != "baseline"]
    names += [n for n in order if n != EXPERT and kinds.get(n) == "baseline"]
    conditions = list(dict.fromkeys([MAP_CONDITION, NONE, *suite.conditions]))
    order = families.names()  # the families' registration order (curves first), stable within a family
    scenarios = sorted(suite.scenarios, key=lambda s: order.index(registry.get(s).spec.family))
    chosen = []
    for name in names:
        request = _first_failure(records, entries, name, scenarios, conditions)
        if request is not None:
            chosen.append(request)
        if len(chosen) == limit:
            break
    return chosen


def _first_failure(records: Records, entries: dict[str, dict], name: str, scenarios: list[str],
                   conditions: list[Shift]) -> GifRequest | None:
    for shift in conditions:
        for scenario in scenarios:
            mine = records.get((name, scenario, shift))
            if mine is None:
                continue
            expert = records.get((EXPERT, scenario, shift))
            failed = [r for i, r in enumerate(mine)
                      if not r.metrics.success and (expert is None or expert[i].metrics.success)]
            if not failed:
                continue
            record = max(failed, key=lambda r: r.metrics.route_completion)  # max keeps the first of ties
            m = record.metrics
            why = (f"{m.termination.replace('_', ' ')} after {m.duration:.1f} s, "
                   f"{100 * m.route_completion:.0f}% of the route done"
                   + ("; the expert arrived from the same start" if expert is not None else ""))
            agent = entries[name]["agents"][scenario][0][0]  # the first training run's, which the records are of
            return GifRequest(name, agent, scenario, shift, record.seed, why)
    return None


def render_gif(request: GifRequest, path: Path | str, *, expected: EpisodeRecord | None = None,
               width: int = WIDTH, height: int = HEIGHT, max_frames: int = MAX_FRAMES) -> GifResult:
    """Simulate the requested episode again with rendering and write it as an animated GIF at `path`."""
    path = Path(path)
    try:
        frames, episode, dt = _simulate(request)
        spec = registry.get(request.scenario).spec
        images = _images(frames, spec.family, (width, height), request, episode, dt)
        stride = max(1, math.ceil(len(images) / max_frames))
        kept = images[::stride]
        if kept[-1] is not images[-1]:
            kept.append(images[-1])
        frame_ms = max(20, round(1000 * stride * dt / SPEEDUP))
        durations = [frame_ms] * (len(kept) - 1) + [HOLD_LAST_MS]
        palette = [im.quantize(COLOURS, dither=Image.Dither.NONE) for im in kept]
        palette[0].save(path, save_all=True, append_images=palette[1:], duration=durations, loop=0, optimize=True)
    except Exception as err:  # noqa: BLE001 (pygame, fonts, the agent's files: report it, never crash)
        path.unlink(missing_ok=True)
        return GifResult(request, "", 0, f"{type(err).__name__}: {err}", None)
    return GifResult(request, path.name, len(kept), "", None if expected is None else same_episode(episode, expected))


def same_episode(episode: Episode, record: EpisodeRecord) -> bool:
    """Did a simulated episode end as the stored one, along the same path?"""
    stored = record.trajectory.poses
    return (episode.termination == record.metrics.termination and episode.poses.shape == stored.shape
            and bool(np.allclose(episode.poses, stored, atol=1e-4)))


def _simulate(request: GifRequest) -> tuple[list[np.ndarray], Episode, float]:
    """(rendered frames: one per observation, the episode, seconds per decision)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)  # as the harness: the thread count changes torch's summation order
    spec = shifted_spec(registry.get(request.scenario).spec, request.shift)
    policy = load_policy(request.agent)
    policy.check_scenario(spec)
    env = make_env(spec, request.shift, render_mode="rgb_array")
    frames: list[np.ndarray] = []

    def render() -> None:
        viewer = env.unwrapped.viewer
        if viewer is None:
            env.render()  # creates the viewer
            viewer = env.unwrapped.viewer
        viewer.enabled = True  # highway-env stops drawing under SDL_VIDEODRIVER=dummy, even off screen
        frames.append(env.render())
        env.unwrapped.enable_auto_render = False  # render() turns on a frame per physics substep: not needed

    def act(env, obs):
        render()
        return policy.act(env, obs)

    try:
        policy.reset(request.seed)
        episode = run_episode(env, act, request.seed, stop_when_stuck=True)
        render()
    finally:
        policy.close()
        env.close()
    return frames, episode, 1.0 / spec.policy_frequency


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _images(frames: list[np.ndarray], family: str, size: tuple[int, int], request: GifRequest, episode: Episode,
            dt: float) -> list[Image.Image]:
    """Frames cropped around the car to the GIF's aspect, scaled to `size` (width, height) [px], labelled with
    the entry, condition, seed and time; the last one with how the episode ended."""
    font = _font(11)
    out = []
    for i, frame in enumerate(frames):
        im = Image.fromarray(np.asarray(frame, np.uint8))
        w, h = im.size
        cw = min(round(w * families.get(family).gif_crop), round(h * size[0] / size[1]))
        ch = round(cw * size[1] / size[0])
        im = im.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))
        if im.size != size:
            im = im.resize(size, Image.Resampling.LANCZOS)
        draw = ImageDraw.Draw(im)
        label = f"{request.entry}  {request.shift}  seed {request.seed}  t={i * dt:4.1f} s"
        draw.text((4, 3), label, fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(40, 40, 40))
        if i == len(frames) - 1:
            draw.text((4, im.height - 16), episode.termination.replace("_", " ").upper(), fill=(255, 80, 60),
                      font=font, stroke_width=2, stroke_fill=(40, 40, 40))
        out.append(im)
    return out
