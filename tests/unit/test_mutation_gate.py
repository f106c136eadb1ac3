"""The mutation gate's verdict (tests/support/mutation_gate.py): each of its checks has a case where it alone fails."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.support.mutation_gate import (
    TESTS,
    THRESHOLD,
    fastest_first,
    group_globs,
    main,
    module,
    parse,
    select_tests,
    stats_durations,
    verdict,
)
from tests.support.paths import ROOT

P = "automation.flow.planner.x_plan__mutmut_"
C = "automation.flow.gates.x_check_budget__mutmut_"


def _results(killed: int, **others: int) -> dict[str, str]:
    found = {f"{P}{i}": "killed" for i in range(killed)}
    for status, count in others.items():
        found |= {f"{C}{status}{i}": status.replace("_", " ") for i in range(count)}
    return found


def test_a_complete_run_with_no_survivor_passes_and_prints_the_score_per_module() -> None:
    table, problems = verdict(_results(40, timeout=2), {})
    assert problems == []
    assert any(line.startswith("automation.flow.planner") and "100.0%" in line for line in table)
    assert table[-1].startswith("all") and "42" in table[-1]


def test_an_unlisted_survivor_fails_and_a_listed_one_passes_under_the_threshold() -> None:
    results = _results(40, survived=1)
    (problem,) = verdict(results, {})[1]
    assert "survived, and not listed in mutation_survivors.yaml" in problem
    assert verdict(results, {f"{C}survived0": "an equivalent mutant"})[1] == []


def test_a_mutant_without_tests_counts_as_a_survivor() -> None:
    (problem,) = verdict(_results(40, no_tests=1), {})[1]
    assert "no tests" in problem


def test_more_survivors_than_the_threshold_fail_even_when_listed() -> None:
    results = _results(10, survived=2)
    listed = {name: "listed" for name, status in results.items() if status == "survived"}
    assert 2 > THRESHOLD * 12
    (problem,) = verdict(results, listed)[1]
    assert problem == "2 of 12 mutants survive: more than 5%"


def test_a_mutant_not_run_fails_the_gate() -> None:
    (problem,) = verdict(_results(40, not_checked=1), {})[1]
    assert "were not run" in problem and "incomplete" in problem


def test_a_listed_survivor_that_is_now_killed_must_be_removed() -> None:
    (problem,) = verdict(_results(40), {f"{P}3": "was harmless"})[1]
    assert "now killed or gone: remove it" in problem


def test_no_result_of_the_scope_fails() -> None:
    (problem,) = verdict({"automation.review.render.x_render__mutmut_1": "killed"}, {})[1]
    assert "no mutant of the scope" in problem


def test_results_parse_as_mutmut_prints_them() -> None:
    text = f"    {P}1: killed\n    automation.review.render.xǁReportǁto_json__mutmut_2: survived\n\n"
    assert parse(text) == {f"{P}1": "killed", "automation.review.render.xǁReportǁto_json__mutmut_2": "survived"}
    assert module(f"{P}1") == "automation.flow.planner" and module("automation.review.render.xǁReportǁto_json__mutmut_2") == "automation.review.render"


def test_a_mutants_tests_run_file_by_file_fastest_first_and_unknown_ones_last_in_their_order() -> None:
    ids = ["a.py::slow", "a.py::unknown", "b.py::mid", "b.py::fast", "a.py::fast", "c.py::unknown", "b.py::fast2"]
    durations = {"a.py::slow": 24.0, "b.py::fast": 0.01, "b.py::mid": 1.5, "a.py::fast": 0.2, "b.py::fast2": 0.01}
    assert [ids[i] for i in fastest_first(ids, durations)] == [
        "b.py::fast", "b.py::fast2", "b.py::mid",  # the file with the fastest test first, its tests fastest first
        "a.py::fast", "a.py::slow", "a.py::unknown",  # a test the stats run did not time runs last in its file
        "c.py::unknown",  # a file with no timed test last
    ]


def test_tests_are_reordered_only_under_a_mutants_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mutmut-stats.json").write_text(json.dumps({"duration_by_test": {"t::a": 2, "t::b": 0.5}}))
    for value in ("", "stats", "fail"):  # a normal run, mutmut's stats and forced-fail runs
        monkeypatch.setenv("MUTANT_UNDER_TEST", value)
        assert stats_durations(tmp_path) is None
    monkeypatch.delenv("MUTANT_UNDER_TEST")
    assert stats_durations(tmp_path) is None
    monkeypatch.setenv("MUTANT_UNDER_TEST", "automation.review.cost.x_estimate__mutmut_3")
    assert stats_durations(tmp_path) == {"t::a": 2.0, "t::b": 0.5}
    assert stats_durations(tmp_path / "elsewhere") is None  # no stats: collected order


def test_a_group_run_gates_its_own_mutants_and_leaves_the_other_groups_listed_survivors_alone() -> None:
    cost = "automation.review.cost.x__rds__mutmut_"
    results = {f"{cost}{i}": "killed" for i in range(40)} | {f"{cost}40": "survived"}
    listed = {f"{cost}40": "equivalent", f"{C}7": "a guard's equivalent mutant", "automation.gone.x_f__mutmut_1": "stale"}
    table, problems = verdict(results, listed, group_globs("cost"))
    assert problems == ["mutation_survivors.yaml lists automation.gone.x_f__mutmut_1, which is now killed or gone: remove it"]
    assert table[-1].startswith("all") and " 41 " in table[-1]
    # the same results judged as the guards' group: none of its mutants ran
    assert "no mutant of the scope in the results: did mutmut run?" in verdict(results, listed, group_globs("guards"))[1]
    assert set(group_globs(None)) == set(group_globs("guards")) | set(group_globs("cost"))


def test_an_unknown_group_is_refused_naming_the_nearest(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unknown mutation group 'costs': did you mean 'cost'\\? the groups are guards, cost"):
        group_globs("costs")
    assert main(["--scope", "costs"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown mutation group 'costs'")
    assert main(["--scope", "guards"]) == 0 and "automation.flow.planner.*" in capsys.readouterr().out


def test_a_group_with_its_own_tests_gets_them_in_the_scratch_pyproject_and_the_rest_keep_the_projects() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    cost = tomllib.loads(select_tests(pyproject, "cost"))["tool"]["mutmut"]
    assert cost["pytest_add_cli_args_test_selection"] == list(TESTS["cost"])
    assert cost["only_mutate"] == tomllib.loads(pyproject)["tool"]["mutmut"]["only_mutate"]  # nothing else changed
    assert select_tests(pyproject, "guards") == select_tests(pyproject, None) == pyproject
    with pytest.raises(ValueError, match="no single `pytest_add_cli_args_test_selection"):
        select_tests("[tool.mutmut]\n", "cost")
    # what the cost group leaves out exists (pytest ignores a --deselect that names nothing)
    for arg, value in zip(TESTS["cost"], TESTS["cost"][1:], strict=False):
        if arg == "--deselect":
            path, name = value.split("::")
            assert f"def {name}(" in (ROOT / path).read_text(), value


def test_a_results_file_that_is_not_there_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "results.txt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "results.txt" in err and err.count("\n") == 1
