"""`fip-lab bench NAME [--json PATH]`: run one benchmark of `tests/bench/`, or `all` of them.

A benchmark is a file `tests/bench/bench_<name>.py` (found next to this package, in the
repository checkout) exposing

    run(json_path: str | None) -> dict[str, float]

which starts what it measures (real Redis servers, namespaces, ...), prints a table of its
figures with their targets, writes the figures as a JSON object to `json_path` when given, and
returns them. If the returned figures hold `targets_met` (1.0 or 0.0), a 0.0 makes this command
exit 1, so a missed target fails a CI step. With `all`, every benchmark runs in name order and
`--json` gets one object keyed by benchmark name.

Exit codes: 0 ran and met its targets; 1 a target was missed or the benchmark failed; 2 usage.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parent.parent / "tests" / "bench"

BenchRun = Callable[[str | None], dict[str, float]]


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def load(name: str) -> BenchRun:
    path = BENCH_DIR / f"bench_{name}.py"
    spec = importlib.util.spec_from_file_location(f"fip_bench_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # multiprocessing workers pickle functions by module name
    spec.loader.exec_module(module)
    run: BenchRun = module.run
    return run


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fip-lab bench", description="Run a benchmark from tests/bench/.")
    p.add_argument("name", metavar="NAME", help="benchmark name (" + ", ".join([*available(), "all"]) + ")")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    names = available()
    if args.name != "all" and args.name not in names:
        print(
            f"fip-lab bench: no benchmark {args.name!r}; have: {', '.join(names) or 'none'} (and all)",
            file=sys.stderr,
        )
        return 2
    if args.json and not Path(args.json).resolve().parent.is_dir():
        print(f"fip-lab bench: --json {args.json}: the directory does not exist", file=sys.stderr)
        return 2
    selected = names if args.name == "all" else [args.name]
    results: dict[str, dict[str, float]] = {}
    failed = False
    for name in selected:
        try:
            figures = load(name)(None if args.name == "all" else args.json)
        except KeyboardInterrupt:
            print("fip-lab bench: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:
            print(f"fip-lab bench: {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            traceback.print_exc()
            failed = True
            continue
        results[name] = figures
        if figures.get("targets_met") == 0.0:
            failed = True
    if args.name == "all" and args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 1 if failed else 0
