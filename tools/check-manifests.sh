#!/usr/bin/env bash
# Checks the Kubernetes manifests offline: the kustomize base is the Helm chart rendered with its
# defaults (tools/render-chart.py --check), and the base and both overlays render with
# `kubectl kustomize` and validate against the Kubernetes 1.33 schemas with kubernetes-validate
# (strict: unknown fields are errors). Installs what is missing: Debian's kubernetes-client for
# kubectl, and PyYAML + kubernetes-validate from PyPI into target/tools-venv. Writes the
# renderings to target/k8s/.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SEXTANT_TOOLS_VENV:-$PWD/target/tools-venv}"
K8S_VERSION=1.33

if ! "$VENV/bin/python" -c 'import yaml, kubernetes_validate' 2>/dev/null; then
    echo "installing PyYAML and kubernetes-validate from PyPI into $VENV" >&2
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check pyyaml==6.0.2 kubernetes-validate==1.37.0
fi
if ! command -v kubectl >/dev/null; then
    echo "installing kubectl from Debian's kubernetes-client package" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null
fi

"$VENV/bin/python" tools/render-chart.py --check
mkdir -p target/k8s
for dir in base overlays/small overlays/large; do
    out="target/k8s/$(basename "$dir").yaml"
    kubectl kustomize "deploy/k8s/$dir" > "$out" 2> >(grep -v "is deprecated" >&2)
    "$VENV/bin/kubernetes-validate" -k "$K8S_VERSION" --strict --quiet "$out"
    echo "deploy/k8s/$dir: $(grep -c '^kind:' "$out") objects valid for Kubernetes $K8S_VERSION" >&2
done
