"""GAIL and AIRL (imitation's adversarial trainers): a discriminator learns to tell the expert's transitions
from the learner's and serves as the reward; an SB3 PPO generator maximizes it.

- The generator uses the same policy network as BC, so `warm_start_bc` starts it from the BC agent trained on
  the same demos with the same seed and the `bc` preset of the same name (imitation's maintainers advise a BC
  start; from scratch the adversarial game rarely finds the goal). train.py trains that agent, or reuses the
  pipeline's `bc` agent of the same (scenario, seed, demos): GAIL's and AIRL's rows then differ from BC's by their
  adversarial phase alone, paired run by run.
- Episodes end early (crash, arrival), so the trainers run with allow_variable_horizon=True.
- Rounds: each round PPO collects n_steps x n_envs transitions and updates for up to ppo_epochs passes (fewer
  when `target_kl` stops it); then the discriminator takes disc_updates_per_round steps. The optimizer steps
  taken count as gradient steps. `callback` (base.Callback) is called after each round (not during the BC warm
  start), with the policy the run would return then (the generator's, or with `average_weights` their mean).
- AIRL's discriminator holds a shaped reward net (reward g(s, a) + shaping by a potential h(s)); its reward
  net is saved with the policy so the reward can train a fresh policy later (inverse RL proper).
"""
from __future__ import annotations

import math
import tempfile
import time

import gymnasium
import numpy as np
import torch
from imitation.data import rollout, types
from imitation.algorithms.adversarial.airl import AIRL
from imitation.algorithms.adversarial.gail import GAIL
from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet, NormalizedRewardNet
from imitation.util import networks as imitation_networks
from imitation.util.networks import RunningNorm
from seals.util import AbsorbAfterDoneWrapper
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy
from tqdm import tqdm

from drivebench.agents import bc, common, networks
from drivebench.agents.base import Callback, Fitted, TrainProgress
from drivebench.core.budget import BudgetUsage


def reward_net(kind: str, observation_space, action_space, use_action: bool = True):
    """GAIL's discriminator logits / AIRL's shaped reward, over (state, action) or, without `use_action`, over
    (state, next state): imitation from observation, and an absorbing state's reward that the policy's ignored
    actions cannot change."""
    parts = {"use_action": use_action, "use_next_state": not use_action}
    if kind == "gail":
        return BasicRewardNet(observation_space, action_space, normalize_input_layer=RunningNorm, **parts)
    return BasicShapedRewardNet(observation_space, action_space, normalize_input_layer=RunningNorm, **parts)


def normalized(algorithm: type) -> type:
    """`algorithm` (GAIL or AIRL) with the reward its generator sees standardized by running statistics
    (imitation's NormalizedRewardNet over its RunningNorm, as imitation's tuned benchmark configs ask with
    `normalize_output_layer`; in imitation 1.0.1 that setting reaches AIRL's reward but not GAIL's, whose
    generator reads the logit transform around the net). A zero-mean reward removes GAIL's positive bonus for
    every step survived, and a unit scale keeps PPO's advantages the same size as the discriminator sharpens. The
    discriminator trains on its raw logits either way; AIRL's saved reward (`reward_test`) stays unnormalized."""

    class Normalized(algorithm):
        @property
        def reward_train(self):
            if "_normalized_reward" not in self.__dict__:  # built on first use: the trainer's __init__ asks for it
                self._normalized_reward = NormalizedRewardNet(super().reward_train, RunningNorm)
            return self._normalized_reward

    Normalized.__name__ = f"Normalized{algorithm.__name__}"
    return Normalized


def absorbing(make_env, horizon: int):
    """The training env with a fixed horizon (Kostrikov et al. 2019's absorbing states, through seals): an episode
    that ends early (arrival, crash, off-road) stays in an absorbing state, its last observation repeated and every
    action ignored, until `horizon` steps. The discriminator then rewards the absorbing state like any other, so
    ending an episode neither forfeits reward (GAIL's bias toward hovering short of the goal) nor escapes a
    negative one (AIRL's toward crashing). Training only: the evaluation env is never wrapped."""
    return lambda: gymnasium.wrappers.TimeLimit(AbsorbAfterDoneWrapper(make_env()), max_episode_steps=horizon)


def padded_transitions(demos, horizon: int) -> types.Transitions:
    """The demos as the fixed-horizon env would show them: each episode continues in its absorbing state (the last
    observation, zero action) to `horizon` transitions, and ends there."""
    out = []
    for ep in demos:
        extra = max(0, horizon - ep.steps)
        obs = np.concatenate([ep.observations, np.repeat(ep.observations[-1:], extra, axis=0)])
        acts = np.concatenate([ep.actions, np.zeros((extra, ep.actions.shape[1]), ep.actions.dtype)])
        out.append(types.Trajectory(obs=obs, acts=acts, infos=None, terminal=True))
    return rollout.flatten_trajectories(out)


