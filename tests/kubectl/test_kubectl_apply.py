"""`kubectl apply` with default (server-side, Strict) validation: the project's own manifests,
CRD printer columns, explain, diff, server dry-run, server-side apply with field managers and
conflicts, and bad input answered with the real server's codes and messages."""

# ruff: noqa: E501  (kubectl's output and the server's messages, verbatim)

from __future__ import annotations

import pathlib
import re

import pytest
import yaml
from kubectl_lab import AGE, REPO, Lab, lab_fixture, table

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]  # a hung kubectl fails the test, not the run
lab = lab_fixture(without_crds=True)  # deploy/crds is applied by the test, as on a new cluster

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: app, image: nginx:1.27, ports: [{containerPort: 80}]}
        - {name: sidecar, image: busybox}
"""


def deployment(replicas: object = 1, extra: str = "") -> str:
    return DEPLOYMENT.replace("REPLICAS", str(replicas)) + extra


def kubernetes_manifests(folder: pathlib.Path) -> list[pathlib.Path]:
    """Files whose every document is a Kubernetes object (kube-scheduler's configuration, CNI
    config and the like are files for a component, not objects for the API)."""
    out = []
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        if docs and all(
            isinstance(d, dict) and d.get("kind") and (d.get("metadata") or {}).get("name")
            and not str(d.get("apiVersion", "")).split("/")[0].endswith(".config.k8s.io")
            for d in docs
        ):  # fmt: skip
            out.append(path)
    return out


def test_apply_deploy_and_examples_with_default_validation(lab: Lab) -> None:
    files = kubernetes_manifests(REPO / "deploy")
    assert any(f.parent.name == "crds" for f in files)
    args = [a for f in files for a in ("-f", str(f))]
    out = lab.run("apply", *args)
    assert out.returncode == 0, out.stderr
    assert "Warning" not in out.stderr, out.stderr
    lines = out.stdout.strip().splitlines()
    assert "customresourcedefinition.apiextensions.k8s.io/subnets.fip.io created" in lines
    assert all(line.endswith(" created") for line in lines), lines
    out = lab.run("apply", "-R", "-f", str(REPO / "examples"))
    assert out.returncode == 0 and not out.stderr, out.stderr
    assert "subnet.fip.io/dc1-a created" in out.stdout
    again = lab.ok("apply", "-R", "-f", str(REPO / "examples"))
    assert all(line.endswith(" unchanged") for line in again.strip().splitlines()), again


def test_apply_kustomization_of_deploy(lab: Lab) -> None:
    """`kubectl apply -k deploy/` (how docs/install.md installs fip), when deploy/ has one."""
    if not (REPO / "deploy" / "kustomization.yaml").exists():
        return  # nothing to build: the per-file test above covers deploy/
    out = lab.run("apply", "-k", str(REPO / "deploy"))
    assert out.returncode == 0, out.stderr
    assert "error" not in out.stderr.lower(), out.stderr
    assert "configmap/fip-scheduler-config" in out.stdout  # the scheduler configuration, as a ConfigMap
    diff = lab.run("diff", "-k", str(REPO / "deploy"))
    assert diff.returncode == 0 and diff.stdout == "", diff.stdout


def test_a_component_config_is_not_an_api_object(lab: Lab) -> None:
    config = REPO / "deploy" / "kube-scheduler" / "scheduler-config.yaml"
    text = (
        config.read_text()
        if config.exists()
        else "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
    )
    out = lab.fails("apply", "-f", "-", stdin=text)
    assert (
        'no matches for kind "KubeSchedulerConfiguration" in version "kubescheduler.config.k8s.io/v1"'
        in out.stderr
    )
    assert "failed to download openapi" not in out.stderr


def test_get_subnets_shows_the_crd_printer_columns(lab: Lab) -> None:
    lab.ok("apply", "-f", str(REPO / "examples" / "subnets.yaml"))
    lab.ok("patch", "subnet", "dc1-a", "--subresource=status", "--type=merge",
           "-p", '{"status":{"total":190,"allocated":3,"reserved":1,"free":186}}')  # fmt: skip
    rows = table(lab.ok("get", "subnets"))
    assert rows[0] == ["NAME", "CIDR", "VLAN", "TOTAL", "ALLOCATED", "RESERVED", "FREE", "AGE"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["dc1-a"][:7] == ["dc1-a", "192.0.2.0/24", "0", "190", "3", "1", "186"]
    assert re.fullmatch(AGE, by_name["dc1-a"][7])
    line = next(ln for ln in lab.ok("get", "subnets").splitlines() if ln.startswith("dc1-b "))
    assert re.fullmatch(rf"dc1-b\s+198\.51\.100\.0/24\s+120\s+{AGE}", line.strip())  # unset cells are blank
    pools = table(lab.ok("get", "pools"))
    assert pools[0] == ["NAME", "SUBNET", "SIZE", "ALLOCATED", "AGE"]


def test_explain_builtin_and_custom_fields(lab: Lab) -> None:
    out = lab.ok("explain", "deployment.spec.template.spec.containers.ports")
    assert "KIND:       Deployment" in out and "GROUP:      apps" in out
    assert "FIELD: ports <[]ContainerPort>" in out
    assert re.search(r"containerPort\s+<integer> -required-", out)
    out = lab.ok("explain", "subnets.spec")
    assert "GROUP:      fip.io" in out and "KIND:       Subnet" in out
    assert re.search(r"cidr\s+<string> -required-", out)
    out = lab.ok("explain", "pods", "--recursive")
    assert "containers\t<[]Container> -required-" in out


def test_client_side_apply_uses_strategic_merge_from_openapi(lab: Lab) -> None:
    assert lab.apply(deployment()).strip() == "deployment.apps/web created"
    live = lab.json("get", "deployment", "web")
    assert [c["name"] for c in live["spec"]["template"]["spec"]["containers"]] == ["app", "sidecar"]
    changed = deployment().replace("nginx:1.27", "nginx:1.28")
    assert lab.apply(changed).strip() == "deployment.apps/web configured"
    live = lab.json("get", "deployment", "web")
    images = {c["name"]: c["image"] for c in live["spec"]["template"]["spec"]["containers"]}
    assert images == {"app": "nginx:1.28", "sidecar": "busybox"}
    assert (
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    )  # defaults kept


def test_diff_and_server_dry_run(lab: Lab) -> None:
    lab.apply(deployment(2).replace("nginx:1.27", "nginx:1.28"))
    same = lab.run("diff", "-f", "-", stdin=deployment(2).replace("nginx:1.27", "nginx:1.28"))
    assert same.returncode == 0 and same.stdout == ""
    out = lab.run("diff", "-f", "-", stdin=deployment(5).replace("nginx:1.27", "nginx:1.28"))
    assert out.returncode == 1, out.stderr
    assert "-  replicas: 2" in out.stdout and "+  replicas: 5" in out.stdout
    dry = lab.apply(deployment(7).replace("nginx:1.27", "nginx:1.28"), "--dry-run=server")
    assert dry.strip() == "deployment.apps/web configured (server dry run)"
    assert lab.json("get", "deployment", "web")["spec"]["replicas"] == 2
    new = deployment().replace("name: web,", "name: web-dry,")
    assert lab.apply(new, "--dry-run=server").strip() == "deployment.apps/web-dry created (server dry run)"
    lab.fails("get", "deployment", "web-dry")


def test_dry_run_of_something_invalid_is_refused(lab: Lab) -> None:
    bad = "apiVersion: fip.io/v1\nkind: Subnet\nmetadata: {name: bad-vlan}\nspec: {cidr: 10.9.0.0/24, gateway: 10.9.0.1, vlan: 5000, nodeCIDRs: [10.0.0.0/8]}\n"
    out = lab.fails("apply", "--dry-run=server", "-f", "-", stdin=bad)
    assert out.stderr.strip() == (
        'The Subnet "bad-vlan" is invalid: spec.vlan: Invalid value: 5000: spec.vlan in body should be less than or '
        "equal to 4094"
    )
    lab.fails("get", "subnet", "bad-vlan")
    out = lab.fails(
        "apply", "--dry-run=server", "-f", "-", stdin=deployment().replace("name: web,", "name: Web_Bad,")
    )
    assert out.stderr.startswith(
        'The Deployment "Web_Bad" is invalid: metadata.name: Invalid value: "Web_Bad": a lowercase RFC 1123 subdomain'
    )


def test_unknown_fields_strict_by_default_warn_and_ignore(lab: Lab) -> None:
    extra = "  bogus: 1\n"
    body = (
        deployment(extra=extra)
        .replace("name: web,", "name: web-uf,")
        .replace("image: busybox}", "image: busybox, imagePullPolic: Always}")
    )
    out = lab.fails("apply", "-f", "-", stdin=body)
    assert out.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be '
        'handled as a Deployment: strict decoding error: unknown field "spec.bogus", unknown field '
        '"spec.template.spec.containers[1].imagePullPolic"'
    )
    out = lab.fails("apply", "--server-side", "-f", "-", stdin=body)
    assert out.stderr.strip() == (
        "Error from server (BadRequest): failed to create typed patch object (default/web-uf; apps/v1, Kind=Deployment): errors:\n"
        "  .spec.bogus: field not declared in schema\n"
        '  .spec.template.spec.containers[name="sidecar"].imagePullPolic: field not declared in schema'
    )
    out = lab.run("apply", "--validate=warn", "-f", "-", stdin=body)
    assert out.returncode == 0 and out.stdout.strip() == "deployment.apps/web-uf created"
    assert 'Warning: unknown field "spec.bogus"' in out.stderr
    assert 'Warning: unknown field "spec.template.spec.containers[1].imagePullPolic"' in out.stderr
    assert (
        "bogus" not in lab.json("get", "deployment", "web-uf")["spec"]
    )  # dropped (kept only in the annotation)
    cr = "apiVersion: fip.io/v1\nkind: Pool\nmetadata: {name: uf}\nspec: {subnet: dc1-a, size: 1, colour: red}\n"
    out = lab.fails("apply", "-f", "-", stdin=cr)
    assert ".spec.colour: field not declared in schema" in out.stderr
    out = lab.run("apply", "--validate=false", "-f", "-", stdin=cr)
    assert out.returncode == 0 and out.stderr == ""


def test_wrong_types_are_decode_errors(lab: Lab) -> None:
    out = lab.fails("apply", "-f", "-", stdin=deployment('"two"').replace("name: web,", "name: web-type,"))
    assert out.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be '
        "handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas "
        "of type int32"
    )
    out = lab.fails("apply", "-f", "-", stdin=deployment().replace("image: busybox", "image: 7"))
    assert (
        "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image of type string"
        in out.stderr
    )


def test_server_side_apply_field_managers_and_conflicts(lab: Lab) -> None:
    body = deployment(3).replace("name: web,", "name: web-ssa,")
    assert lab.apply(body, "--server-side").strip() == "deployment.apps/web-ssa serverside-applied"
    assert lab.apply(body, "--server-side").strip() == "deployment.apps/web-ssa serverside-applied"
    other = deployment(4).replace("name: web,", "name: web-ssa,")
    out = lab.fails("apply", "--server-side", "--field-manager=other", "-f", "-", stdin=other)
    assert 'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas' in out.stderr
    assert "--force-conflicts" in out.stderr
    lab.apply(other, "--server-side", "--field-manager=other", "--force-conflicts")
    live = lab.json("get", "deployment", "web-ssa", "--show-managed-fields")
    assert live["spec"]["replicas"] == 4
    managers = {m["manager"]: m["operation"] for m in live["metadata"]["managedFields"]}
    assert managers == {"kubectl": "Apply", "other": "Apply"}
    image = other.replace("nginx:1.27", "nginx:1.29")  # containers are owned item by item (by name)
    out = lab.fails("apply", "--server-side", "--field-manager=other", "-f", "-", stdin=image)
    assert (
        'conflict with "kubectl" using apps/v1: .spec.template.spec.containers[name="app"].image'
        in out.stderr
    )
    containers = lab.json("get", "deployment", "web-ssa")["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["nginx:1.27", "busybox"]
    solo = deployment().replace("name: web,", "name: web-solo,")
    lab.apply(solo, "--server-side")
    only_app = "\n".join(ln for ln in solo.splitlines() if "sidecar" not in ln) + "\n"
    lab.apply(only_app, "--server-side")  # the only manager stops applying the sidecar: it goes
    containers = lab.json("get", "deployment", "web-solo")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app"]


def test_client_side_then_server_side_apply_takes_the_fields_over(lab: Lab) -> None:
    body = deployment(1).replace("name: web,", "name: web-mig,")
    lab.apply(body)
    out = lab.apply(body.replace("replicas: 1", "replicas: 2"), "--server-side")
    assert out.strip() == "deployment.apps/web-mig serverside-applied"
    assert lab.json("get", "deployment", "web-mig")["spec"]["replicas"] == 2


def test_server_side_apply_of_custom_resources(lab: Lab) -> None:
    cr = "apiVersion: fip.io/v1\nkind: Pool\nmetadata: {name: ssa}\nspec: {subnet: dc1-a, size: 2}\n"
    assert lab.apply(cr, "--server-side").strip() == "pool.fip.io/ssa serverside-applied"
    out = lab.run("diff", "--server-side", "-f", "-", stdin=cr.replace("size: 2", "size: 3"))
    assert out.returncode == 1 and "+  size: 3" in out.stdout


GADGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, shortNames: [gd]}
  versions:
    - name: v1
      served: true
      storage: true
      additionalPrinterColumns:
        - {name: Colour, type: string, jsonPath: .spec.colour}
        - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              description: What the gadget is.
              properties:
                colour: {type: string, description: The gadget's colour.}
            status:
              type: object
              x-kubernetes-preserve-unknown-fields: true
"""


