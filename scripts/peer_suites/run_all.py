"""Run the peers' own test suites against a real Moorings server and count the results.

For each gRPC front end (grpcio, moorings) this starts ``moorings serve`` on the
Triton repository built by ``build_repository.py`` (free ports, 127.0.0.1),
copies Triton's QA folders into the work folder with only the host and ports
changed (``localhost:8000``/``8001`` -> ``127.0.0.1:REST``/``GRPC``), runs
each test file with pytest from its own folder (the tests import
``../common``), then does the same for ``test_tfserving_model_server.py``
(our re-creation of TF Serving's model-server cases) on the TF Serving
repository. Results go to ``WORK/results.json`` and ``WORK/results.md``.

    python run_all.py --triton-qa QA --repo OUT --work WORK [--grpc-server grpcio moorings]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

ONNX_INFER = {"BACKENDS": "onnx", "ENSEMBLES": "0", "TRITON_SERVER_CPU_ONLY": "1"}
DEFAULT_LIMIT_TESTS = ["test_default_limit", "test_large_string_in_json", "test_json_dtype", "test_no_leak"]
COPIED = ["common", "L0_http", "L0_grpc", "L0_input_validation", "L0_infer"]


@dataclass(frozen=True)
class Suite:
    """One Triton test file as its test.sh runs it, with Moorings' equivalent of the server flags."""

    folder: str
    file: str
    env: tuple[tuple[str, str], ...] = ()
    patterns: tuple[str, ...] = ()  # unittest -k; empty: every test
    server: tuple[str, ...] = ()  # extra moorings serve arguments
    no_streaming: bool = False  # our variant: the copy's use_streaming defaults become False
    grpc: bool = True  # False: REST only, so it runs with the first --grpc-server only

    @property
    def label(self) -> str:
        extra = [*self.server, *(["no streaming"] if self.no_streaming else [])]
        return f"{self.folder}/{self.file}" + (f" [{' '.join(extra)}]" if extra else "")


TRITON_SUITES = [
    Suite("L0_http", "http_test.py", grpc=False),
    Suite("L0_http", "python_http_aio_test.py", grpc=False),
    # test.sh runs these with the default 64 MiB limit ...
    Suite("L0_http", "http_input_size_limit_test.py", patterns=tuple(DEFAULT_LIMIT_TESTS), grpc=False),
    # ... and these with --http-max-input-size=2**27
    Suite(
        "L0_http",
        "http_input_size_limit_test.py",
        patterns=("test_large_input",),
        server=("--max-body-mb", "128"),
        grpc=False,
    ),
    Suite("L0_http", "http_request_many_chunks.py", grpc=False),
    Suite("L0_grpc", "python_unit_test.py"),
    Suite("L0_grpc", "python_grpc_aio_test.py"),
    Suite("L0_input_validation", "input_validation_test.py"),
    # L0_infer/test.sh with BACKENDS=onnx, no ensembles, CPU only: as it is (every case also
    # streams over ModelStreamInfer) and with streaming off, to see what else fails
    Suite("L0_infer", "infer_test.py", env=tuple(ONNX_INFER.items())),
    Suite("L0_infer", "infer_test.py", env=tuple(ONNX_INFER.items()), no_streaming=True),
]


@dataclass
class Result:
    suite: str
    front_end: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def patch_copy(qa: Path, dest: Path, rest: int, grpc: int, no_streaming: bool = False) -> None:
    """Copy Triton's QA folders, changing only the server's host and ports (and, for the
    no-streaming variant, the ``use_streaming=True`` defaults of L0_infer and its helpers)."""
    if dest.exists():
        shutil.rmtree(dest)
    for name in COPIED:
        shutil.copytree(qa / name, dest / name, ignore=shutil.ignore_patterns("models", "*.so"))
    for path in dest.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        new = (
            text.replace("localhost:8000", f"127.0.0.1:{rest}")
            .replace("localhost:8001", f"127.0.0.1:{grpc}")
            .replace("_ipaddr}:8000", f"_ipaddr}}:{rest}")
            .replace("_ipaddr}:8001", f"_ipaddr}}:{grpc}")
            .replace("self._http_port = 8000", f"self._http_port = {rest}")
            .replace('self._local_host = "localhost"', 'self._local_host = "127.0.0.1"')
        )
        if no_streaming:
            new = new.replace("use_streaming=True", "use_streaming=False")
        if new != text:
            path.write_text(new, encoding="utf-8")


