#!/usr/bin/env bash
# Writes charts/scimitar/README.md from README.md.gotmpl and the comments in
# values.yaml with helm-docs (built by hack/install-helm-docs.sh).
# `hack/helm-docs.sh DIR` writes into a copy of the chart in DIR instead
# (what tests/e2e/helm_chart.rs does to detect a stale README).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chart="$here/../charts/scimitar"
helm_docs=$("$here/install-helm-docs.sh" | tail -n 1)
if [ $# -gt 0 ]; then
  mkdir -p "$1"
  cp -r "$chart/." "$1/"
  chart=$1
fi
"$helm_docs" --log-level warning --chart-search-root "$chart" \
  --template-files README.md.gotmpl --output-file README.md --sort-values-order file
