#!/usr/bin/env bash
# `make bench`: Criterion micro-benchmarks of the protocol engines, then the
# load benchmark (scimitar beside its SCIM peers and the Kubernetes storage
# floor), which rewrites BENCHMARKS.md. Unattended; bounded in count and time.
#   hack/bench.sh            everything
#   hack/bench.sh peers      some phases of the load benchmark: peers | writes |
#                            flat (kubernetes = writes and flat) | flat-1000 |
#                            flat-10000 | flat-100000 (one size of flat)
# SCIMITAR_BENCH_QUICK=1 divides every size by 20 (report in target/bench/).
# A phase selection also writes its report to target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/scimitar/target}"
export CARGO_INCREMENTAL=0

bash benches/peers/install.sh
hack/build-control-plane.sh >/dev/null

if [[ $# -eq 0 ]]; then
  echo "==> Criterion micro-benchmarks (benches/protocol.rs)"
  rm -rf target/criterion
  # Criterion writes under the target dir; keep its results where the report looks.
  CRITERION_HOME="$PWD/target/criterion" cargo bench --bench protocol -- \
    --warm-up-time 1 --measurement-time 3 --noplot
fi

echo "==> load benchmark (benches/load.rs)"
CRITERION_HOME="$PWD/target/criterion" cargo bench --bench load -- "$@"