def add_bc_loss(generator: PPO, demos: types.Transitions, batch_size: int, weight: float,
                rng: np.random.Generator) -> None:
    """A BC term in PPO's update (DAPG's, Rajeswaran et al. 2018; GAIL + BC, Jena et al. 2020): before each of PPO's
    optimizer steps, `weight` x the negative log-likelihood of a minibatch of demo actions adds its gradient to
    PPO's, and the sum is clipped to PPO's max_grad_norm. SB3 has already clipped PPO's own gradient to that norm
    when the step is called, so PPO's share is at most max_grad_norm before the sum, and where the BC gradient is
    larger (a small action std makes it large) the step is mostly BC's: this is what BENCHMARKS.md's rounds 5-6
    measured. The policy moves where the discriminator's reward leads only as far as the demos' actions allow,
    at the cost of one more forward and backward pass per PPO minibatch (a separate BC phase of as many steps
    costs ~10x more: bc_steps_per_round)."""
    policy, optimizer = generator.policy, generator.policy.optimizer
    batches = ShuffledBatchesForever(demos, min(batch_size, len(demos)), rng)
    step = optimizer.step

    def step_with_bc(*args, **kwargs):
        batch = next(batches)
        loss = -weight * policy.get_distribution(batch["obs"]).log_prob(batch["acts"]).mean()
        if loss.requires_grad:  # not while the critic warms up: the actor is frozen then
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), generator.max_grad_norm)
        return step(*args, **kwargs)

    optimizer.step = step_with_bc


def count_steps(optimizer: torch.optim.Optimizer) -> list[int]:
    """A one-item list that counts `optimizer`'s steps from now on."""
    counter, step = [0], optimizer.step

    def counted(*args, **kwargs):
        counter[0] += 1
        return step(*args, **kwargs)

    optimizer.step = counted
    return counter


class ShuffledBatchesForever:
    """common.ShuffledBatches of (obs, acts), pass after pass."""

    def __init__(self, data: types.Transitions, batch_size: int, rng: np.random.Generator):
        self.batches = common.ShuffledBatches(data, batch_size, rng, fields=("obs", "acts"))
        self.current = iter(self.batches)

    def __next__(self) -> dict:
        batch = next(self.current, None)
        if batch is None:
            self.current = iter(self.batches)
            batch = next(self.current)
        return batch


class WeightAverage:
    """The running mean of a policy's weights over the rounds it is given (stochastic weight averaging, Izmailov et
    al. 2018; iterate averaging against a GAN's oscillation, Yazici et al. 2019). The generator does not converge
    to a point: measured on parking-reverse, one training run's success on 10 seeds went 0.8, 0.0, 0.7, 0.8, 0.0,
    0.8, 0.3 ... from round to round, so its last iterate is a draw from that cycle. Every iterate is a fine-tune
    of the same BC warm start, so their mean is a policy near all of them."""

    def __init__(self):
        self.policy, self.count = None, 0

    def add(self, policy: ActorCriticPolicy) -> ActorCriticPolicy:
        """Fold `policy`'s current weights into the mean; returns the averaged policy (a separate copy)."""
        self.count += 1
        if self.policy is None:  # a new policy of the same network (a deepcopy fails on the cached distribution),
            with torch.random.fork_rng():  # whose random initial weights leave the training's torch RNG as it was
                self.policy = type(policy)(**policy._get_constructor_parameters())
            self.policy.load_state_dict(policy.state_dict())
            return self.policy
        with torch.no_grad():  # parameters only: the input standardization's buffers keep the demos' statistics
            theirs = dict(policy.named_parameters())
            for name, mine in self.policy.named_parameters():
                mine.mul_(1 - 1 / self.count).add_(theirs[name], alpha=1 / self.count)
        return self.policy


def actor_parameters(policy: ActorCriticPolicy) -> list:
    """The parameters only the action distribution uses (PPO's value net and shared input layer excluded)."""
    return [*policy.mlp_extractor.policy_net.parameters(), *policy.action_net.parameters(), policy.log_std]


