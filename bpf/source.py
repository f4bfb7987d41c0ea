"""The C text bcc compiles: the program files of `bpf/` with their local headers inlined.

Why not `#include`: bcc rewrites map operations (`table.lookup(...)`) and turns functions into
programs only in the *main* file it is given; a `fip_stats.lookup` inside an included header
compiles into an indirect call that the kernel rejects ("unknown opcode 8d"). So each local
`#include "lib/x.h"` is replaced by the header's text, once (the headers have guards anyway),
with `#line` markers so compiler messages still name the right file and line. System headers
(`<...>`) stay includes. Settings never enter here: they are -D flags (`bpf.loader.Settings`).
"""

from __future__ import annotations

import re
from pathlib import Path

BPF_DIR = Path(__file__).resolve().parent
TC_PROGRAMS = ("tc_egress.c", "tc_ingress.c")
SOCK_PROGRAMS = ("sock_connect4.c", "sock_sendmsg4.c", "sock_recvmsg4.c", "sock_getpeername4.c")
_LOCAL = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$')


def assemble(files: tuple[str, ...] = TC_PROGRAMS + SOCK_PROGRAMS, root: Path = BPF_DIR) -> str:
    """One compilation unit of `files` (relative to `root`), local headers inlined once each."""
    seen: set[Path] = set()
    return "".join(_expand(root / name, root, seen) for name in files)


def _expand(path: Path, root: Path, seen: set[Path]) -> str:
    path = path.resolve()
    if path in seen:
        return ""
    seen.add(path)
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    out = [f'#line 1 "{shown}"\n']
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(keepends=True), 1):
        found = _LOCAL.match(line)
        if found is None:
            out.append(line)
            continue
        target = path.parent / found.group(1)
        if not target.exists():
            target = root / found.group(1)
        out.append(_expand(target, root, seen))
        out.append(f'#line {number + 1} "{shown}"\n')
    return "".join(out)