class Server:
    """``moorings serve`` in its own process group; stopped with SIGINT, then SIGKILL."""

    def __init__(self, moorings: str, repo: Path, args: list[str], log: Path) -> None:
        self.rest, self.grpc = free_port(), free_port()
        cmd = [moorings, "serve", str(repo), "--rest-port", str(self.rest), "--grpc-port", str(self.grpc)]
        self._log = log.open("wb")
        self.proc = subprocess.Popen(cmd + args, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"moorings serve exited with {self.proc.returncode}")
            try:
                url = f"http://127.0.0.1:{self.rest}/v2/health/ready"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit("moorings serve did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return ""


def _failure_reason(node: ET.Element) -> str:
    message = node.get("message") or ""
    body = node.text or ""
    # grpc's _InactiveRpcError: its first line says nothing; status and details follow
    found = re.findall(r"(?:status|details) = (.+)", message + "\n" + body)
    if "_InactiveRpcError" in message and found:
        return " ".join(found[:2])[:300]
    # the last "E   ..." line of pytest's report names the assertion or exception
    elines = [ln[1:].strip() for ln in body.splitlines() if ln.startswith("E ")]
    return _first_line(message) or (elines[0][:300] if elines else _first_line(body))


def parse_junit(path: Path, result: Result) -> None:
    if not path.exists():
        result.errors += 1
        result.failures["<collection>"] = "no junit report (crashed or timed out)"
        return
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}.{case.get('name')}"
        failure = case.find("failure")
        error = case.find("error")
        if failure is not None:
            result.failed += 1
            result.failures[name] = _failure_reason(failure)
        elif error is not None:
            result.errors += 1
            result.failures[name] = _failure_reason(error)
        elif case.find("skipped") is not None:
            result.skipped += 1
        else:
            result.passed += 1


def run_tests(
    test_file: Path, junit: Path, env: dict[str, str], timeout: int, selection: list[str], runner: str
) -> tuple[float, str]:
    """Run one test file from its own folder: ``unittest`` (as Triton's test.sh does) or ``pytest``."""
    if runner == "unittest":
        cmd = [sys.executable, str(HERE / "unittest_junit.py"), test_file.name, str(junit)]
        for pattern in selection:
            cmd += ["-k", pattern]
    else:
        cmd = [sys.executable, "-m", "pytest", test_file.name, "-p", "no:cacheprovider", "-q", "-rN"]
        cmd += ["--junitxml", str(junit), "-o", "junit_family=xunit1", f"--timeout={timeout}"]
        if selection:
            cmd += ["-k", " or ".join(selection)]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=test_file.parent, env=env, capture_output=True, text=True, timeout=timeout
        )
        output = proc.stdout[-6000:] + proc.stderr[-6000:]
    except subprocess.TimeoutExpired as exc:
        output = f"timed out after {timeout} s\n{exc.stdout!r}"
    return time.monotonic() - started, output


def _print(result: Result) -> None:
    print(
        f"{result.front_end:8} {result.suite:50} {result.passed:4} passed {result.failed:4} failed "
        f"{result.skipped:3} skipped {result.errors:3} errors  {result.seconds:5.0f} s",
        flush=True,
    )


