"""The mutation-testing gate (issue 28): which mutants of the engine's guards must be killed, and the verdict on a
mutmut run. ``bash .ci/mutation`` runs mutmut on SCOPE in a scratch copy, then this module on its results:

    python -m tests.support.mutation_gate --scope [GROUP]      # the mutant-name globs of the gated scope, or of one
                                                               # group of it (guards, cost), for mutmut run
    python -m tests.support.mutation_gate --select-tests [GROUP]  # mutmut's tests for the group (in the scratch copy)
    python -m tests.support.mutation_gate RESULTS.txt [GROUP]  # `mutmut results --all true` output -> table, exit 0/1

It fails (exit 1) when a mutant of the scope was not run (an incomplete run), when a mutant survived (or had no
test) that tests/data/mutation_survivors.yaml does not list with why it is harmless, when a listed survivor is now killed
or gone (the list stays true), or when survivors exceed THRESHOLD of the scope's mutants. Timeouts count as killed
(a mutant that hangs a test is caught: pytest-timeout fails it), as mutmut's own score counts them.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import yaml

from tests.support.paths import SURVIVORS

#: the gated scope, in two groups that run as separate jobs (`bash .ci/mutation GROUP`; both: `bash .ci/mutation`).
#: guards: what a deploy relies on -- the planner; the runner's budget gate, policy gate, reviewed-plan check, rollback
#: guard, supersession check and exit code. cost: the cost model the budget gate decides by (its pricing of what the
#: program declares: the estimate, the database, the cluster, volumes, load balancers, NAT, compute).
#: Gated: every mutant run, at most THRESHOLD surviving, each one listed.
GROUPS: dict[str, tuple[str, ...]] = {
    "guards": (
        "automation.flow.planner.*",
        "automation.flow.gates.x_check_budget*", "automation.flow.gates.x_check_review*",
        "automation.flow.gates.x_with_policy*", "automation.flow.rollback.x_guarded_rollback*",
        "automation.flow.gates.x_cost_change*", "automation.flow.runner.x_exit_code*", "automation.flow.gates.x_superseded*",
    ),
    "cost": (
        "automation.review.cost.x_estimate*", "automation.review.cost.x__rds*", "automation.review.cost.x__eks*",
        "automation.review.cost.x__pvc*", "automation.review.cost.x__ingress*", "automation.review.cost.x__nat*",
        "automation.review.cost_nodes.x_price_compute*", "automation.review.cost_nodes.x__pack*",
        "automation.review.cost_nodes.x__fits*", "automation.review.cost_nodes.x__node_cost*",
        "automation.review.cost_nodes.x__candidates*",
    ),
}
SCOPE = tuple(glob for globs in GROUPS.values() for glob in globs)
#: the tests a group's mutants must be killed by, where they are not pyproject.toml's [tool.mutmut] selection: the
#: cost model's own tests (worked by hand from the price table), the budget gate's and the version calendar's; the
#: slowest of those (a 20 s synth of an upgrade in two worktrees, about the plan, not the price) is left out, as every
#: surviving mutant would wait on it (`bash .ci/mutation cost` writes this into the scratch copy's pyproject.toml)
TESTS: dict[str, tuple[str, ...]] = {
    "cost": ("tests/unit/test_cost.py", "tests/engine/test_budget_gate.py", "tests/unit/test_lifecycle.py",
             "--deselect", "tests/unit/test_lifecycle.py::test_the_upgrade_is_an_in_place_update_and_two_minors_are_refused_offline",
             "-m", "not (cli or k8s or db or act)", "--timeout", "60"),
}
_SELECTION = re.compile(r"^pytest_add_cli_args_test_selection = \[.*?\]\n", re.S | re.M)
THRESHOLD = 0.05
KILLED = {"killed", "timeout"}
_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+?)\s*$")


def fastest_first(nodeids: Sequence[str], durations: dict[str, float]) -> list[int]:
    """The order (indexes into ``nodeids``) in which a mutant's tests run: file by file, the file with the fastest test
    first, and in each file its tests fastest first (by the stats run's durations; ties and unknown tests in their
    collected order). A file's tests stay together, so its module-scoped fixtures are set up once. mutmut 3.8.1's
    fork runner orders a mutant's tests by duration; its forkserver runner (the one this project uses) passes them
    as an unordered set, so a mutant that the first fast test kills could wait on a 25 s synth test first (measured:
    about 10 s a mutant of the cost model, most of them killed)."""
    def took(i: int) -> float:
        return durations.get(nodeids[i], float("inf"))

    def file(i: int) -> str:
        return nodeids[i].split("::", 1)[0]

    fastest: dict[str, tuple[float, int]] = {}
    for i in range(len(nodeids)):
        best = fastest.get(file(i), (float("inf"), i))
        fastest[file(i)] = (min(best[0], took(i)), best[1])
    return sorted(range(len(nodeids)), key=lambda i: (fastest[file(i)], took(i), i))


def stats_durations(cwd: Path) -> dict[str, float] | None:
    """Under a mutant's test run (mutmut sets MUTANT_UNDER_TEST to a mutant's name and runs in its `mutants/` copy,
    where it keeps `mutmut-stats.json`): the stats run's duration per test; None otherwise (every other test run)."""
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        return None
    stats = cwd / "mutmut-stats.json"
    if not stats.is_file():
        return None
    durations = json.loads(stats.read_text()).get("duration_by_test", {})
    return {str(k): float(v) for k, v in durations.items()}


