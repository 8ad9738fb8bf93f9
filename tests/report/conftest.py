"""A tiny results database and its report, built once for the report tests: two scenarios (a curve and a
lot), three seeds, every suite condition, the expert and random entries."""
from __future__ import annotations

import pytest

from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.policies import load_policy
from drivebench.leaderboard import official_suite
from drivebench.report import write_report
from drivebench.results.db import ResultsDB

SCENARIOS = ("curve-gentle", "parking-empty")
ENTRIES = {"expert": ("baseline", {"curve-gentle": "expert:cautious", "parking-empty": "expert:tidy"}),
           "random": ("baseline", {"curve-gentle": "random", "parking-empty": "random"})}


@pytest.fixture(scope="session")
def suite():
    return official_suite().narrowed(list(SCENARIOS), episodes=3)


@pytest.fixture(scope="session")
def results_db(tmp_path_factory, suite):
    """The expert and random entries, every episode of the narrowed suite evaluated (~3 s)."""
    db = ResultsDB(tmp_path_factory.mktemp("report-db") / "results.db")
    requests = [Request(agent, scenario, shift) for _, agents in ENTRIES.values()
                for scenario, agent in agents.items() for shift in suite.conditions]
    evaluate_many(requests, seeds=suite.seeds, workers=1, db=db, progress=False)
    for name, (kind, agents) in ENTRIES.items():
        db.set_entry(name, kind, {s: [(a, load_policy(a).agent_hash)] for s, a in agents.items()})
    yield db
    db.close()


@pytest.fixture(scope="session")
def report(tmp_path_factory, results_db, suite):
    """index.html of the report of `results_db`, GIFs included."""
    out = tmp_path_factory.mktemp("report") / "run"
    return write_report(out, results_db, suite, title="drivebench test report",
                        run_info={"preset": "test", "wall time": "1 s", "versions": {"drivebench": "0.1.0"}})
