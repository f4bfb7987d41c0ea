"""Running CNI plugins the way containerd does (through libcni), for the kubelet stand-in.

containerd loads the first `*.conflist` (by name) of its conf dir and, for ADD, runs every
plugin of the list in order: the plugin binary is the file named by `type` in one of the
`CNI_PATH` directories; its stdin is the plugin's own entry with the list's `cniVersion` and
`name` added, and from the second plugin on the previous plugin's result as `prevResult`; its
environment is CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH and CNI_ARGS
(`IgnoreUnknown=1;K8S_POD_NAMESPACE=..;K8S_POD_NAME=..;K8S_POD_INFRA_CONTAINER_ID=..;
K8S_POD_UID=..`). DEL runs the plugins in reverse order with the cached ADD result as
`prevResult` (libcni's result cache; cniVersion >= 0.4.0). Exit code 0 is success; otherwise
stdout holds the CNI error object `{code, msg, details}`.

Errors: `CNIFailed` with the plugin, the command, the CNI code and message.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.cluster.errors import LabError

Obj = dict[str, Any]
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class CNIFailed(LabError):
    def __init__(self, plugin: str, command: str, code: int, msg: str, details: str = "") -> None:
        self.code = code
        self.msg = msg
        self.details = details
        text = f"CNI {command} by plugin {plugin} failed with code {code}: {msg}"
        super().__init__(text + (f" ({details})" if details else ""))


@dataclass(frozen=True, slots=True)
class Sandbox:
    """What the runtime knows of one pod sandbox: enough to run DEL after a restart."""

    namespace: str
    name: str
    uid: str
    container_id: str
    netns: str  # path, e.g. /var/run/netns/<name>
    ifname: str = "eth0"


@dataclass(frozen=True, slots=True)
class NetworkList:
    name: str
    cni_version: str
    plugins: tuple[Obj, ...]
    source: Path

    @classmethod
    def load(cls, conf_dir: Path) -> NetworkList:
        """The first `*.conflist` of `conf_dir` by file name, as containerd picks it."""
        files = sorted(conf_dir.glob("*.conflist"))
        if not files:
            raise LabError(f"no *.conflist in {conf_dir}: run `fipd install-cni --conf-dir {conf_dir}`")
        doc = json.loads(files[0].read_text())
        plugins = tuple(doc.get("plugins") or ())
        if not plugins:
            raise LabError(f"{files[0]}: the network list has no plugins")
        return cls(str(doc.get("name", "")), str(doc.get("cniVersion", "")), plugins, files[0])


class Runtime:
    """ADD / DEL of one network list for sandboxes; `bin_dirs` is CNI_PATH."""

    def __init__(self, conf_dir: Path, bin_dirs: list[Path], timeout: float = 70.0) -> None:
        self.conf_dir = conf_dir
        self.bin_dirs = bin_dirs
        self.timeout = timeout

    def add(self, sb: Sandbox) -> Obj:
        """Run ADD through the list; the last plugin's result (to cache for DEL)."""
        net = NetworkList.load(self.conf_dir)
        prev: Obj | None = None
        for plugin in net.plugins:
            prev = self._exec("ADD", net, plugin, sb, prev)
        return prev or {}

    def delete(self, sb: Sandbox, cached: Obj | None) -> None:
        """Run DEL through the list in reverse, with the cached ADD result as prevResult."""
        net = NetworkList.load(self.conf_dir)
        for plugin in reversed(net.plugins):
            self._exec("DEL", net, plugin, sb, cached or None)

    def _exec(self, command: str, net: NetworkList, plugin: Obj, sb: Sandbox, prev: Obj | None) -> Obj:
        kind = str(plugin.get("type", ""))
        binary = self._find(kind)
        conf: Obj = {**plugin, "cniVersion": net.cni_version, "name": net.name}
        if prev is not None:
            conf["prevResult"] = prev
        env = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": sb.container_id,
            "CNI_NETNS": sb.netns,
            "CNI_IFNAME": sb.ifname,
            "CNI_PATH": os.pathsep.join(map(str, self.bin_dirs)),
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={sb.namespace};K8S_POD_NAME={sb.name};"
            f"K8S_POD_INFRA_CONTAINER_ID={sb.container_id};K8S_POD_UID={sb.uid}",
            "PATH": PATH,
        }
        try:
            run = subprocess.run(
                [str(binary)], input=json.dumps(conf).encode(), env=env, capture_output=True,
                timeout=self.timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise CNIFailed(kind, command, 11, f"no answer within {self.timeout:g} s") from None
        out = run.stdout.decode(errors="replace").strip()
        try:
            answer = json.loads(out) if out else {}
        except ValueError:
            answer = {"msg": out[:300] or run.stderr.decode(errors="replace")[:300]}
        if run.returncode != 0:
            raise CNIFailed(kind, command, int(answer.get("code", 999)), str(answer.get("msg", "")),
                            str(answer.get("details", "")))  # fmt: skip
        return answer if isinstance(answer, dict) else {}

    def _find(self, kind: str) -> Path:
        for d in self.bin_dirs:
            candidate = d / kind
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
        dirs = ", ".join(map(str, self.bin_dirs))
        raise CNIFailed(kind, "exec", 999, f'failed to find plugin "{kind}" in path [{dirs}]')


def result_ips(result: Obj) -> list[str]:
    """The pod's addresses from a CNI 1.0 result (`ips[].address` is "ip/prefix")."""
    return [str(entry["address"]).split("/")[0] for entry in result.get("ips") or [] if "address" in entry]
