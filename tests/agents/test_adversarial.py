"""GAIL/AIRL's options (agents/adversarial.py), each on constructed inputs: the absorbing-state padding and env, the
normalized generator reward, the BC term inside PPO's update, the actor/critic split of the critic warm-up; then
one quick training run with every option on."""
import numpy as np
import pytest
import torch
from imitation.algorithms.adversarial.airl import AIRL
from imitation.algorithms.adversarial.gail import GAIL, RewardNetFromDiscriminatorLogit
from imitation.rewards.reward_nets import NormalizedRewardNet
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy

from drivebench.agents import adversarial, checkpoints, common
from drivebench.agents.train import train
from drivebench.core.records import Episode
from drivebench.scenarios import registry

SCENARIO = "curve-gentle"


def make_env():
    entry = registry.get(SCENARIO)
    from drivebench.scenarios import family

    return family.of(entry.spec).env_class(entry.spec)


def episode(steps: int, dim: int, offset: float = 0.0) -> Episode:
    obs = np.arange((steps + 1) * dim, dtype=np.float32).reshape(steps + 1, dim) + offset
    return Episode(seed=0, observations=obs, actions=np.full((steps, 2), 0.5, np.float32),
                   rewards=np.zeros(steps, np.float32), poses=np.zeros((steps + 1, 4), np.float32), signals={},
                   termination="arrived")


def test_padded_demos_continue_in_their_absorbing_state_to_the_horizon():
    data = adversarial.padded_transitions([episode(3, 2), episode(5, 2, offset=100.0)], horizon=6)
    assert len(data) == 12  # 6 transitions per episode, whatever its length
    first_obs, first_acts = data.obs[:6], data.acts[:6]
    np.testing.assert_array_equal(first_obs[:3], episode(3, 2).observations[:3])
    np.testing.assert_array_equal(first_obs[3:], np.repeat(episode(3, 2).observations[-1:], 3, axis=0))
    np.testing.assert_array_equal(first_acts[3:], np.zeros((3, 2)))  # the absorbing state's actions are 0
    np.testing.assert_array_equal(first_acts[:3], np.full((3, 2), 0.5))
    assert list(data.dones) == [False] * 5 + [True] + [False] * 5 + [True]


def test_the_absorbing_env_runs_every_episode_to_the_horizon_and_ignores_actions_after_the_end():
    env = adversarial.absorbing(make_env, horizon=400)()
    env.reset(seed=5)
    steps, absorbed = 0, []
    while True:  # full throttle, straight on: off the curve long before 400 steps
        obs, _, terminated, truncated, _ = env.step(np.array([1.0, 1.0], np.float32))
        steps += 1
        if env.env.at_absorb_state:  # seals' wrapper, inside the TimeLimit
            absorbed.append(obs)
        if terminated or truncated:
            break
    assert steps == 400 and truncated and not terminated
    assert 0 < len(absorbed) < 400 and all(np.array_equal(o, absorbed[0]) for o in absorbed)  # repeated
    env.close()


@pytest.mark.parametrize("algorithm", [GAIL, AIRL])
def test_the_normalized_generator_reward_is_standardized_and_the_discriminator_keeps_its_logits(algorithm):
    venv = common.vec_env(make_env, 1, seed=0)
    generator = PPO(ActorCriticPolicy, venv, n_steps=64, batch_size=64, seed=0, device="cpu")
    net = adversarial.reward_net("gail" if algorithm is GAIL else "airl", venv.observation_space, venv.action_space)
    demos = common.transitions([episode(64, venv.observation_space.shape[0])])
    trainer = adversarial.normalized(algorithm)(
        demonstrations=demos, demo_batch_size=32, venv=venv, gen_algo=generator, reward_net=net,
        allow_variable_horizon=True, init_tensorboard=False, custom_logger=common.silent_logger())
    reward = trainer.reward_train
    assert isinstance(reward, NormalizedRewardNet) and trainer.reward_train is reward  # built once
    assert trainer.venv_wrapped.reward_fn == reward.predict_processed  # what PPO's env returns as its reward
    if algorithm is GAIL:
        assert isinstance(reward.base, RewardNetFromDiscriminatorLogit)
    else:
        assert reward.base is net  # the shaped net itself: what fit saves stays unnormalized
    rng = np.random.default_rng(0)
    shape = (512, venv.observation_space.shape[0])
    for _ in range(20):
        state, next_state = rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)
        out = reward.predict_processed(state, rng.uniform(-1, 1, (512, 2)).astype(np.float32), next_state,
                                       np.zeros(512, bool))
    assert abs(out.mean()) < 0.2 and 0.8 < out.std() < 1.2
    venv.close()


def test_the_bc_term_in_ppos_update_pulls_the_policy_to_the_demos_actions():
    venv = common.vec_env(make_env, 1, seed=0)
    generator = PPO(ActorCriticPolicy, venv, n_steps=64, batch_size=64, seed=0, device="cpu")
    demos = common.transitions([episode(64, venv.observation_space.shape[0])])
    obs, acts = torch.tensor(demos.obs), torch.tensor(demos.acts)
    policy = generator.policy

    def nll() -> float:
        with torch.no_grad():
            return -policy.get_distribution(obs).log_prob(acts).mean().item()

    before = nll()
    adversarial.add_bc_loss(generator, demos, batch_size=32, weight=1.0, rng=np.random.default_rng(0))
    for _ in range(50):  # PPO's own loss contributes nothing here: only the BC term moves the policy
        policy.optimizer.zero_grad()
        policy.optimizer.step()
    assert nll() < before - 0.1
    venv.close()


