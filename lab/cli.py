"""`fip-lab`: the lab's command line.

Subcommands register themselves in `COMMANDS` below: each entry maps a name to
"module:function" where function(argv: list[str]) -> int parses its own arguments. Keeping the
table here (and importing lazily) keeps `fip-lab --help` fast and lets each part of the lab own
its own argument parsing.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    # name: ("module:function", one-line help)
    "bench": ("lab.bench:main", "run a benchmark: fip-lab bench NAME [--json PATH] (see bench --help)"),
    "apiserver": ("lab.apiserver.cli:main", "run the fake kube-apiserver (--listen, --kubeconfig-out)"),
    "workloads": ("lab.workloads.cli:main", "run the lab workload controllers (--kubeconfig)"),
    "up": ("lab.cluster.cli:up_main", "start the whole system: fip-lab up [--config FILE] [--run-dir DIR]"),
    "status": ("lab.cluster.cli:status_main", "health of every component of the lab (--run-dir DIR)"),
    "check": ("lab.cluster.cli:check_main", "check the fabric's invariants and fipctl check (--run-dir DIR)"),
    "down": ("lab.cluster.cli:down_main", "stop the lab and remove everything it made (--run-dir DIR)"),
    "soak": ("lab.cluster.soak:main", "chaos for N minutes on a lab of its own: fip-lab soak --minutes N"),
    "kubelet": ("lab.kubelet.cli:main", "run the kubelet stand-in of one node (used by fip-lab up)"),
    "legacy-host": ("lab.cluster.legacy:main", "serve a legacy host's IP whitelist (used by fip-lab up)"),
    "scheduler": ("lab.scheduler.cli:main", "run the kube-scheduler stand-in (--kubeconfig, --config)"),
}


def _usage() -> str:
    lines = ["usage: fip-lab COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in sorted(COMMANDS.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    entry = COMMANDS.get(args[0])
    if entry is None:
        print(f"fip-lab: unknown command {args[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, func_name = entry[0].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    result: int = func(args[1:])
    return result


if __name__ == "__main__":
    sys.exit(main())
