#!/usr/bin/env bash
# Builds scimitar's container image here, without a registry or a container
# engine: the release binary, linked statically against glibc
# (`-C target-feature=+crt-static`; no musl target can be installed here),
# on a root filesystem like distroless static's `nonroot` (passwd and group
# entries for uid/gid 65532, CA certificates, /tmp, /home/nonroot), with the
# Dockerfile's user, entrypoint, command and exposed ports
# (tests/e2e/pods_on_a_node.rs checks they agree). The Dockerfile stays the
# published recipe; this is the same image for the test node.
#
#   image.sh [TAG...]      TAGs default to the crate version (`make version`)
#
# Writes one OCI archive per tag, ghcr.io/scimitar-dev/scimitar:TAG (what the
# chart names), cached under ~/.cache/scimitar/images by a hash of the
# binary and this script's inputs, and prints their paths, one per line.
# `hack/node.sh import ARCHIVE` loads one into the node's containerd.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

version=$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)
[ $# -gt 0 ] || set -- "$version"
repository=ghcr.io/scimitar-dev/scimitar
cache=${SCIMITAR_CACHE:-$HOME/.cache/scimitar}/images
target=x86_64-unknown-linux-gnu
mkdir -p "$cache"

# --target keeps build scripts and proc macros dynamic; only the binary is static.
echo "image: building the release binary (static glibc)" >&2
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --quiet --target "$target" --bin scimitar
built="${CARGO_TARGET_DIR:-$repo/target}/$target/release/scimitar"
if ! file "$built" | grep -Eq 'static(-pie)? linked|statically linked'; then
  echo "image: $built is not statically linked" >&2; exit 1
fi

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
strip -o "$work/scimitar" "$built"
cat > "$work/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat > "$work/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
printf 'hosts: files dns\n' > "$work/nsswitch.conf"
certs=/etc/ssl/certs/ca-certificates.crt

key=$(cat "$work/scimitar" "$work/passwd" "$work/group" "$work/nsswitch.conf" "$certs" "$0" "$here/oci-image.py" | sha256sum | cut -c1-16)
for tag in "$@"; do
  out="$cache/scimitar-$tag-$key.tar"
  if [ ! -f "$out" ]; then
    python3 "$here/oci-image.py" --out "$out" --name "$repository:$tag" \
      --file "$work/scimitar:/usr/local/bin/scimitar:0755" \
      --file "$work/passwd:/etc/passwd:0644" --file "$work/group:/etc/group:0644" \
      --file "$work/nsswitch.conf:/etc/nsswitch.conf:0644" \
      --file "$certs:/etc/ssl/certs/ca-certificates.crt:0644" \
      --dir /tmp:1777 --dir /home/nonroot:0700:65532 --dir /root:0700 \
      --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
      --workdir /home/nonroot \
      --user 65532:65532 \
      --expose 8080/tcp --expose 9090/tcp \
      --entrypoint '["/usr/local/bin/scimitar"]' \
      --cmd '["run","--log-format","json"]' \
      --label "org.opencontainers.image.version=$tag" \
      --label "org.opencontainers.image.source=https://github.com/scimitar-dev/scimitar" >/dev/null
  fi
  echo "$out"
done