def test_the_critic_warmup_freezes_the_actor_and_only_the_actor():
    venv = common.vec_env(make_env, 1, seed=0)
    policy = PPO(ActorCriticPolicy, venv, n_steps=64, seed=0, device="cpu").policy
    actor = {id(p) for p in adversarial.actor_parameters(policy)}
    assert id(policy.log_std) in actor and all(id(p) in actor for p in policy.action_net.parameters())
    assert not any(id(p) in actor for p in policy.value_net.parameters())
    assert not any(id(p) in actor for p in policy.mlp_extractor.value_net.parameters())
    venv.close()


@pytest.mark.parametrize("algo", ["gail", "airl"])
def test_a_quick_run_with_every_option_on_trains_and_saves(algo, tmp_path):
    overrides = {"absorbing": True, "critic_warmup_rounds": 1, "bc_steps_per_round": 5, "disc_use_action": False,
                 "normalize_reward": True, "clip_range": 0.1, "gae_lambda": 0.98, "target_kl": 0.02,
                 "bc_loss_weight": 0.5, "average_weights": True, "env_steps": 512}
    result = train(algo, SCENARIO, out=tmp_path / algo, preset="quick", seed=0, overrides=overrides,
                   progress=False)
    assert (result.out / "agent.json").is_file() and result.usage.env_steps == 512


def test_the_generator_explores_with_the_action_std_asked_for_from_its_bc_start(tmp_path):
    """generator_action_std replaces the BC start's action std (the mean actions stay the BC agent's): after the
    critic's warm-up round, where the actor is frozen, the policy's std is the one asked for."""
    seen = []

    def std_after_each_round(progress):
        seen.append(torch.exp(progress.policy.log_std.detach()).tolist())

    bc_start = train("bc", SCENARIO, out=tmp_path / "bc", preset="quick", seed=0, progress=False)
    train("gail", SCENARIO, out=tmp_path / "gail", preset="quick", seed=0, progress=False, warm_start=tmp_path / "bc",
          overrides={"generator_action_std": 0.3, "critic_warmup_rounds": 1, "env_steps": 512},
          callback=std_after_each_round)
    assert seen[0] == pytest.approx([0.3, 0.3], abs=1e-6)
    bc_std = torch.exp(checkpoints.load_policy(bc_start.out)[0].log_std).tolist()
    assert all(abs(s - 0.3) > 0.05 for s in bc_std)  # not BC's own std by chance


def test_gail_starts_from_the_bc_agent_of_its_seed_and_demos_whether_trained_here_or_read(tmp_path):
    """The warm start is the `bc` agent of the same preset, demos and seed: trained in the run (and saved where the
    pipeline's bc job would put it), or read from there. Either way the GAIL run is the same bit for bit, and the
    saved warm start is what `train("bc")` trains."""
    bc_run = train("bc", SCENARIO, out=tmp_path / "bc", preset="quick", seed=1, progress=False)
    trained_here = train("gail", SCENARIO, out=tmp_path / "gail-a", preset="quick", seed=1, progress=False,
                         warm_start=tmp_path / "warm")
    read = train("gail", SCENARIO, out=tmp_path / "gail-b", preset="quick", seed=1, progress=False,
                 warm_start=tmp_path / "bc")
    alone = train("gail", SCENARIO, out=tmp_path / "gail-c", preset="quick", seed=1, progress=False)
    weights = {name: checkpoints.load_policy(folder)[0].state_dict()
               for name, folder in [("bc", bc_run.out), ("warm", tmp_path / "warm"), ("a", trained_here.out),
                                    ("b", read.out), ("c", alone.out)]}
    for name, value in weights["bc"].items():
        assert torch.equal(value, weights["warm"][name]), name
    for name, value in weights["a"].items():
        assert torch.equal(value, weights["b"][name]) and torch.equal(value, weights["c"][name]), name
    assert trained_here.usage.gradient_steps > bc_run.usage.gradient_steps  # the warm start's steps are counted
    assert trained_here.usage.wall_time > bc_run.usage.wall_time * 0.5  # and its time
    # another seed's agent in the folder is not the warm start of seed 2: seed 2's is trained and put there
    train("airl", SCENARIO, out=tmp_path / "airl", preset="quick", seed=2, progress=False, warm_start=tmp_path / "bc")
    assert checkpoints.read_config(tmp_path / "bc")["seed"] == 2


def test_the_weight_average_is_the_mean_of_the_rounds_it_was_given():
    venv = common.vec_env(make_env, 1, seed=0)
    policies = [PPO(ActorCriticPolicy, venv, n_steps=64, seed=s, device="cpu").policy for s in (0, 1, 2)]
    average = adversarial.WeightAverage()
    for policy in policies:
        out = average.add(policy)
    assert out is average.policy and all(out is not p for p in policies)  # a copy: the generator trains on
    for name, value in out.state_dict().items():
        expected = sum(p.state_dict()[name] for p in policies) / 3
        assert torch.allclose(value, expected, atol=1e-6), name
    assert torch.equal(policies[0].state_dict()["action_net.weight"],
                       PPO(ActorCriticPolicy, venv, n_steps=64, seed=0, device="cpu").policy.state_dict()[
                           "action_net.weight"])  # the policies averaged are left as they were
    venv.close()
