#!/usr/bin/env python3
"""Checks a `sealwire-conformance run --json` report of the Python adapter
against its documented differences (stdlib only).

    python3 check_report.py REPORT.json [known_differences.json]

Passes (exit 0) only if

* every failed test is listed in known_differences.json under a difference
  whose operation matches and whose expected and actual error classes are
  the documented ones, and
* every listed test did fail in exactly that way (a listed test that passes
  means DIFFERENCES.md is out of date), and
* nothing broke and at least one test passed.

Skipped tests are counted and listed by the capability they needed.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Tuple

HERE = Path(__file__).resolve().parent
ERROR = re.compile(r"^error `([a-z_]+)`$")


def error_class(text: Any) -> str:
    match = ERROR.match(text) if isinstance(text, str) else None
    return match.group(1) if match else ""


def check(report: Dict[str, Any], known: Dict[str, Any]) -> Tuple[bool, List[str]]:
    lines: List[str] = []
    by_test: Dict[str, Dict[str, Any]] = {}
    for difference in known["differences"]:
        for test in difference["tests"]:
            by_test[test] = difference

    outcomes: Counter = Counter()
    explained: Counter = Counter()
    seen = set()
    problems: List[str] = []
    skipped_reasons: Counter = Counter()
    for result in report["results"]:
        key = f"{result['file']}#{result['tcId']}"
        outcome = result["outcome"]
        outcomes[outcome] += 1
        difference = by_test.get(key)
        if outcome == "skipped":
            skipped_reasons[result.get("reason") or "no reason given"] += 1
        if difference is not None:
            seen.add(key)
        if outcome == "passed":
            if difference is not None:
                problems.append(f"{key} passes but is listed as difference `{difference['id']}`")
            continue
        if outcome != "failed":
            if outcome != "skipped":
                problems.append(f"{key}: outcome {outcome}")
            continue
        expected, actual = error_class(result.get("expected")), error_class(result.get("actual"))
        if (
            difference is not None
            and result.get("op") == difference["op"]
            and expected == difference["expected"]
            and actual in difference["accepted"]
        ):
            explained[difference["id"]] += 1
            continue
        problems.append(
            f"{key} step {result.get('step')} (`{result.get('op')}`): expected {result.get('expected')}, "
            f"got {result.get('actual')}"
        )
    for key in sorted(set(by_test) - seen):
        problems.append(f"{key} is listed as difference `{by_test[key]['id']}` but was not run")

    lines.append(f"implementation: {report.get('implementation')}")
    lines.append(
        "vectors: {} passed, {} failed ({} of them documented differences), {} skipped".format(
            outcomes["passed"], outcomes["failed"], sum(explained.values()), outcomes["skipped"]
        )
    )
    for difference in known["differences"]:
        lines.append(f"  difference `{difference['id']}`: {explained[difference['id']]} test(s)")
    for reason, n in sorted(skipped_reasons.items()):
        lines.append(f"  skipped ({n}): {reason}")
    if report.get("loadErrors"):
        problems.extend(f"load error: {e}" for e in report["loadErrors"])
    if outcomes["passed"] == 0:
        problems.append("no test passed")
    for problem in problems:
        lines.append(f"  PROBLEM {problem}")
    ok = not problems
    lines.append("result: " + ("PASS (every failure is a documented difference)" if ok else "FAIL"))
    return ok, lines


def main(argv: List[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    report = json.loads(Path(argv[1]).read_text())
    known_path = Path(argv[2]) if len(argv) == 3 else HERE / "known_differences.json"
    known = json.loads(known_path.read_text())
    ok, lines = check(report, known)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
