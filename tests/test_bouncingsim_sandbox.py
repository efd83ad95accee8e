"""Red team: every attack in delta_core.bouncingsim.attacks is contained and scores 0, and leaves the
parent healthy (same live workers, no leftover processes, no file outside scratch, scratch removed).

Each attack returns the TRUE answers if its forbidden step works, so a score above 0 is an escape."""

import json
import os
from pathlib import Path

import pytest

from delta_core.bouncingsim import Ball, Container, Sandbox, SandboxLimits, Scene, make_record
from delta_core.bouncingsim.attacks import ATTACKS, render
from delta_core.bouncingsim.sandbox import _parse_line
from delta_core.bouncingsim.scoring import score_program

# A short per-call limit keeps the looping attacks to ~0.3 s each (the reference uses 1 s).
LIMITS = SandboxLimits(timeout_s=0.3, memory_mb=256)
SCENE = Scene(containers=(Container((750.0, 750.0), 6, 450.0),), balls=(Ball((760.0, 740.0), (300.0, 120.0), 40.0, 4),))


@pytest.fixture(scope="module")
def record():
    return make_record(SCENE)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, limits=LIMITS) as sb:
        yield sb


@pytest.fixture
def places(tmp_path, record):
    gt = record["ground_truth"]
    answer = {t: p for t, p in zip(gt["timestamps"], gt["positions"])}
    secret = tmp_path / "answers.json"
    secret.write_text(json.dumps({str(t): p for t, p in answer.items()}))
    return {"answer": answer, "outside": str(tmp_path / "pwned.txt"), "outside_dir": str(tmp_path), "secret": str(secret)}


def _children(pids):
    """Processes whose parent is one of `pids`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid in pids:
                found.append(int(entry))
    return found


def test_honest_program_scores_one(sandbox, record, places):
    answer = places["answer"]
    program = f"ANSWER = {answer!r}\ndef predict_position(t):\n    return ANSWER[round(t, 1)]\n"
    report = score_program(program, record["ground_truth"], sandbox)
    assert report.outcomes == ("passed",) * 15 and report.all_pass == 1.0


def test_at_least_twenty_attacks():
    assert len(ATTACKS) >= 20 and len({a.name for a in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_is_contained(attack, sandbox, record, places):
    workers = sandbox.worker_pids
    own_children = set(_children({os.getpid()}))
    program = render(attack, **places)
    report = score_program(program, record["ground_truth"], sandbox)

    assert report.pass_rate == 0.0 and report.all_pass == 0.0, report.outcomes
    assert all(o == "timed out" or o.startswith("failed: ") for o in report.outcomes)
    # the parent is healthy: same workers, all alive; no process left behind; nothing written outside
    assert sandbox.worker_pids == workers
    assert _children(set(workers)) == []
    assert set(_children({os.getpid()})) == own_children
    assert not os.path.exists(places["outside"])
    assert os.listdir(places["outside_dir"]) == ["answers.json"]
    assert os.listdir(sandbox.scratch_root) == []


def test_sandbox_still_works_after_all_attacks(sandbox, record, places):
    test_honest_program_scores_one(sandbox, record, places)


def test_output_validation_is_strict():
    ok = '{"i": 0, "ok": [[1.5, 2]]}'
    assert _parse_line(ok, 0) == ([[1.5, 2.0]], None)
    for bad in ['{"i": 1, "ok": [[1, 2]]}', '{"i": 0, "ok": [[1, 2, 3]]}', '{"i": 0, "ok": [[true, 2]]}',
                '{"i": 0, "ok": [[NaN, 2]]}', '{"i": 0, "ok": [["1", 2]]}', '{"i": 0, "ok": [[1, 2]], "x": 1}',
                '[[1, 2]]', 'garbage', '{"i": 0, "ok": [[1e999, 2]]}']:
        positions, error = _parse_line(bad, 0)
        assert positions is None and error.startswith("failed: "), bad


def test_limits_are_validated():
    for bad in (dict(timeout_s=0), dict(timeout_s=100), dict(memory_mb=8), dict(max_output_bytes=10)):
        with pytest.raises(ValueError):
            SandboxLimits(**bad)
    with pytest.raises(ValueError, match="workers"):
        Sandbox(workers=0)


def test_ground_truth_is_never_unpickled(sandbox):
    import base64
    import pickle
    import zlib

    payload = base64.b64encode(zlib.compress(pickle.dumps([{"t": 0.1}]))).decode()
    with pytest.raises(ValueError):
        score_program("def predict_position(t):\n    return [[0, 0]]\n", payload, sandbox)
