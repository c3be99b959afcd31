# syntax=docker/dockerfile:1
# scimitar's container image: a static binary on distroless, running as non-root.
#
#   docker build -t ghcr.io/scimitar-dev/scimitar:$(make -s version) .
#
# The tag must match the chart's appVersion (charts/scimitar/Chart.yaml), which
# `make version` reads from Cargo.toml.

# --- build: Alpine's Rust targets musl, so the binary is fully static --------
FROM docker.io/library/rust:1.95-alpine3.22 AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src
COPY src ./src
COPY crds ./crds
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && strip target/release/scimitar \
 && ./target/release/scimitar --version

# --- run: no shell, no package manager, uid 65532 --------------------------
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/release/scimitar /usr/local/bin/scimitar
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/scimitar"]
CMD ["run", "--log-format", "json"]