def fit(*, kind: str, demos, make_env, expert, hp: dict, rng: np.random.Generator, seed: int,
        progress: bool = True, callback: Callback | None = None, warm_start: Fitted | None = None):
    """`warm_start`: the BC agent the generator starts from (its weights, and its gradient steps in the budget);
    required when hp['warm_start_bc']."""
    if hp["warm_start_bc"] and warm_start is None:
        raise ValueError("warm_start_bc needs the BC agent to start from (agents/train.py trains it)")
    start = time.perf_counter()
    horizon = 0
    if hp["absorbing"]:
        probe = make_env()
        horizon = probe.unwrapped.scenario.horizon
        probe.close()
        make_env = absorbing(make_env, horizon)
    venv = common.vec_env(make_env, hp["n_envs"], seed)
    mean, std = networks.observation_stats(np.concatenate([ep.observations for ep in demos]))
    generator = PPO(ActorCriticPolicy, venv, policy_kwargs=networks.policy_kwargs(hp["net_arch"], hp["activation"],
                                                                                 mean, std),
                    n_steps=hp["n_steps"], batch_size=hp["ppo_batch_size"], n_epochs=hp["ppo_epochs"],
                    learning_rate=hp["ppo_learning_rate"], ent_coef=hp["ent_coef"], gamma=hp["gamma"],
                    clip_range=hp["clip_range"], gae_lambda=hp["gae_lambda"], target_kl=hp["target_kl"] or None,
                    seed=seed, device="cpu", verbose=0)
    bc_steps, warm_seconds = 0, 0.0
    if hp["warm_start_bc"]:  # its budget is this run's too: gradient steps and wall time
        generator.policy.load_state_dict(warm_start.policy.state_dict())
        bc_steps, warm_seconds = warm_start.usage.gradient_steps, warm_start.usage.wall_time
    if hp["generator_action_std"]:  # PPO's rollouts stray this far from the mean action, not BC's ~0.08
        with torch.no_grad():
            generator.policy.log_std.fill_(math.log(hp["generator_action_std"]))
    if hp["bc_loss_weight"]:
        add_bc_loss(generator, common.transitions(demos), hp["batch_size"], hp["bc_loss_weight"], rng)
    net = reward_net(kind, venv.observation_space, venv.action_space, hp["disc_use_action"])
    algorithm = GAIL if kind == "gail" else AIRL
    if hp["normalize_reward"]:
        algorithm = normalized(algorithm)
    demo_batch = min(hp["demo_batch_size"], sum(ep.steps for ep in demos))  # a demo or two may hold fewer
    per_round = hp["n_steps"] * hp["n_envs"]
    rounds = max(1, math.ceil(hp["env_steps"] / per_round))
    ppo_steps = count_steps(generator.policy.optimizer)  # PPO's optimizer steps: target_kl may stop a round early
    critic_rounds, bc_per_round = hp["critic_warmup_rounds"], hp["bc_steps_per_round"]
    if bc_per_round:
        warm = bc.trainer(venv, demos, hp, rng, policy=generator.policy)

    def usage(done_rounds: int) -> BudgetUsage:
        return BudgetUsage(env_steps=done_rounds * per_round, expert_queries=0,
                           gradient_steps=bc_steps + ppo_steps[0] + done_rounds * hp["disc_updates_per_round"]
                           + max(0, done_rounds - critic_rounds) * bc_per_round,
                           demo_transitions=sum(ep.steps for ep in demos), demo_episodes=len(demos),
                           wall_time=warm_seconds + time.perf_counter() - start)

    done, average = 0, WeightAverage() if hp["average_weights"] else None
    final = generator.policy  # what the run returns: the last iterate, or the mean of the averaged rounds
    with tempfile.TemporaryDirectory(prefix="drivebench-log-") as logs:  # the logger's running means need one
        data = padded_transitions(demos, horizon) if horizon else common.transitions(demos)
        trainer = algorithm(demonstrations=common.ShuffledBatches(data, demo_batch, rng),
                            demo_batch_size=demo_batch,
                            gen_replay_buffer_capacity=per_round,
                            n_disc_updates_per_round=hp["disc_updates_per_round"], venv=venv, gen_algo=generator,
                            reward_net=net, allow_variable_horizon=not horizon, init_tensorboard=False,
                            custom_logger=common.silent_logger(logs))
        # trainer.train's loop, with the callback after each round
        for done in tqdm(range(1, rounds + 1), desc="round", disable=not progress, leave=False):
            warming = done <= critic_rounds  # the critic learns the reward before the policy moves (BC's warm start
            for p in actor_parameters(generator.policy):  # gave it a policy, not a value function)
                p.requires_grad_(not warming)
            trainer.train_gen(trainer.gen_train_timesteps)
            for _ in range(hp["disc_updates_per_round"]):
                with imitation_networks.training(trainer.reward_train):
                    trainer.train_disc()
            if bc_per_round and not warming:  # a BC term on the generator: it stays near the demos' actions
                bc.train(warm, bc_per_round, "constant", progress=False)
            trainer.logger.dump(trainer._global_step)
            if average is not None and not warming:
                final = average.add(generator.policy)
            if callback is not None and callback(TrainProgress(done, rounds, final, usage(done))):
                break
    venv.close()
    return Fitted(final, usage(done), net if kind == "airl" else None)
