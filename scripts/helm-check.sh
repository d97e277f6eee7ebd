#!/usr/bin/env bash
# Proves the Helm chart offline:
#   1. helm itself: built once from source with Go (`go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION`) into the
#      git-ignored .cache/bin, rebuilt only when missing or of another version;
#   2. `helm lint --strict` and `helm template` with the default values and with helm/ci/full-values.yaml;
#   3. scripts/helm-check.ts on each rendering: every object against the Kubernetes schemas (kubernetes-models),
#      the ServiceMonitor by a hand-written check, references between objects, and the ConfigMap's config.yaml
#      through `alertbridge validate`.
# Also checks that helm/alertbridge/values.schema.json is up to date. Rendered output: .cache/helm-check/.
#
#   bash scripts/helm-check.sh          (npm run helm:check)
#   bash scripts/helm-check.sh --build-only
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

HELM_VERSION=v3.16.4          # a v3 release that builds with the Go installed here (go.mod asks for go 1.22)
HELM_K8S_MINOR=31             # its client-go is v0.31: the Kubernetes version helm assumes without a cluster
# The flags of helm's own Makefile, so the binary reports its version and assumes Kubernetes 1.31 like a release
# binary does (a plain `go install` would assume 1.20).
LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in chartutil lint/rules; do
  LDFLAGS="$LDFLAGS -X helm.sh/helm/v3/pkg/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$pkg.k8sVersionMinor=$HELM_K8S_MINOR"
done
BUILD_ID="$HELM_VERSION k8s-1.$HELM_K8S_MINOR"
BIN="$ROOT/.cache/bin"
HELM="$BIN/helm"
STAMP="$BIN/helm.version"
CHART=helm/alertbridge
OUT="$ROOT/.cache/helm-check"
KUBE_VERSION=1.30.0

# helm keeps its own config, cache and data here rather than in $HOME.
export HELM_CACHE_HOME="$ROOT/.cache/helm/cache" HELM_CONFIG_HOME="$ROOT/.cache/helm/config" HELM_DATA_HOME="$ROOT/.cache/helm/data"

if [ ! -x "$HELM" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$BUILD_ID" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "helm-check: Go is required to build helm $HELM_VERSION (https://go.dev/dl/ or apt-get install golang-go)" >&2
    exit 1
  fi
  echo "helm-check: building helm $HELM_VERSION with $(go version | awk '{print $3}') into .cache/bin (once; takes minutes on 2 cores)"
  start=$(date +%s)
  mkdir -p "$BIN"
  GOBIN="$BIN" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -trimpath -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "$BUILD_ID" > "$STAMP"
  echo "helm-check: built helm $HELM_VERSION in $(( $(date +%s) - start )) s"
fi
"$HELM" version --short
[ "${1:-}" = "--build-only" ] && exit 0

npx tsx scripts/gen-helm-schema.ts --check

mkdir -p "$OUT"
status=0
for values in default helm/ci/full-values.yaml; do
  if [ "$values" = default ]; then args=(); name=default; else args=(-f "$values"); name=$(basename "$values" .yaml); fi
  echo "helm-check: lint --strict ($name)"
  "$HELM" lint --strict "${args[@]}" "$CHART" || status=1
  echo "helm-check: template ($name) > .cache/helm-check/$name.yaml"
  if "$HELM" template alertbridge "$CHART" --namespace security --kube-version "$KUBE_VERSION" "${args[@]}" > "$OUT/$name.yaml"; then
    npx tsx scripts/helm-check.ts "$OUT/$name.yaml" || status=1
  else
    status=1
  fi
done

if [ "$status" -eq 0 ]; then echo "helm-check: OK"; else echo "helm-check: FAILED" >&2; fi
exit "$status"
