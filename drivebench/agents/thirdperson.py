"""Third-person imitation (issue 19; Stadie, Abbeel & Sutskever 2017): the demonstrations are seen from another
viewpoint than the learner's (a world frame, a follower's frame), so no demo observation can be copied; a
discriminator over state transitions (s, s') rewards the learner, and the methods differ in what it is shown.

The four methods (drivebench/thirdperson's `METHODS`), all with the same discriminator network, generator, budget
and start (a fresh policy: no BC warm start, since the learner has no demo in its own frame to clone):
- `first_person`: the demos in the learner's own ego frame (the ceiling: ordinary GAIL from observation);
- `naive`: the third-person demos against the learner's ego-frame transitions (the floor: the frame alone tells
  them apart, so the reward says "look like the other camera", which no policy can);
- `tpil`: domain-adversarial. A shared encoder f (obs padded to one length -> features) feeds a class head (expert
  vs not, on [f(s), f(s')]) and, through a gradient-reversal layer of weight `domain_weight` (Ganin & Lempitsky
  2015), a domain head (which frame, on f(s)): the encoder learns to serve the class head and to defeat the domain
  head. The negatives include a poor policy (uniform random actions) run in the demonstrator's frame, labelled
  not-expert: otherwise "demonstrator's frame" and "expert" are the same label and confusing the frame erases the
  class too (TPIL's own trick);
- `oracle`: the third-person demos mapped into the ego frame analytically (`to_ego_frame`: each demo pose put
  back into the scenario and observed by the ego observation type): the most that aligning the frames can give.

Why a loop of its own around SB3's PPO instead of imitation's GAIL (agents/adversarial.py): imitation's
discriminator is a reward net trained on one expert batch against one generator batch with one logistic loss; the
domain head needs a second loss, a third source of samples (the poor policy's, in another frame than the
learner's) and inputs of two lengths. The pieces are imitation's where they fit: its BufferingWrapper collects the
generator's transitions and its RewardVecEnvWrapper hands PPO the discriminator's reward.

The generator's reward is -log(1 - D(s, s')) = softplus(class logit) (GAIL's), clipped at REWARD_CLIP. Observations
are zero-padded to the longer of the two frames' lengths and standardized by statistics pooled over both frames
(the expert's demos and the poor policy's ego-frame rollouts), fixed before training. Before the first round the
discriminator takes `disc_pretrain_steps` steps with the poor policy's ego-frame drives standing in for the learner's
(every method alike: the first policy is as poor), so that the domain game has converged somewhat before the reward
is first read; then `disc_updates_per_round` steps after each PPO round. Before each of tpil's joint steps the domain
head alone takes `domain_head_steps` steps on the encoder's current features (frozen), so that the reversed gradient
the encoder gets is that of a head that can read the frame (a lagging head is fooled by features that merely move,
and a fresh probe still reads the frame in them). With `domain_weight_ramp` the reversal's weight rises from 0 to
lambda over the discriminator's steps as 2 / (1 + exp(-10 p)) - 1 (Ganin & Lempitsky's schedule). With `poor_ego_negatives`, tpil also shows
the poor policy's ego-frame drives as negatives: the domain head then sees the same poor drives in both frames.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import gymnasium
import numpy as np
import torch
from imitation.data import wrappers
from imitation.rewards.reward_wrapper import RewardVecEnvWrapper
from stable_baselines3 import PPO
from stable_baselines3.common import logger as sb_logger
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv

from drivebench.agents import networks
from drivebench.agents.adversarial import count_steps
from drivebench.agents.base import Callback, TrainProgress
from drivebench.core.budget import BudgetUsage

REWARD_CLIP = 10.0
"""the generator's per-step reward is at most this (softplus of the class logit)"""


# ---------------------------------------------------------------------------------------------- gradient reversal
class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight):
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.weight * grad, None


def grad_reverse(x: torch.Tensor, weight: float) -> torch.Tensor:
    """The identity going forward; the gradient times -`weight` going back (Ganin & Lempitsky 2015)."""
    return _GradReverse.apply(x, float(weight))


