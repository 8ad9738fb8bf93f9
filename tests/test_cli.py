"""The drivebench command, called in-process."""
import json

from drivebench.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scenarios_list_json(capsys):
    code, out, _ = run(capsys, "scenarios", "list", "--json")
    rows = json.loads(out)
    assert code == 0
    assert sum(r["family"] == "curve" for r in rows) >= 4
    assert sum(r["family"] == "parking" for r in rows) >= 3
    assert all(r["id"] == f"drivebench/{r['name']}-v0" and r["file"].endswith(".toml") for r in rows)


def test_scenarios_show(capsys):
    code, out, _ = run(capsys, "scenarios", "show", "parking-crowded")
    assert code == 0
    assert "drivebench/parking-crowded-v0" in out and "expert:tidy" in out and "ray0" in out


def test_scenarios_validate(capsys, tmp_path):
    good = tmp_path / "my-curve.toml"
    good.write_text('family = "curve"\n[road]\nspeed_limit = 10\nsegments = [{kind = "straight", length = 80}]\n')
    bad = tmp_path / "my-bad.toml"
    bad.write_text('family = "curve"\n[road]\nspeed_limit = -1\nsegments = [{kind = "straight", length = 80}]\n')
    code, out, _ = run(capsys, "scenarios", "validate", str(good))
    assert code == 0 and "drivebench/my-curve-v0" in out
    code, _, err = run(capsys, "scenarios", "validate", str(good), str(bad))
    assert code == 1
    assert str(bad) in err and "road.speed_limit" in err and "Traceback" not in err


def test_experts_list_json(capsys):
    code, out, _ = run(capsys, "experts", "list", "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert code == 0
    assert {"expert:cautious", "expert:sporty", "expert:tidy", "expert:reverse", "expert:shortcut"} <= set(rows)
    assert "parking-reverse" in rows["expert:reverse"]["scenarios"]
    assert "curve-hairpin" in rows["expert:sporty"]["scenarios"]


def test_record(capsys, tmp_path):
    code, out, _ = run(capsys, "record", "--scenario", "curve-gentle", "--expert", "sporty", "--episodes", "2",
                       "--out", str(tmp_path))
    assert code == 0 and "2 episodes, 2 successful" in out
    assert (tmp_path / "curve-gentle" / "sporty" / "manifest.json").exists()


def test_record_without_actions_needs_another_frame(capsys, tmp_path):
    code, _, err = run(capsys, "record", "--scenario", "curve-gentle", "--expert", "sporty", "--episodes", "1",
                       "--no-actions", "--out", str(tmp_path))
    assert code == 2 and "--no-actions" in err and "--observation world|follower" in err and "Traceback" not in err
    assert not (tmp_path / "curve-gentle").exists()


def test_user_mistakes_exit_2_without_traceback(capsys):
    code, _, err = run(capsys, "scenarios", "show", "no-such-scenario")
    assert code == 2 and "unknown scenario 'no-such-scenario'" in err and "curve-gentle" in err
    code, _, err = run(capsys, "record", "--scenario", "curve-gentle", "--expert", "nobody", "--episodes", "1")
    assert code == 2 and "unknown expert" in err


def test_a_reader_that_goes_away_ends_the_command_quietly():
    """`drivebench scenarios list | head -1`: no traceback when the pipe closes."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "drivebench.cli", "scenarios", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader goes away before the command prints
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and "Traceback" not in err and "BrokenPipe" not in err, err
