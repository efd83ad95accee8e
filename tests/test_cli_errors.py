"""Every command line answers bad input with one clear line: exit status 2, exactly one line on stderr
(`PROG: error: MESSAGE`) naming the flag, field or path, and never a traceback, a hang or a silent
no-op (`delta_core.cli`).

Each case runs the entry point as a subprocess, as a user would, with a timeout so that a hang fails
the test. Bad arguments are refused before any heavy import or model load, so each case takes about a
second (the `delta_core.train` one-step check builds its dataset first: a few seconds).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60  # seconds; a hang fails the test instead of the suite
TINY_BASE = ROOT / "book" / "results" / "delta_mini" / "base"  # only its path is used: the check precedes loading


def run(command: list[str], stdin: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, env=env)


def module(name: str, *args: str, stdin: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", name, *args], stdin=stdin, cwd=cwd)


def assert_one_line_error(result: subprocess.CompletedProcess, prog: str, *needles: str) -> str:
    """Exit 2, no traceback anywhere, stderr exactly one line `PROG...: error: ...` holding every needle."""
    both = result.stdout + result.stderr
    assert "Traceback" not in both, both[-3000:]
    assert result.returncode == 2, f"exit {result.returncode}: {both[-2000:]}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"stderr is not one line: {result.stderr!r}"
    line = lines[0]
    assert line.startswith(prog) and ": error: " in line, line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


JUDGE = "delta_core.judge"
SERVE = "delta_core.serve"
TASKS = "delta_core.tasks"
MINI = "delta_core.mini"
TRAIN = "delta_core.train"
BASELINE = "delta_core.experiments.baseline"
DELTA_MINI = "delta_core.experiments.delta_mini"
PILOTS = "delta_core.experiments.delta_mini_pilots"
VERDICT = "delta_core.experiments.delta_mini_verdict"
RECIPE = "delta_core.experiments.recipe"
TRANSFER_M = "delta_core.experiments.transfer_manufactoria"
TRANSFER_B = "delta_core.experiments.transfer_bouncingsim"
SMOL = "delta_core.experiments.smollm_sft"

# (module, argv, needles): `{tmp}` is a fresh empty folder, `{file}` a regular file in it (a path whose
# parent is a file cannot be created: "Not a directory").
CASES = [
    # the judge: an unreadable file, extra arguments
    (JUDGE, ["{tmp}/missing.json"], ["{tmp}/missing.json", "cannot read"]),
    (JUDGE, ["a.json", "b.json"], ["unrecognized arguments: b.json"]),
    # the server: a port out of range hung after the banner; a bad host, a bad limit
    (SERVE, ["--port", "99999"], ["--port", "99999", "1 to 65535"]),
    (SERVE, ["--port", "http"], ["--port", "'http' is not an integer"]),
    (SERVE, ["--host", "no-such-host.invalid"], ["--host", "no-such-host.invalid"]),
    (SERVE, ["--jobs", "-2"], ["--jobs", "-2", ">= -1"]),
    (SERVE, ["--max-tests", "0"], ["--max-tests", "0", ">= 1"]),
    # the task generators: an --out that cannot be made (was a FileNotFoundError traceback)
    (TASKS, ["build", "--out", "{file}/out"], ["--out {file}/out", "cannot create the folder"]),
    (TASKS, ["show", "starts_with", "--index", "-1"], ["--index", "-1", ">= 0"]),
    (TASKS, ["show", "nope"], ["unknown family 'nope'", "choose from"]),
    # the tiny model
    (MINI, [], ["OUTPUT_DIR"]),
    (MINI, ["{file}/mini"], ["OUTPUT_DIR {file}/mini", "cannot create the folder"]),
    # the trainer: a missing config file (was a traceback), an unknown family, a bad value, a bad output_dir
    (TRAIN, ["{tmp}/missing.yaml"], ["{tmp}/missing.yaml", "cannot be read"]),
    (TRAIN, ["--model", "x", "--family", "nope", "--level", "basic", "--switch_step", "3"], ["family='nope'"]),
    (TRAIN, ["configs/cpu_tiny.yaml", "--eval_k", "[1,"], ["--eval_k", "not a YAML value"]),
    (TRAIN, ["configs/cpu_tiny.yaml", "--model", "x", "--output_dir", "{file}/run"],
     ["output_dir {file}/run", "cannot create the folder"]),
    # the baseline: a negative sample count (was a ValueError traceback), nothing to analyse, no such model
    (BASELINE, ["--n-samples", "-3"], ["--n-samples", "-3", ">= 1"]),
    (BASELINE, ["--top-p", "0"], ["--top-p", "(0, 1]"]),
    (BASELINE, ["--analyse-only", "--out", "{tmp}/none"], ["--out {tmp}/none", "no such folder"]),
    (BASELINE, ["--model", "{tmp}/no-model", "--out", "{tmp}/b"], ["--model {tmp}/no-model", "not found"]),
    # DELTA-mini: a summary of nothing was an empty summary; a step whose inputs are missing
    (DELTA_MINI, ["summary", "--out", "/nonexistent"], ["--out /nonexistent", "no such folder"]),
    (DELTA_MINI, ["summary", "--out", "{tmp}"], ["--out {tmp}", "holds no DELTA-mini results"]),
    (DELTA_MINI, ["arms", "--out", "{tmp}"], ["--out {tmp}", "no base model"]),
    (DELTA_MINI, ["summary", "--out", "{tmp}", "--set", "max_steps"], ["--set 'max_steps'", "KEY=VALUE"]),
    (DELTA_MINI, ["base", "--out", "{tmp}", "--config", "{tmp}/missing.json"], ["--config {tmp}/missing.json"]),
    # DELTA-mini v2's pilots and verdict: a folder without a base, an unknown arm, no such folder
    (PILOTS, ["lr", "{tmp}"], ["DIR {tmp}", "needs experiment.json and base/"]),
    (PILOTS, ["control", "{tmp}", "--arm", "dense"], ["--arm", "invalid choice"]),
    (PILOTS, ["lr", "{tmp}", "--steps", "0"], ["--steps", ">= 1"]),
    (PILOTS, ["control", "{tmp}", "--learning-rate", "0"], ["--learning-rate", "> 0"]),
    (VERDICT, ["/nonexistent"], ["DIR /nonexistent", "no such folder"]),
    # the recipe (issue 20): no arm to run, an unknown arm, a bad seed
    (RECIPE, ["run", "{tmp}"], ["run: name an ARM"]),
    (RECIPE, ["run", "{tmp}", "nope"], ["invalid choice: 'nope'"]),
    (RECIPE, ["run", "{tmp}", "rule", "--seed", "x"], ["--seed", "invalid int"]),
    # Manufactoria transfer: no DELTA-mini results, a bad k
    (TRANSFER_M, ["--mini", "{tmp}/none", "--out", "{tmp}/t"], ["--mini {tmp}/none", "no such folder"]),
    (TRANSFER_M, ["--mini", "{tmp}", "--out", "{tmp}/t"], ["--mini {tmp}", "experiment.json"]),
    (TRANSFER_M, ["--k", "0"], ["--k", ">= 1"]),
    # BouncingSim transfer: a --set value of the wrong type, a missing --out, an --out that cannot be made
    (TRANSFER_B, ["--out", "{tmp}/b", "--set", "samples=abc"], ["--set 'samples=abc'", "an integer"]),
    (TRANSFER_B, ["--out", "{tmp}/b", "--set", "samples=0"], ["samples=0", ">= 1"]),
    (TRANSFER_B, [], ["--out"]),
    (TRANSFER_B, ["--out", "{file}/b"], ["--out {file}/b", "cannot create the folder"]),
    # SmolLM2's SFT: an OUT that cannot be made, a step whose adapter is missing, bad settings and flags
    (SMOL, ["sft", "{file}/out"], ["OUT {file}/out", "cannot create the folder"]),
    (SMOL, ["measure", "{tmp}/none"], ["OUT {tmp}/none", "no such folder", "sft {tmp}/none"]),
    (SMOL, ["precondition", "{tmp}"], ["OUT {tmp}", "holds no adapter", "the precondition step needs it"]),
    (SMOL, ["dry-run-steps", "{tmp}"], ["OUT {tmp}", "holds no adapter"]),
    (SMOL, ["sft", "{tmp}", "--set", "sft_steps=0"], ["sft_steps=0", "integer >= 1"]),
    (SMOL, ["sft", "{tmp}", "--set", "sft_stpes=3"], ["unknown SmolSFTExperiment field", "sft_stpes"]),
    (SMOL, ["sft", "{tmp}", "--set", "sft_steps"], ["--set 'sft_steps'", "KEY=VALUE"]),
    (SMOL, ["sft", "{tmp}", "--set", "mini_experiment={tmp}/none.json"], ["mini_experiment=", "no such file"]),
    (SMOL, ["sft", "{tmp}", "--set", "measure_families=[\"ends_with/hard\"]"], ["measure_families", "not among the seen"]),
    (SMOL, ["sft", "{tmp}", "--config", "{tmp}/missing.json"], ["--config {tmp}/missing.json", "cannot read"]),
    (SMOL, ["sft", "{tmp}/o", "--model", "{tmp}/no-model"], ["model='{tmp}/no-model' (--model)", "not found"]),
    (SMOL, ["measure", "{tmp}", "--shard", "2/2"], ["--shard '2/2'", "0 <= I < N"]),
    (SMOL, ["measure", "{tmp}", "--models", "big"], ["--models", "invalid choice"]),
    (SMOL, ["dry-run-steps", "{tmp}", "--steps", "0"], ["--steps", ">= 1"]),
    (SMOL, ["dry-run-steps", "{tmp}", "--generations", "1"], ["--generations", ">= 2"]),
    (SMOL, ["merge", "{tmp}/m", "--adapter", "{tmp}"], ["--adapter {tmp}", "adapter_config.json"]),
    (SMOL, ["nope", "{tmp}"], ["invalid choice: 'nope'"]),
]


def _ids(case) -> str:
    name, argv, _ = case
    return f"{name.rsplit('.', 1)[-1]}:{' '.join(argv) or '(none)'}"


def _fill(values: list[str], tmp: Path) -> list[str]:
    return [v.replace("{file}", str(tmp / "a-file")).replace("{tmp}", str(tmp)) for v in values]


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_bad_input_is_one_line_exit_2(case, tmp_path):
    name, argv, needles = case
    (tmp_path / "a-file").write_text("not a folder\n")
    result = module(name, *_fill(argv, tmp_path))
    assert_one_line_error(result, f"python -m {name}", *_fill(needles, tmp_path))


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_tasks_build_into_proc_is_one_line():
    # the user's report: a FileNotFoundError traceback
    assert_one_line_error(module(TASKS, "build", "--out", "/proc/x"), "python -m delta_core.tasks build", "--out /proc/x")


def test_serve_port_in_use_is_one_line_not_a_hang():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = module(SERVE, "--host", "127.0.0.1", "--port", str(port))
    line = assert_one_line_error(result, "python -m delta_core.serve", f"--port {port}", "already in use")
    assert "delta_core.serve on http" not in result.stderr + result.stdout  # no banner before the failure
    assert line


def test_serve_bad_environment_limit_is_one_line():
    # DELTA_SERVE_* limits were parsed at import time, so a bad one ended in a traceback
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    result = subprocess.run([sys.executable, "-m", SERVE, "--port", "1"], capture_output=True, text=True,
                            timeout=TIMEOUT, cwd=ROOT, env={**env, "DELTA_SERVE_MAX_TESTS": "x"})
    assert_one_line_error(result, "python -m delta_core.serve", "DELTA_SERVE_MAX_TESTS='x'", "integer")


def test_train_that_cannot_take_one_step_is_one_line(tmp_path):
    # The user's report: the default preset asks 768 completions (48 prompts) a step, more prompts than
    # the training data has; TRL trained 0 steps and exited 0. `check_one_step` refuses it before the
    # model loads (only the path of the model is looked at).
    result = module(TRAIN, "--model", str(TINY_BASE), "--family", "starts_with", "--level", "basic",
                    "--max_steps", "12", "--switch_step", "5", "--num_problems", "10",
                    "--output_dir", str(tmp_path / "run"))
    assert_one_line_error(result, "python -m delta_core.train", "generation_batch_size=768", "48", "10")


def test_train_default_schedule_without_a_switch_is_one_line(tmp_path):
    result = module(TRAIN, "--model", str(TINY_BASE), "--family", "starts_with", "--level", "basic",
                    "--max_steps", "12", "--output_dir", str(tmp_path / "run"))
    assert_one_line_error(result, "python -m delta_core.train", "switch_step")


@pytest.mark.parametrize("argv", [["-5"], ["0"], ["x"], ["10", "y"]])
def test_fuzz_script_refuses_a_bad_count(argv):
    # `python benchmarks/fuzz.py -5` fuzzed 0 programs and reported "0 failures"
    result = run([sys.executable, str(ROOT / "benchmarks" / "fuzz.py"), *argv])
    assert_one_line_error(result, "python benchmarks/fuzz.py", "n_programs" if argv[0] != "10" else "seed")
    assert "failures" not in result.stdout


def test_judge_bad_requests_answer_422_json_and_one_line():
    bad_json = module(JUDGE, stdin="{not json")
    assert_one_line_error(bad_json, "python -m delta_core.judge", "stdin", "invalid JSON at line 1")
    assert json.loads(bad_json.stdout)["detail"].startswith("invalid JSON at line 1")
    missing = module(JUDGE, stdin=json.dumps({"dsl": "START start:\n    NEXT end\nEND end"}))
    assert_one_line_error(missing, "python -m delta_core.judge", "test_cases: field required")
    assert json.loads(missing.stdout) == {"detail": "test_cases: field required"}
    empty = module(JUDGE, stdin="")
    assert_one_line_error(empty, "python -m delta_core.judge", "empty")


def test_judge_good_call_has_no_runpy_warning(tmp_path):
    # `python -m delta_core.judge` printed runpy's RuntimeWarning ("found in sys.modules after import of
    # package 'delta_core', but prior to execution") on every call: delta_core/__init__.py imported
    # delta_core.rewards, which imports delta_core.judge, so the module ran twice. The package now imports
    # only the DSL; this guards both the symptom and the cause.
    body = {"dsl": "START start:\n    NEXT end\nEND end", "test_cases": [{"input": "R", "check_output": False}]}
    result = module(JUDGE, stdin=json.dumps(body))
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    assert json.loads(result.stdout)["all_passed"] is True
    (tmp_path / "request.json").write_text(json.dumps(body))
    from_file = module(JUDGE, str(tmp_path / "request.json"))
    assert from_file.returncode == 0 and from_file.stderr == "" and from_file.stdout == result.stdout
    probe = run([sys.executable, "-c", "import sys, delta_core; print('delta_core.judge' in sys.modules)"])
    assert probe.stdout.strip() == "False", "importing delta_core must not import delta_core.judge (runpy warning)"


def test_shared_helpers_in_process(capsys):
    import argparse

    from delta_core.cli import ArgumentParser, fail, float_range, port, positive_int, user_errors

    with pytest.raises(SystemExit) as exit_:
        fail("prog", "first line\n  second line")
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "prog: error: first line second line\n"

    parser = ArgumentParser(prog="prog")
    parser.add_argument("--n", type=positive_int)
    parser.add_argument("--p", type=port)
    parser.add_argument("--f", type=float_range(0, 1, low_open=True))
    for argv, needle in [(["--n", "-3"], "argument --n: -3 is out of range: must be an integer >= 1"),
                         (["--p", "70000"], "argument --p: 70000 is out of range: must be an integer from 1 to 65535"),
                         (["--f", "nan"], "argument --f: 'nan' is not a finite number"),
                         (["--f", "2"], "argument --f: 2 is out of range: must be in (0, 1]"),
                         (["--bogus"], "unrecognized arguments: --bogus")]:
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(argv)
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and err.count("\n") == 1 and needle in err and "(see prog --help)" in err
    assert parser.parse_args(["--n", "3", "--p", "80", "--f", "1"]) == argparse.Namespace(n=3, p=80, f=1.0)

    class ConfigError(ValueError):
        pass

    with pytest.raises(SystemExit):
        with user_errors("prog", ConfigError):
            raise ConfigError("lr=-1: must be >= 0")
    assert capsys.readouterr().err == "prog: error: lr=-1: must be >= 0\n"
    with pytest.raises(SystemExit):
        with user_errors("prog", paths={"--out": "/nonexistent"}):
            open("/nonexistent/x.json")
    assert capsys.readouterr().err == "prog: error: --out /nonexistent: /nonexistent/x.json: No such file or directory\n"
    # anything else is a bug: it keeps its traceback
    with pytest.raises(ZeroDivisionError):
        with user_errors("prog", ConfigError):
            1 / 0
    with pytest.raises(ValueError):
        with user_errors("prog", ConfigError):
            raise ValueError("a bug, not a config error")
    with pytest.raises(FileNotFoundError):  # an OSError outside the user's paths
        with user_errors("prog", paths={"--out": "/somewhere/else"}):
            open("/nonexistent/x.json")
