"""The README documents what the code does: every scoring factor and every shift level."""
from drivebench.eval import score, shifts
from drivebench.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def test_every_penalty_factor_is_in_the_readme():
    for name, factor in score.PENALTIES.items():
        assert f"x {factor:.2f}" in README, name
    assert f"{score.SPEEDING_SHARE_WEIGHT} x share of steps speeding" in README


def test_every_shift_is_in_the_readme():
    for name in shifts.SHIFTS:
        assert f"`{name}`" in README, name
