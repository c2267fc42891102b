#!/usr/bin/env bash
# `make images`: the service and gateway images, with podman, from one
# multi-stage build (infra/containers/Containerfile).
#
# IMAGE_BUILDER names the Rust build image. Where a registry is reachable,
# use the official one (IMAGE_BUILDER=rust:1.95-slim-bookworm). By default
# the image is made here: a Debian base made with debootstrap
# (base-image.sh) plus a C compiler, with this machine's Rust toolchain and
# crate cache mounted while the image builds.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag="${IMAGE_TAG:-latest}"
builder="${IMAGE_BUILDER:-localhost/astro-rust:bookworm}"

infra/containers/podman-setup.sh

volumes=()
if [ "$builder" = "localhost/astro-rust:bookworm" ]; then
  infra/containers/base-image.sh localhost/debian:bookworm-slim
  podman image exists "$builder" ||
    podman build -q -f infra/containers/builder.Containerfile -t "$builder" infra/containers >/dev/null
  volumes=(-v "$(rustc --print sysroot):/opt/rust:ro" -v "${CARGO_HOME:-$HOME/.cargo}/registry:/usr/local/cargo/registry")
fi

for target in service gateway; do
  echo "--- localhost/astro-$target:$tag"
  podman build --format docker -f infra/containers/Containerfile --build-arg BUILDER="$builder" \
    "${volumes[@]}" --target "$target" -t "localhost/astro-$target:$tag" .
done
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^localhost/astro-(service|gateway):$tag "