def parse(text: str) -> dict[str, str]:
    return {m["name"]: m["status"] for m in map(_LINE.match, text.splitlines()) if m}


def select_tests(pyproject: str, group: str | None) -> str:
    """``pyproject`` (pyproject.toml's text) with mutmut's test selection set to ``group``'s TESTS, if it has its own."""
    tests = TESTS.get(group or "")
    if tests is None:
        return pyproject
    if len(_SELECTION.findall(pyproject)) != 1:
        raise ValueError("pyproject.toml: no single `pytest_add_cli_args_test_selection = [...]` line in [tool.mutmut]")
    return _SELECTION.sub(lambda _: f"pytest_add_cli_args_test_selection = {json.dumps(list(tests))}\n", pyproject)


def in_scope(name: str, globs: tuple[str, ...] = SCOPE) -> bool:
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs)


def group_globs(name: str | None) -> tuple[str, ...]:
    """The globs of group ``name`` (None: the whole scope); an unknown name is refused naming the nearest one."""
    if name is None:
        return SCOPE
    if name not in GROUPS:
        near = difflib.get_close_matches(name, GROUPS, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ValueError(f"unknown mutation group {name!r}: {hint}the groups are {', '.join(GROUPS)}")
    return GROUPS[name]


def module(name: str) -> str:
    return name.split(".x")[0] if ".x" in name else name.rsplit(".", 1)[0]


def verdict(results: dict[str, str], allowed: dict[str, str], globs: tuple[str, ...] = SCOPE) -> tuple[list[str], list[str]]:
    """(table lines, problems) for the mutants of ``globs`` (a group, or the whole scope) in ``results``; no problems:
    the gate passes. A listed survivor of another group is not this run's business; one of no group is gone."""
    scoped = {n: s for n, s in results.items() if in_scope(n, globs)}
    problems: list[str] = []
    if not scoped:
        problems.append("no mutant of the scope in the results: did mutmut run?")
    by_module: dict[str, Counter[str]] = {}
    for name, status in scoped.items():
        by_module.setdefault(module(name), Counter())["killed" if status in KILLED else status] += 1
    table = [f"{'module':<28} {'mutants':>7} {'killed':>7} {'survived':>8} {'no tests':>8} {'score':>7}"]
    for mod, counts in sorted(by_module.items()):
        total = sum(counts.values())
        table.append(f"{mod:<28} {total:>7} {counts['killed']:>7} {counts['survived']:>8} {counts['no tests']:>8} "
                     f"{100 * counts['killed'] / total:>6.1f}%")
    not_run = sorted(n for n, s in scoped.items() if s == "not checked")
    if not_run:
        problems.append(f"{len(not_run)} mutant(s) of the scope were not run (first: {not_run[0]}): the run is incomplete")
    surviving = sorted(n for n, s in scoped.items() if s not in KILLED and s != "not checked")
    for name in surviving:
        if name not in allowed:
            problems.append(f"{name}: {scoped[name]}, and not listed in {SURVIVORS.name} with why it is harmless "
                            f"(kill it with a test; `mutmut show {name}` in the scratch copy shows it)")
    for name in sorted(n for n in allowed if in_scope(n, globs) or not in_scope(n)):
        if scoped.get(name) in KILLED or (name not in scoped and results):
            problems.append(f"{SURVIVORS.name} lists {name}, which is now killed or gone: remove it")
    if scoped and len(surviving) > THRESHOLD * len(scoped):
        problems.append(f"{len(surviving)} of {len(scoped)} mutants survive: more than {THRESHOLD:.0%}")
    total = len(scoped)
    killed = sum(1 for s in scoped.values() if s in KILLED)
    table.append(f"{'all':<28} {total:>7} {killed:>7} {len(surviving):>8} {'':>8} "
                 f"{100 * killed / max(total, 1):>6.1f}%  (threshold: at most {THRESHOLD:.0%} surviving)")
    return table, problems


def main(argv: list[str]) -> int:
    usage = "usage: python -m tests.support.mutation_gate --scope [GROUP] | --select-tests [GROUP] | RESULTS.txt [GROUP]"
    if not argv or len(argv) > 2:
        print(usage, file=sys.stderr)
        return 2
    try:
        globs = group_globs(argv[1] if len(argv) == 2 else None)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if argv[0] == "--scope":
        print("\n".join(globs))
        return 0
    try:
        if argv[0] == "--select-tests":  # in the scratch copy: mutmut's test selection for the group
            path = Path("pyproject.toml")
            path.write_text(select_tests(path.read_text(), argv[1] if len(argv) == 2 else None))
            return 0
        allowed = dict(yaml.safe_load(SURVIVORS.read_text()) or {}) if SURVIVORS.exists() else {}
        results = parse(Path(argv[0]).read_text())
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table, problems = verdict(results, allowed, globs)
    print("\n".join(table))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
