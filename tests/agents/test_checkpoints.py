"""drivebench.agents.checkpoints: a hand-edited or damaged agent.json is one message naming the file and the field,
never a traceback, and nothing is allocated for a network the file does not hold. The checkpoints here are built
directly (a tiny untrained network), so these tests train nothing."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch
from gymnasium import spaces

from drivebench.agents import checkpoints, networks
from drivebench.errors import DrivebenchError
from drivebench.scenarios import family as families

FEATURES = [name for name, _ in families.get("curve").observation_features]


def tiny_policy(net_arch=(8,)):
    n = len(FEATURES)
    return networks.make_policy(spaces.Box(-np.inf, np.inf, (n,), np.float32), spaces.Box(-1, 1, (2,), np.float32),
                                net_arch=list(net_arch), activation="tanh", mean=[0.0] * n, std=[1.0] * n)


@pytest.fixture
def agent(tmp_path):
    """A valid checkpoint folder of a one-layer network of 8 units."""
    config = {"algo": "bc", "scenario": "curve-gentle", "family": "curve", "observation_features": FEATURES,
              "observation": {"type": "ego"}, "network": {"net_arch": [8], "activation": "tanh"}}
    return checkpoints.save(tmp_path / "agent", policy=tiny_policy(), config=config)


def edit(folder, change) -> None:
    file = folder / checkpoints.CONFIG
    config = json.loads(file.read_text())
    change(config)
    file.write_text(json.dumps(config))


def test_the_fixture_checkpoint_loads(agent):
    policy, config = checkpoints.load_policy(agent)
    assert config["network"]["net_arch"] == [8]
    assert len(checkpoints.agent_hash(agent)) == 64


@pytest.mark.parametrize("change, field, fragment", [
    (lambda c: c.pop("files"), "files", "is missing"),
    (lambda c: c.update(files=["policy.pt"]), "files", "must be an object"),
    (lambda c: c["files"].pop(checkpoints.WEIGHTS), f"files.{checkpoints.WEIGHTS}", "sha256"),
    (lambda c: c["files"].update({checkpoints.REWARD: 7}), f"files.{checkpoints.REWARD}", "sha256"),
    (lambda c: c.pop("network"), "network", "is missing"),
    (lambda c: c.update(network="mlp"), "network", "must be an object"),
    (lambda c: c["network"].pop("net_arch"), "network.net_arch", "must be a list of 1 to 16 layer widths"),
    (lambda c: c["network"].update(net_arch=[64, -1]), "network.net_arch", "positive integers"),
    (lambda c: c["network"].update(net_arch=[64.5]), "network.net_arch", "positive integers"),
    (lambda c: c["network"].update(net_arch=[8] * 17), "network.net_arch", "1 to 16"),
    (lambda c: c["network"].update(activation="gelu"), "network.activation", "tanh, relu"),
    (lambda c: c.pop("observation_features"), "observation_features", "non-empty list"),
    (lambda c: c.update(observation_features="speed"), "observation_features", "non-empty list"),
    (lambda c: c.update(observation=["ego"]), "observation", "must be an object"),
    (lambda c: c.pop("algo"), "algo", "is missing"),
    (lambda c: c.update(scenario=3), "scenario", "must be a string"),
], ids=["no-files", "files-list", "no-weights-sha", "bad-reward-sha", "no-network", "network-text", "no-net-arch",
        "negative-width", "float-width", "too-deep", "activation", "no-features", "features-text", "observation-list",
        "no-algo", "scenario-int"])
def test_a_missing_or_malformed_field_is_one_message_naming_it(agent, change, field, fragment):
    edit(agent, change)
    for call in (checkpoints.load_policy, checkpoints.agent_hash, checkpoints.read_config):
        with pytest.raises(DrivebenchError) as err:
            call(agent)
        assert str(err.value).startswith(f"{agent / checkpoints.CONFIG}: field `{field}` ")
        assert fragment in str(err.value) and "train the agent again" in str(err.value)


def test_a_huge_net_arch_is_refused_before_anything_is_allocated(agent, monkeypatch):
    """`net_arch: [60000, 60000]` would be 14 GB of weights: refused from the JSON alone, naming the field and the
    size, before the weights file is even opened or a network built."""
    edit(agent, lambda c: c["network"].update(net_arch=[60000, 60000]))
    built, opened = [], []
    monkeypatch.setattr(networks, "make_policy", lambda *a, **k: built.append(1))
    monkeypatch.setattr(torch, "load", lambda *a, **k: opened.append(1))
    with pytest.raises(DrivebenchError) as err:
        checkpoints.load_policy(agent)
    message = str(err.value)
    assert message.startswith(f"{agent / checkpoints.CONFIG}: field `network.net_arch` [60000, 60000] makes a network")
    assert f"{checkpoints.parameter_count(len(FEATURES), [60000, 60000]):,} parameters" in message
    assert f"at most {checkpoints.MAX_PARAMETERS:,}" in message
    assert built == [] and opened == []


def test_a_net_arch_under_the_cap_that_the_weights_do_not_hold_is_refused_before_building(agent, monkeypatch):
    """Within the cap but not what policy.pt holds: the shapes in the file are compared first, so the network the
    JSON describes is never built."""
    edit(agent, lambda c: c["network"].update(net_arch=[2000, 2000]))
    built = []
    monkeypatch.setattr(networks, "make_policy", lambda *a, **k: built.append(1))
    with pytest.raises(DrivebenchError) as err:
        checkpoints.load_policy(agent)
    assert str(err.value).startswith(f"{agent / checkpoints.CONFIG}: field `network.net_arch` is [2000, 2000] for "
                                     f"{len(FEATURES)} observation features, but {checkpoints.WEIGHTS} holds layers "
                                     f"of [8] for {len(FEATURES)}")
    assert built == []


@pytest.mark.parametrize("n, net_arch", [(17, [64, 64]), (40, [256, 256]), (5, [8]), (3, [4, 5, 6])])
def test_the_parameter_count_is_the_networks(n, net_arch):
    """The cap is checked with parameter_count: it must count what networks.make_policy builds."""
    policy = networks.make_policy(spaces.Box(-np.inf, np.inf, (n,), np.float32), spaces.Box(-1, 1, (2,), np.float32),
                                  net_arch=net_arch, activation="relu", mean=[0.0] * n, std=[1.0] * n)
    assert checkpoints.parameter_count(n, net_arch) == sum(p.numel() for p in policy.parameters())
    assert checkpoints._hidden_sizes(policy.state_dict()) == (n, net_arch)


@pytest.mark.parametrize("content", ["[1, 2]", "null", "{broken"], ids=["list", "null", "syntax"])
def test_an_agent_json_that_is_no_object_is_one_message(agent, content):
    (agent / checkpoints.CONFIG).write_text(content)
    with pytest.raises(DrivebenchError, match="not an agent description|not valid JSON") as err:
        checkpoints.load_policy(agent)
    assert str(err.value).startswith(f"{agent / checkpoints.CONFIG}: ")


def test_weights_that_are_no_state_dict_are_one_message(agent):
    weights = agent / checkpoints.WEIGHTS
    for content in (b"not a zip at all", None):
        if content is None:
            torch.save([torch.zeros(3)], weights)  # tensors, but a list
        else:
            weights.write_bytes(content)
        edit(agent, lambda c: c["files"].update({checkpoints.WEIGHTS: checkpoints.file_sha256(weights)}))
        with pytest.raises(DrivebenchError, match="not a torch state_dict|not a state_dict of tensors") as err:
            checkpoints.load_policy(agent)
        assert str(err.value).startswith(f"{weights}: ")


def test_an_agent_json_that_is_a_fifo_is_not_opened(agent, error_without_blocking):
    (agent / checkpoints.CONFIG).unlink()
    os.mkfifo(agent / checkpoints.CONFIG)
    message = error_without_blocking(lambda: checkpoints.load_policy(agent), DrivebenchError)
    assert message == f"{agent}: not a drivebench agent (not a regular file); train one with `drivebench train`"


def test_an_agent_json_without_a_recorded_observation_still_loads(agent, tmp_path):
    """agent.json files written before the observation was recorded have none: the default (not an error)."""
    old = shutil.copytree(agent, tmp_path / "old")
    edit(old, lambda c: c.pop("observation"))
    assert checkpoints.load_policy(old)[1].get("observation") is None
