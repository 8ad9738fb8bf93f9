"""Third-person imitation's pieces (agents/thirdperson.py): gradient reversal, padding, the discriminator's heads,
the domain probe, one tiny training run."""
from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch

from drivebench.agents import presets
from drivebench.agents import thirdperson as tp
from drivebench.scenarios import registry


def test_gradient_reversal_is_the_identity_forward_and_flips_the_gradient_sign():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = tp.grad_reverse(x, 0.5)
    assert torch.equal(y, x)
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [-0.5, -1.0, -1.5]


def test_the_domain_head_pushes_the_encoder_the_other_way():
    """Through the reversal, the encoder's gradient from the domain loss is -lambda times what it would be without it;
    the domain head's own gradient is unchanged."""
    torch.manual_seed(0)
    disc = tp.Discriminator(4, 8, 3, np.zeros(4), np.ones(4))
    obs, labels = torch.randn(16, 4), (torch.rand(16) > 0.5).float()
    loss = torch.nn.functional.binary_cross_entropy_with_logits

    def grads(weight: float | None):
        disc.zero_grad()
        if weight is None:
            logits = disc.domain_head(disc.features(obs)).squeeze(-1)
        else:
            logits = disc.domain_logits(obs, weight)
        loss(logits, labels).backward()
        return disc.encoder[0].weight.grad.clone(), disc.domain_head[0].weight.grad.clone()

    plain_encoder, plain_head = grads(None)
    reversed_encoder, reversed_head = grads(2.0)
    assert torch.allclose(reversed_encoder, -2.0 * plain_encoder, atol=1e-6)
    assert torch.allclose(reversed_head, plain_head)


def test_pad_and_pairs():
    obs = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert tp.pad(obs, 3).tolist() == [[0, 1, 0], [2, 3, 0], [4, 5, 0]]
    with pytest.raises(ValueError, match="cannot pad 2 features to 1"):
        tp.pad(obs, 1)
    s, nxt = tp.pairs([obs], 2)
    assert s.tolist() == [[0, 1], [2, 3]] and nxt.tolist() == [[2, 3], [4, 5]]


def test_the_probe_is_at_chance_for_one_frame_and_sure_for_two_apart():
    rng = np.random.default_rng(0)
    disc = tp.Discriminator(3, 16, 4, np.zeros(3), np.ones(3))
    episodes = [rng.normal(size=(40, 3)).astype(np.float32) for _ in range(6)]
    assert tp.domain_probe(disc, episodes, episodes) == pytest.approx(0.5)
    shifted = [e + np.float32(3.0) for e in episodes]
    assert tp.domain_probe(disc, episodes, shifted) > 0.95


def test_a_tiny_domain_adversarial_run():
    entry = registry.get("curve-gentle")

    def make(kind):
        return lambda: gymnasium.make(entry.id, config={"observation": {"type": kind}})

    poor_ego = tp.rollouts(make("ego"), [90_000, 90_001], np.random.default_rng(0))
    poor_world = tp.rollouts(make("world"), [90_000, 90_001], np.random.default_rng(0))
    assert [len(e) for e in poor_ego] == [len(e) for e in poor_world]  # the same drives, seen from each frame
    hp = {**presets.load_preset("thirdperson", "quick", entry.family), "env_steps": 64, "n_steps": 32,
          "ppo_batch_size": 32, "disc_batch_size": 16}
    sources = tp.Sources(poor_world, poor_demo_frame=poor_world, poor_ego=poor_ego, domain_weight=1.0,
                         poor_ego_negatives=True, frame_norm=True)
    seen = []
    fitted = tp.fit(sources=sources, make_env=make("ego"), hp=hp, rng=np.random.default_rng(0), seed=0,
                    callback=lambda progress: seen.append(progress.round))
    assert seen == [1] and fitted.usage.env_steps == 64
    disc_steps = hp["disc_pretrain_steps"] + hp["disc_updates_per_round"]  # one round
    ppo_steps = hp["ppo_epochs"] * (hp["n_steps"] * hp["n_envs"] // hp["ppo_batch_size"])
    # PPO's, the discriminator's joint steps and, before each of those, the domain head's own steps
    assert fitted.usage.gradient_steps == ppo_steps + disc_steps * (1 + hp["domain_head_steps"])
    assert fitted.discriminator.mean.shape == (30,)  # padded to the longer (world) frame
    assert fitted.history[0]["domain_accuracy"] is not None
    assert fitted.policy.observation_space.shape == (28,)  # the learner acts in its ego frame
    world = tp.pairs(poor_world, 30)[0]  # the demonstrator's frame's transitions: standardized by their own statistics
    assert fitted.inputs["demo"](world).mean(0) == pytest.approx(np.zeros(30), abs=1e-4)
    # the probe maps each frame through `inputs`: the same drives through the same map cannot be told apart (0.5),
    # through maps 3 std apart they plainly can
    same = {"ego": fitted.inputs["demo"], "demo": fitted.inputs["demo"]}
    assert tp.domain_probe(fitted.discriminator, poor_world, poor_world, inputs=same) == pytest.approx(0.5)
    apart = {"ego": fitted.inputs["demo"], "demo": lambda x: fitted.inputs["demo"](x) + np.float32(3.0)}
    assert tp.domain_probe(fitted.discriminator, poor_world, poor_world, inputs=apart) > 0.9