def test_a_crd_created_and_changed_through_kubectl(lab: Lab) -> None:
    assert (
        lab.apply(GADGET_CRD).strip()
        == "customresourcedefinition.apiextensions.k8s.io/gadgets.example.com created"
    )
    lab.ok("wait", "--for=condition=Established", "crd/gadgets.example.com", "--timeout=10s")
    lab.apply("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1}\nspec: {colour: red}\n")
    lab.ok("patch", "gadget", "g1", "--subresource=status", "--type=merge",
           "-p", '{"status":{"conditions":[{"type":"Other","status":"False"},{"type":"Ready","status":"True"}]}}')  # fmt: skip
    rows = table(lab.ok("get", "gd"))
    assert rows == [["NAME", "COLOUR", "READY"], ["g1", "red", "True"]]  # no Age: the CRD has printer columns
    assert "size" not in lab.ok("explain", "gadgets.spec")
    out = lab.fails(
        "apply",
        "-f",
        "-",
        stdin="apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g2}\nspec: {size: 3}\n",
    )
    assert ".spec.size: field not declared in schema" in out.stderr
    changed = GADGET_CRD.replace(
        "colour: {type: string, description: The gadget's colour.}",
        "colour: {type: string, description: The gadget's colour.}\n                size: {type: integer, description: How big.}",
    ).replace(
        "- {name: Colour, type: string, jsonPath: .spec.colour}",
        "- {name: Size, type: integer, jsonPath: .spec.size}",
    )
    assert (
        lab.apply(changed).strip()
        == "customresourcedefinition.apiextensions.k8s.io/gadgets.example.com configured"
    )
    out = lab.ok("explain", "gadgets.spec")
    assert re.search(r"size\s+<integer>\n\s+How big\.", out), out
    lab.apply("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g2}\nspec: {size: 3}\n")
    rows = table(lab.ok("get", "gadgets"))
    assert rows[0] == ["NAME", "SIZE", "READY"] and rows[2][:2] == ["g2", "3"]
    lab.ok("delete", "crd", "gadgets.example.com")
    out = lab.fails("get", "gadgets")  # kubectl's discovery cache may still name the resource: 404 either way
    assert (
        'Unable to list "example.com/v1, Resource=gadgets": the server could not find the requested resource'
        in out.stderr
    )
