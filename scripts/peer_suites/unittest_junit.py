"""Run one unittest file as its authors run it (``python FILE``) and write a JUnit XML report.

Triton's tests derive from ``test_util.TestResultCollector``, whose ``run()``
reads ``result.testsRun``: under pytest that attribute is missing and every test
reports an AttributeError. Plain unittest runs them as Triton's ``test.sh``
does; this records each test's outcome on the way.

    python unittest_junit.py FILE.py REPORT.xml [-k PATTERN ...]
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path
from types import TracebackType

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class RecordingResult(unittest.TextTestResult):
    """A TextTestResult that also keeps every test's outcome and time."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.records: list[tuple[str, str, str, float]] = []  # (id, outcome, message, seconds)
        self._started = 0.0

    def startTest(self, test: unittest.TestCase) -> None:
        self._started = time.monotonic()
        super().startTest(test)

    def _record(self, test: unittest.TestCase, outcome: str, message: str = "") -> None:
        self.records.append((test.id(), outcome, message, time.monotonic() - self._started))

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test: unittest.TestCase, err: ExcInfo) -> None:
        super().addFailure(test, err)  # type: ignore[arg-type]
        self._record(test, "failure", _describe(err))

    def addError(self, test: unittest.TestCase, err: ExcInfo) -> None:
        super().addError(test, err)  # type: ignore[arg-type]
        self._record(test, "error", _describe(err))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: ExcInfo | None) -> None:
        super().addSubTest(test, subtest, err)  # type: ignore[arg-type]
        if err is not None:
            outcome = "failure" if issubclass(err[0], test.failureException) else "error"  # type: ignore[arg-type]
            # one record per test: the first failing subtest names it
            if not any(r[0] == test.id() for r in self.records):
                self._record(test, outcome, f"{subtest.id()[len(test.id()) :].strip()} {_describe(err)}")

    def addExpectedFailure(self, test: unittest.TestCase, err: ExcInfo) -> None:
        super().addExpectedFailure(test, err)  # type: ignore[arg-type]
        self._record(test, "passed")


def _describe(err: ExcInfo) -> str:
    kind, value, _ = err
    if kind is None:
        return ""
    return "".join(traceback.format_exception_only(kind, value)).strip()


def main() -> None:
    file = Path(sys.argv[1]).resolve()
    report = Path(sys.argv[2])
    patterns = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "-k"]
    sys.path.insert(0, str(file.parent))
    spec = importlib.util.spec_from_file_location(file.stem, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[file.stem] = module
    spec.loader.exec_module(module)
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = [p if "*" in p else f"*{p}*" for p in patterns]
    suite = loader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(resultclass=RecordingResult, verbosity=2, stream=sys.stdout)
    result = runner.run(suite)
    assert isinstance(result, RecordingResult)
    root = ET.Element("testsuite", name=file.name)
    seen: set[str] = set()
    for test_id, outcome, message, seconds in result.records:
        if test_id in seen:  # a subtest failure followed by the test's own record
            continue
        seen.add(test_id)
        classname, _, name = test_id.rpartition(".")
        case = ET.SubElement(root, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")
        if outcome != "passed":
            ET.SubElement(case, outcome, message=message[:2000])
    # errors outside any test (setUpClass, import of a helper) have no record above
    for test, text in result.errors:
        test_id = test.id() if hasattr(test, "id") else str(test)
        if test_id not in seen:
            seen.add(test_id)
            case = ET.SubElement(root, "testcase", classname="", name=test_id)
            ET.SubElement(case, "error", message=text.strip().splitlines()[-1][:2000])
    ET.ElementTree(root).write(report, encoding="unicode")


if __name__ == "__main__":
    main()