# ---------------------------------------------------------------------------------------------- the discriminator
def pad(obs: np.ndarray, width: int) -> np.ndarray:
    """Observations (..., d) zero-padded on the last axis to `width` >= d features (float32)."""
    obs = np.asarray(obs, np.float32)
    extra = width - obs.shape[-1]
    if extra < 0:
        raise ValueError(f"cannot pad {obs.shape[-1]} features to {width}")
    return np.concatenate([obs, np.zeros((*obs.shape[:-1], extra), np.float32)], axis=-1) if extra else obs


def pairs(episodes: list[np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(s, s') of every step of every (T + 1, d) observation array, padded to `width`."""
    return (np.concatenate([pad(e[:-1], width) for e in episodes]),
            np.concatenate([pad(e[1:], width) for e in episodes]))


class Discriminator(torch.nn.Module):
    """f: standardize, then an MLP to `features`; the class head reads [f(s), f(s')], the domain head f(s) through
    gradient reversal (`domain_logits(obs, weight)`)."""

    def __init__(self, width: int, hidden: int, features: int, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.encoder = torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.Tanh(),
                                           torch.nn.Linear(hidden, features), torch.nn.Tanh())
        self.class_head = torch.nn.Sequential(torch.nn.Linear(2 * features, hidden), torch.nn.Tanh(),
                                              torch.nn.Linear(hidden, 1))
        self.domain_head = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.Tanh(),
                                               torch.nn.Linear(hidden, 1))

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder((obs - self.mean) / self.std)

    def logits(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """Class logits: > 0 says expert."""
        return self.class_head(torch.cat([self.features(obs), self.features(next_obs)], dim=-1)).squeeze(-1)

    def domain_logits(self, obs: torch.Tensor, weight: float) -> torch.Tensor:
        """Domain logits (> 0: the demonstrator's frame), the encoder's gradient reversed and scaled by `weight`."""
        return self.domain_head(grad_reverse(self.features(obs), weight)).squeeze(-1)

    def reward(self, obs: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        """GAIL's reward -log(1 - D) = softplus(logit) of padded (n, width) transitions, clipped at REWARD_CLIP."""
        with torch.no_grad():
            logit = self.logits(torch.as_tensor(obs), torch.as_tensor(next_obs))
        return torch.nn.functional.softplus(logit).clamp(max=REWARD_CLIP).numpy()


# ---------------------------------------------------------------------------------------------- data
@dataclass(frozen=True, eq=False)
class Sources:
    """What one method's discriminator is shown, besides the learner's own ego-frame transitions."""

    expert: list[np.ndarray]
    """the demos' observations, (T + 1, d_demo) each, in the frame the method sees them in"""
    poor_demo_frame: list[np.ndarray] = field(default_factory=list)
    """the poor policy's observations in the demonstrator's frame: negatives (tpil only)"""
    poor_ego: list[np.ndarray] = field(default_factory=list)
    """the poor policy's observations in the ego frame: the learner's input statistics, the padding's"""
    domain_weight: float = 0.0
    """the gradient reversal's weight lambda; 0 with no poor negatives: no domain head (every method but tpil)"""
    poor_ego_negatives: bool = False
    """tpil: the poor policy's ego-frame drives are negatives too, so that each frame shows the domain head the same
    poor drives (the frame is then the only difference between them) besides the expert's or the learner's"""
    frame_norm: bool = False
    """tpil: standardize each frame by its own statistics (the demonstrator's: its demos and poor drives; the
    learner's: its poor drives) before the shared encoder, as per-domain normalization does in domain adaptation"""
    width: int = 0
    """the discriminator's input length: observations are zero-padded to it (0: the longest given here). The
    experiment gives every method the longer of the two frames' lengths, so that all four have one network and
    the probe can show any of them either frame"""


def rollouts(make_env: Callable[[], gymnasium.Env], seeds: list[int], rng: np.random.Generator
             ) -> list[np.ndarray]:
    """Observations of uniform random actions (the poor policy), one (T + 1, d) array per seed; the same seeds and
    actions in envs of different frames give the same drives seen from each."""
    env, out = make_env(), []
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        seen, done = [obs], False
        while not done:
            obs, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
            seen.append(obs)
            done = terminated or truncated
        out.append(np.asarray(seen, np.float32))
    env.close()
    return out


def to_ego_frame(make_ego_env: Callable[[], gymnasium.Env], seeds: list[int], poses: list[np.ndarray]
                 ) -> list[np.ndarray]:
    """The oracle's analytic map: each demo episode's (T + 1, 4) poses (x, y, heading, speed: the world frame's
    own features; the demo format stores them with any frame) put back into its scenario (reset with its seed, the
    ego car moved to each pose) and observed by the ego observation type. Exact where the scene's other objects do
    not move (parked cars, walls, an empty road); with traffic they stay where the reset put them."""
    env, out = make_ego_env(), []
    base = env.unwrapped
    for seed, episode in zip(seeds, poses):
        env.reset(seed=int(seed))
        seen = []
        for step, (x, y, heading, speed) in enumerate(np.asarray(episode, float)):
            v = base.vehicle
            v.position = np.array([x, y], float)
            v.heading, v.speed = float(heading), float(speed)
            v.on_state_update()
            base.step_count = step
            base.facts = base.measure()
            seen.append(base.observe())
        out.append(np.asarray(seen, np.float32))
    env.close()
    return out


# ---------------------------------------------------------------------------------------------- training
@dataclass(frozen=True, eq=False)
class Fitted:
    policy: ActorCriticPolicy
    """the generator (ego frame), an SB3 ActorCriticPolicy of networks.py"""
    discriminator: Discriminator
    usage: BudgetUsage
    history: list[dict]
    """per round: the discriminator's class accuracy on expert and learner, its domain accuracy, the round's mean env
    reward (route progress, not what PPO maximized)"""
    inputs: dict = field(default_factory=dict)
    """frame ("ego", "demo") -> the map of padded observations to the discriminator's input (identity unless
    `frame_norm`): what the probe must apply"""


def fit(*, sources: Sources, make_env: Callable[[], gymnasium.Env], hp: dict, rng: np.random.Generator, seed: int,
        callback: Callback | None = None) -> Fitted:
    """Train a fresh ego-frame policy with PPO on the discriminator's reward (see the module docstring)."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    width = max(sources.width, sources.expert[0].shape[1], sources.poor_ego[0].shape[1],
                *(e.shape[1] for e in sources.poor_demo_frame[:1]))
    expert_s, expert_next = pairs(sources.expert, width)
    poor = pairs(sources.poor_demo_frame, width) if sources.poor_demo_frame else None
    ego_pool = np.concatenate([pad(e, width) for e in sources.poor_ego])
    inputs = {"ego": _identity, "demo": _identity}
    if sources.frame_norm:  # each frame standardized by its own statistics: no ego data on the demo side
        inputs = {"ego": _standardizer(ego_pool),
                  "demo": _standardizer(np.concatenate([expert_s, *([poor[0]] if poor else [])]))}
        expert_s, expert_next = inputs["demo"](expert_s), inputs["demo"](expert_next)
        if poor is not None:
            poor = (inputs["demo"](poor[0]), inputs["demo"](poor[1]))
        ego_pool = inputs["ego"](ego_pool)
    pooled = np.concatenate([expert_s, ego_pool, *([poor[0]] if poor else [])])
    mean, std = pooled.mean(0), pooled.std(0)
    disc = Discriminator(width, hp["disc_hidden"], hp["disc_features"], mean, np.where(std > 1e-6, std, 1.0))
    optimizer = torch.optim.Adam(disc.parameters(), lr=hp["disc_learning_rate"])
    head_optimizer = torch.optim.Adam(disc.domain_head.parameters(), lr=hp["disc_learning_rate"])

    venv = DummyVecEnv([make_env for _ in range(hp["n_envs"])])
    venv.seed(seed)
    buffering = wrappers.BufferingWrapper(venv)
    to_ego = inputs["ego"]
    rewarded = RewardVecEnvWrapper(buffering, lambda obs, acts, nxt, dones: disc.reward(to_ego(pad(obs, width)),
                                                                                         to_ego(pad(nxt, width))))
    ego_obs = np.concatenate(sources.poor_ego)
    p_mean, p_std = networks.observation_stats(ego_obs)  # the learner's input statistics: its own frame, no demos
    kwargs = networks.policy_kwargs(hp["net_arch"], hp["activation"], p_mean, p_std)
    kwargs["log_std_init"] = hp["log_std_init"]
    generator = PPO(ActorCriticPolicy, rewarded, policy_kwargs=kwargs, n_steps=hp["n_steps"],
                    batch_size=hp["ppo_batch_size"], n_epochs=hp["ppo_epochs"], learning_rate=hp["ppo_learning_rate"],
                    ent_coef=hp["ent_coef"], gamma=hp["gamma"], gae_lambda=hp["gae_lambda"],
                    clip_range=hp["clip_range"], seed=seed, device="cpu", verbose=0)
    generator.set_logger(sb_logger.Logger(None, output_formats=[]))  # else SB3 makes a log folder per learn()
    ppo_steps = count_steps(generator.policy.optimizer)
    per_round = hp["n_steps"] * hp["n_envs"]
    rounds = max(1, math.ceil(hp["env_steps"] / per_round))
    batch = hp["disc_batch_size"]
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    tensor = torch.as_tensor
    history, done = [], 0

    def usage(n: int) -> BudgetUsage:
        """After n rounds. Gradient steps: PPO's, the discriminator's and tpil's domain-head-only steps."""
        return BudgetUsage(env_steps=n * per_round, expert_queries=0,
                           gradient_steps=ppo_steps[0] + steps_done[0] + head_steps_done[0],
                           demo_transitions=len(expert_s), demo_episodes=len(sources.expert),
                           wall_time=time.perf_counter() - start)

    poor_ego_s, poor_ego_next = (to_ego(x) for x in pairs(sources.poor_ego, width))
    steps_done, head_steps_done = [0], [0]  # the discriminator's joint steps; the domain head's own
    total_steps = max(1, hp["disc_pretrain_steps"] + rounds * hp["disc_updates_per_round"])

    def update(learner_s: np.ndarray, learner_next: np.ndarray) -> tuple[float, float, float]:
        """One optimizer step of the discriminator: class loss (expert 1/2, negatives 1/2: the learner's and, for
        tpil, the poor policy's in the demonstrator's frame, 1/4 each) plus, for tpil, the domain loss (each frame
        weighted 1/2) through the gradient reversal. Returns (expert, learner, domain) accuracies."""
        e = rng.integers(0, len(expert_s), batch)
        g = rng.integers(0, len(learner_s), batch)
        obs, nxt = [expert_s[e], learner_s[g]], [expert_next[e], learner_next[g]]
        labels, domains = [np.ones(batch), np.zeros(batch)], [np.ones(batch), np.zeros(batch)]
        weights, frame_weights = [np.full(batch, 0.5), np.full(batch, 0.5)], [np.full(batch, 0.5), np.full(batch, 1.0)]
        if poor is not None:  # the poor policy in the demonstrator's frame: not expert, demonstrator's frame
            p = rng.integers(0, len(poor[0]), batch)
            obs.append(poor[0][p])
            nxt.append(poor[1][p])
            labels.append(np.zeros(batch))
            domains.append(np.ones(batch))
            weights = [np.full(batch, 0.5), np.full(batch, 0.25), np.full(batch, 0.25)]
            frame_weights.append(np.full(batch, 0.5))
        if poor is not None and sources.poor_ego_negatives:  # and in the learner's frame: not expert, ego frame
            q = rng.integers(0, len(poor_ego_s), batch)
            obs.append(poor_ego_s[q])
            nxt.append(poor_ego_next[q])
            labels.append(np.zeros(batch))
            domains.append(np.zeros(batch))
            weights = [np.full(batch, 0.5), *[np.full(batch, 0.5 / 3)] * 3]
            frame_weights = [np.full(batch, 0.5)] * 4
        o, n = tensor(np.concatenate(obs)), tensor(np.concatenate(nxt))
        y, d = (tensor(np.concatenate(a), dtype=torch.float32) for a in (labels, domains))
        w, fw = (tensor(np.concatenate(a) / batch, dtype=torch.float32) for a in (weights, frame_weights))
        if sources.domain_weight > 0:  # the domain head first catches up with the encoder on these features
            with torch.no_grad():
                frozen = disc.features(o)
            for _ in range(hp["domain_head_steps"]):
                head_loss = (bce(disc.domain_head(frozen).squeeze(-1), d, reduction="none") * fw).sum() / fw.sum()
                head_optimizer.zero_grad()
                head_loss.backward()
                head_optimizer.step()
                head_steps_done[0] += 1
        logits = disc.logits(o, n)
        loss = (bce(logits, y, reduction="none") * w).sum()
        domain_acc = float("nan")
        if sources.domain_weight > 0:
            progress = min(1.0, steps_done[0] / total_steps)
            ramp = 2 / (1 + math.exp(-10 * progress)) - 1 if hp["domain_weight_ramp"] else 1.0
            dlogits = disc.domain_logits(o, sources.domain_weight * ramp)
            # the head learns the frame; the encoder, through the reversal, unlearns it
            loss = loss + (bce(dlogits, d, reduction="none") * fw).sum() / fw.sum()
            domain_acc = float(((((dlogits > 0).float() == d).float()) * fw).sum() / fw.sum())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps_done[0] += 1
        with torch.no_grad():
            return (float((logits[:batch] > 0).float().mean()), float((logits[batch:2 * batch] <= 0).float().mean()),
                    domain_acc)

    # before the first round, the poor policy's ego-frame drives stand in for the learner's (its policy is as poor)
    for _ in range(hp["disc_pretrain_steps"]):
        update(poor_ego_s, poor_ego_next)
    for done in range(1, rounds + 1):
        generator.learn(total_timesteps=per_round, reset_num_timesteps=False)
        learned = buffering.pop_transitions()
        gen_s, gen_next = to_ego(pad(learned.obs, width)), to_ego(pad(learned.next_obs, width))
        stats = [update(gen_s, gen_next) for _ in range(hp["disc_updates_per_round"])]
        s = np.array(stats)
        history.append({"round": done, "expert_accuracy": float(s[:, 0].mean()),
                        "learner_accuracy": float(s[:, 1].mean()),
                        "domain_accuracy": None if sources.domain_weight <= 0 else float(s[:, 2].mean()),
                        "env_reward": float(np.mean(learned.rews))})
        if callback is not None and callback(TrainProgress(done, rounds, generator.policy, usage(done))):
            break
    venv.close()
    return Fitted(generator.policy, disc, usage(done), history, inputs)


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _standardizer(data: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """x -> (x - mean) / std with `data`'s per-feature statistics (constant features: std 1), float32."""
    mean, std = data.mean(0), data.std(0)
    std = np.where(std > 1e-6, std, 1.0)
    return lambda x: ((x - mean) / std).astype(np.float32)


# ---------------------------------------------------------------------------------------------- the probe
def domain_probe(disc: Discriminator, ego: list[np.ndarray], other: list[np.ndarray], *, seed: int = 0,
                 steps: int = 300, inputs: dict | None = None) -> float:
    """How well a fresh logistic regression tells the frames apart from the discriminator's features: trained on
    the first half of the episodes, its accuracy on the second half. `ego` and `other` are the same drives (the
    expert's demos of the same seeds) seen in the ego frame and in the demonstrator's frame, so the frame is the
    only difference: 0.5 means the features are frame-invariant, 1.0 that the frame is plain in them."""
    width = disc.mean.shape[0]
    half = max(1, len(ego) // 2)
    with torch.no_grad():
        to = inputs or {"ego": _identity, "demo": _identity}

        def feats(episodes, frame):
            return disc.features(torch.as_tensor(to[frame](np.concatenate([pad(e, width) for e in episodes]))))
        train = [feats(ego[:half], "ego"), feats(other[:half], "demo")]
        test = [feats(ego[half:] or ego[:half], "ego"), feats(other[half:] or other[:half], "demo")]
    x = torch.cat(train)
    y = torch.cat([torch.zeros(len(train[0])), torch.ones(len(train[1]))])
    mu, sd = x.mean(0), x.std(0).clamp_min(1e-6)
    generator = torch.Generator().manual_seed(seed)
    model = torch.nn.Linear(x.shape[1], 1)
    with torch.no_grad():
        model.weight.copy_(torch.randn(model.weight.shape, generator=generator) * 0.01)
        model.bias.zero_()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model((x - mu) / sd).squeeze(-1), y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        xt = torch.cat(test)
        yt = torch.cat([torch.zeros(len(test[0])), torch.ones(len(test[1]))])
        return float((((model((xt - mu) / sd).squeeze(-1)) > 0).float() == yt).float().mean())
