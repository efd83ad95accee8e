"""delta_core.artifacts: files that survive a kill, readers that name the bad line, provenance."""

import json
import os
import subprocess
import sys

import pytest

from delta_core.artifacts import (append_jsonl, atomic_write_text, drop_torn_tail, provenance, read_json,
                                  read_jsonl, results_dir, write_json)


def test_a_torn_last_line_is_dropped_and_the_next_append_starts_a_fresh_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"st')  # killed in the middle of the third write
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}]
    append_jsonl(path, {"step": 3})
    assert path.read_text() == '{"step": 1}\n{"step": 2}\n{"step": 3}\n'
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}, {"step": 3}]


def test_drop_torn_tail_leaves_a_complete_file_alone(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\n')
    assert drop_torn_tail(path) is False and path.read_text() == '{"a": 1}\n'
    path.write_text('{"a": 1}\n{"b"')
    assert drop_torn_tail(path) is True and path.read_text() == '{"a": 1}\n'
    path.write_text('no newline at all')
    assert drop_torn_tail(path) is True and path.read_text() == ""
    assert drop_torn_tail(tmp_path / "absent.jsonl") is False


def test_a_bad_line_before_the_end_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\n{oops}\n{"a": 3}\n')
    with pytest.raises(ValueError, match=r"m\.jsonl: line 2: not a JSON record"):
        read_jsonl(path)
    # a complete last line (newline written) that is not JSON is corruption, not a torn write
    path.write_text('{"a": 1}\n{oops}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_jsonl(path)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_jsonl(tmp_path / "absent.jsonl")
    assert read_jsonl(tmp_path / "absent.jsonl", missing_ok=True) == []


def test_atomic_writes_replace_whole_files_and_leave_no_temp_files(tmp_path):
    path = write_json(tmp_path / "sub" / "x.json", {"b": 1, "a": [1, 2]})
    assert path.read_text() == '{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}\n'
    assert read_json(path) == {"b": 1, "a": [1, 2]}
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and sorted(os.listdir(path.parent)) == ["x.json"]
    (tmp_path / "bad.json").write_text('{"a": 1,\n}')
    with pytest.raises(ValueError, match=r"bad\.json: line 2"):
        read_json(tmp_path / "bad.json")


def test_append_survives_a_kill_between_records(tmp_path):
    # a child appends 3 records and is killed with SIGKILL right after: all 3 are on disk (fsync'ed)
    path = tmp_path / "m.jsonl"
    code = ("import os, signal, sys; from delta_core.artifacts import append_jsonl\n"
            f"for i in range(3): append_jsonl({str(path)!r}, {{'i': i}})\n"
            "os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -9
    assert read_jsonl(path) == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_provenance_names_command_commit_machine_and_time():
    record = provenance("python -m x --flag", params={"k": 2}, wall_seconds=12.345, extra_field="e")
    assert record["command"] == "python -m x --flag" and record["params"] == {"k": 2}
    assert record["wall_seconds"] == 12.3 and record["extra_field"] == "e"
    assert set(record["machine"]) >= {"platform", "cpu_count", "python"}
    commit = record["git_commit"]
    assert commit is None or len(commit.split("+")[0]) == 40
    json.dumps(record)  # JSON-able


def test_results_dir_points_at_the_books_results(monkeypatch, tmp_path):
    assert results_dir("baseline") == results_dir() / "baseline"
    assert results_dir().parts[-2:] == ("book", "results")
    monkeypatch.setenv("DELTA_RESULTS", str(tmp_path))
    assert results_dir("x") == tmp_path / "x"


def test_git_commit_outside_git_reads_the_senders_commit(tmp_path, monkeypatch):
    from delta_core.artifacts import git_commit

    monkeypatch.delenv("DELTA_GIT_COMMIT", raising=False)
    assert git_commit(tmp_path) is None  # a copy of the tree without .git
    monkeypatch.setenv("DELTA_GIT_COMMIT", "0123abc")
    assert git_commit(tmp_path) == "0123abc (DELTA_GIT_COMMIT: the tree was sent without .git)"