def run_triton(args: argparse.Namespace, front_end: str, results: list[Result]) -> None:
    """One server per distinct set of server arguments; the suites that need it run against it."""
    work = args.work / front_end
    work.mkdir(parents=True, exist_ok=True)
    suites = [s for s in TRITON_SUITES if not args.only or s.file in args.only]
    if front_end != args.grpc_server[0]:
        suites = [s for s in suites if s.grpc]
    for server_extra in sorted({s.server for s in suites}):
        server_args = ["--grpc-server", front_end, "--no-tfserving-grpc", *server_extra, *args.server_arg]
        tag = "-".join(a.strip("-") for a in server_extra) or "default"
        server = Server(args.moorings, args.repo / "triton", server_args, work / f"server-triton-{tag}.log")
        try:
            server.wait_ready()
            for suite in (s for s in suites if s.server == server_extra):
                copy = work / "copies" / f"qa-{tag}{'-nostream' if suite.no_streaming else ''}"
                if not copy.exists():
                    patch_copy(args.triton_qa, copy, server.rest, server.grpc, suite.no_streaming)
                env = {**os.environ, "TRITONSERVER_IPADDR": "127.0.0.1", "SERVER_PID": str(server.proc.pid)}
                env.update(dict(suite.env))
                selection = list(suite.patterns)
                if suite.file == "infer_test.py" and args.infer_selection:
                    selection = args.infer_selection
                result = Result(suite=suite.label, front_end=front_end)
                stem = copy.name + "-" + suite.folder + "-" + suite.file
                junit = work / f"{stem}.xml"
                junit.unlink(missing_ok=True)
                result.seconds, tail = run_tests(
                    copy / suite.folder / suite.file, junit, env, args.timeout, selection, "unittest"
                )
                (work / f"{stem}.log").write_text(tail)
                parse_junit(junit, result)
                results.append(result)
                _print(result)
        finally:
            server.stop()
            shutil.rmtree(work / "copies", ignore_errors=True)  # the next server has other ports


def run_tfserving(args: argparse.Namespace, front_end: str, results: list[Result]) -> None:
    work = args.work / front_end
    work.mkdir(parents=True, exist_ok=True)
    server = Server(
        args.moorings,
        args.repo / "tfserving",
        ["--grpc-server", front_end, *args.server_arg],
        work / "server-tfserving.log",
    )
    try:
        server.wait_ready(timeout=240)
        env = {
            **os.environ,
            "MOORINGS_REST": f"127.0.0.1:{server.rest}",
            "MOORINGS_GRPC": f"127.0.0.1:{server.grpc}",
            "TFS_TESTDATA": str(args.tfs_testdata or ""),
        }
        result = Result(suite="tensorflow_model_server_test.py (re-created)", front_end=front_end)
        junit = work / "tfserving.xml"
        junit.unlink(missing_ok=True)
        result.seconds, tail = run_tests(
            HERE / "test_tfserving_model_server.py", junit, env, args.timeout, [], "pytest"
        )
        (work / "tfserving.log").write_text(tail)
        parse_junit(junit, result)
        results.append(result)
        _print(result)
    finally:
        server.stop()


def write_report(results: list[Result], work: Path) -> None:
    (work / "results.json").write_text(json.dumps([r.__dict__ for r in results], indent=1))
    lines = ["| front end | file | passed | failed | skipped | errors |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.front_end} | {r.suite} | {r.passed} | {r.failed} | {r.skipped} | {r.errors} |")
    lines += ["", "| front end | file | test | reason |", "|---|---|---|---|"]
    for r in results:
        for test, reason in sorted(r.failures.items()):
            reason = re.sub(r"\s+", " ", reason).replace("|", "\\|")
            lines.append(f"| {r.front_end} | {r.suite} | {test} | {reason} |")
    (work / "results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--triton-qa", type=Path, required=True, help="Triton's qa/ folder (unchanged)")
    parser.add_argument("--repo", type=Path, required=True, help="build_repository.py's --out")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder for copies, logs, results")
    parser.add_argument("--tfs-testdata", type=Path, help="TF Serving's testdata (for the metadata JSON)")
    parser.add_argument("--grpc-server", nargs="+", default=["grpcio", "moorings"])
    parser.add_argument("--only", nargs="*", help="test file names to run (default: all)")
    parser.add_argument(
        "--infer-selection", nargs="+", help="unittest -k patterns for L0_infer (default: all)"
    )
    parser.add_argument("--no-tfserving", action="store_true")
    parser.add_argument("--no-triton", action="store_true")
    parser.add_argument("--timeout", type=int, default=900, help="per test file, seconds")
    parser.add_argument("--server-arg", action="append", default=[], help="extra moorings serve argument")
    parser.add_argument("--moorings", default=str(Path(sys.executable).parent / "moorings"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    for front_end in args.grpc_server:
        if not args.no_triton:
            run_triton(args, front_end, results)
        if not args.no_tfserving:
            run_tfserving(args, front_end, results)
    write_report(results, args.work)
    print(f"wrote {args.work / 'results.md'}")


if __name__ == "__main__":
    main()
