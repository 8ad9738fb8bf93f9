"""GIFs of failures: the env renders off screen, the replay is the evaluated episode, the choice is
deterministic, and a replay that cannot be made is reported, not raised."""
from __future__ import annotations

import numpy as np
from PIL import Image

from drivebench import leaderboard
from drivebench.eval.shifts import NONE, Shift, make_env, shifted_spec
from drivebench.report import data, gifs
from drivebench.scenarios import registry

OFFSET = Shift("start_offset", 2)


def test_make_env_renders_off_screen_only_when_asked():
    spec = registry.get("curve-gentle").spec
    env = make_env(shifted_spec(spec, OFFSET), OFFSET, render_mode="rgb_array")
    env.reset(seed=1)
    assert env.unwrapped.config["offscreen_rendering"] and env.render().shape == (400, 600, 3)
    env.close()
    assert make_env(spec, NONE).render_mode is None


def _chosen(results_db, suite):
    rows = leaderboard.compute(results_db, suite)
    order = data.entry_order(rows)
    entries = results_db.entries()
    records = data.load_records(results_db, suite, entries)
    return records, gifs.choose_failures(records, entries, order, suite)


def test_the_failure_shown_is_the_furthest_one_where_the_expert_arrives(results_db, suite):
    records, chosen = _chosen(results_db, suite)
    assert chosen == _chosen(results_db, suite)[1]  # deterministic
    [request] = chosen  # one per entry but the expert
    assert (request.entry, request.agent, request.scenario, request.shift) == (
        "random", "random", "curve-gentle", OFFSET)  # curves under start_offset:2 first
    mine, expert = records["random", "curve-gentle", OFFSET], records["expert", "curve-gentle", OFFSET]
    candidates = [(-r.metrics.route_completion, i) for i, (r, e) in enumerate(zip(mine, expert))
                  if not r.metrics.success and e.metrics.success]
    assert request.seed == suite.seeds[min(candidates)[1]]  # furthest along, the first seed on ties
    assert "the expert arrived" in request.why
    assert gifs.choose_failures(records, results_db.entries(), ["expert"], suite) == []


def test_a_gif_replays_the_stored_episode(tmp_path, results_db, suite):
    records, [request] = _chosen(results_db, suite)
    expected = records[request.entry, request.scenario, request.shift][suite.seeds.index(request.seed)]
    result = gifs.render_gif(request, tmp_path / request.filename, expected=expected)
    assert result.error == "" and result.matches is True
    path = tmp_path / result.file
    assert 0 < path.stat().st_size < 300_000
    with Image.open(path) as im:
        assert im.n_frames == result.frames > 1
        assert im.size == (gifs.WIDTH, gifs.HEIGHT)
        im.seek(im.n_frames - 1)
        assert np.asarray(im.convert("RGB")).std() > 5


def test_a_replay_that_fails_is_reported_not_raised(tmp_path):
    request = gifs.GifRequest("ghost", "no_such_module_xyz:policy", "curve-gentle", OFFSET, 1_000_000, "test")
    result = gifs.render_gif(request, tmp_path / request.filename)
    assert result.file == "" and result.frames == 0 and "no_such_module_xyz" in result.error
    assert not (tmp_path / request.filename).exists()
