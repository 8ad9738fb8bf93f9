"""One episode of a policy in an env, recorded step by step. Shared by demo recording and evaluation."""
from __future__ import annotations

import math
import operator
from typing import Callable

import gymnasium
import numpy as np

from drivebench.core.records import Episode

Policy = Callable[[gymnasium.Env, np.ndarray], np.ndarray]
"""A policy as the rollout sees it: (env, observation) -> action. Experts read the env; learners the obs."""

STUCK_TIME = 10.0  # [s] without new progress
STUCK_PROGRESS = 0.01  # the smallest gain in route completion that counts as progress


class PolicyFailure(Exception):
    """Raised by a policy that could not act (it timed out, its process died, it raised in another process): the
    episode ends as `invalid_action` with this exception's message as the reason, word for word."""


def run_episode(env: gymnasium.Env, policy: Policy, seed: int, *, stop_when_stuck: bool = False) -> Episode:
    """Reset with `seed` and let the policy drive to the end of the episode.

    A policy that raises, or returns an action that is not two finite numbers, ends the episode as
    `invalid_action` with the reason. With `stop_when_stuck`, an episode without new progress for
    STUCK_TIME ends as `stuck`.
    """
    obs, info = env.reset(seed=seed)
    names = [name for name, _ in env.unwrapped.SIGNALS]
    row = operator.itemgetter("x", "y", "heading", "speed", *names)  # what is kept of each step's info
    dt = 1.0 / env.unwrapped.config["policy_frequency"]
    observations, actions, rewards, rows = [obs], [], [], [row(info)]
    watch = StuckWatch(dt)
    watch.update(info["progress"])
    termination, reason = None, ""
    while termination is None:
        action, reason = _checked(policy, env, obs)
        if reason:
            termination = "invalid_action"
            break
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        rows.append(row(info))
        if terminated or truncated:
            termination = info["termination"]
        elif watch.update(info["progress"]) and stop_when_stuck:
            termination = "stuck"
    table = np.array(rows, np.float32)  # one row per observation: the pose, then the signals
    signals = {name: table[:, 4 + i] for i, name in enumerate(names)}
    return Episode(seed, np.asarray(observations, np.float32), np.asarray(actions, np.float32).reshape(-1, 2),
                   np.asarray(rewards, np.float32), table[:, :4], signals, termination, reason)


def _checked(policy: Policy, env: gymnasium.Env, obs: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The policy's action, or None and what is wrong with it."""
    try:
        raw = policy(env, obs)
        action = np.asarray(raw, dtype=np.float32)
    except PolicyFailure as err:
        return None, str(err)
    except Exception as err:  # a user's policy may raise anything; the episode records it
        return None, f"the policy raised {type(err).__name__}: {err}"
    if action.shape != (2,):
        return None, f"the action has shape {action.shape}, expected (2,) [acceleration, steering]"
    first, second = action.tolist()
    if not (math.isfinite(first) and math.isfinite(second)):  # per step: cheaper than np.isfinite(...).all()
        return None, f"the action is not finite: {[first, second]}"
    return action, ""


def expert_policy(expert) -> Policy:
    return lambda env, obs: expert.act(env)


class StuckWatch:
    """Online: the car is stuck when its route completion has not beaten its best so far by `min_gain` for
    `window` seconds. O(1) per step."""

    def __init__(self, dt: float, window: float = STUCK_TIME, min_gain: float = STUCK_PROGRESS):
        self.limit = int(round(window / dt))
        self.min_gain = min_gain
        self.best, self.since = -np.inf, 0

    def update(self, progress: float) -> bool:
        """Feed the step's progress; True once the car is stuck."""
        if progress >= self.best + self.min_gain:
            self.best, self.since = progress, 0
        else:
            self.since += 1
        return self.since >= self.limit
