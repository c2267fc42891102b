#!/usr/bin/env bash
# `make images`: the service and gateway images, with podman, from one
# multi-stage build (infra/containers/Containerfile), for ARCH=arm64
# (Graviton, the default; cross-compiled on an x86 machine by cross.sh) or
# ARCH=x86_64 (built in the build image).
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

arch="${ARCH:-arm64}"
case "$arch" in
  arm64) platform=linux/arm64 ;;
  x86_64) platform=linux/amd64 ;;
  *) echo "ARCH is arm64 or x86_64, not $arch" >&2; exit 1 ;;
esac

# The binaries and their tree (bin/, root/, data/) in target/images/<arch>/out.
out="target/images/$arch/out"
if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
  # Graviton images on x86: cross-compiled here — no emulated build.
  infra/containers/cross.sh
else
  # This machine's architecture: built in the build image (its `build`
  # stage), then copied out of it.
  args=()
  if [ "$builder" = "localhost/astro-rust:bookworm" ]; then
    infra/containers/base-image.sh localhost/debian:bookworm-slim
    podman image exists "$builder" ||
      podman build -q -f infra/containers/builder.Containerfile -t "$builder" infra/containers >/dev/null
    args=(-v "$(rustc --print sysroot):/opt/rust:ro" -v "${CARGO_HOME:-$HOME/.cargo}/registry:/usr/local/cargo/registry")
  fi
  podman build --format docker -f infra/containers/Containerfile "${args[@]}" --build-arg BUILDER="$builder" \
    --target build -t "localhost/astro-build:$tag" .
  # Created, never started (the command is only required).
  container=$(podman create "localhost/astro-build:$tag" true)
  rm -rf "$out" && mkdir -p "$(dirname "$out")"
  podman cp "$container:/out" "$out"
  podman rm "$container" >/dev/null
fi

for target in service gateway; do
  echo "--- localhost/astro-$target:$tag ($platform)"
  podman build --format docker -f infra/containers/Containerfile --platform "$platform" \
    --build-arg PREBUILT="$out" --target "$target" -t "localhost/astro-$target:$tag" .
  built=$(podman image inspect --format '{{.Os}}/{{.Architecture}}' "localhost/astro-$target:$tag")
  [ "$built" = "$platform" ] || { echo "localhost/astro-$target:$tag is $built, not $platform" >&2; exit 1; }
done
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^localhost/astro-(service|gateway):$tag "

# The images themselves, started as ECS starts them (their own health
# checks), where this machine runs their platform: natively, or arm64 on x86
# through qemu-user-static's binfmt entry (only running is emulated).
case "$platform/$(uname -m)" in
  linux/amd64/x86_64 | linux/arm64/aarch64) runs=yes ;;
  linux/arm64/*) [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && runs=yes || runs=no ;;
  *) runs=no ;;
esac
if [ "$runs" = no ]; then
  echo "($platform images are not run here: register qemu-user-static's binfmt entry for aarch64 to run them)"
  exit 0
fi
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
grpc=127.0.0.1:$(free_port)
http=127.0.0.1:$(free_port)
names=(astro-check-service-$$ astro-check-gateway-$$)
trap 'podman rm -f "${names[@]}" >/dev/null 2>&1 || true' EXIT
podman run -d --platform "$platform" --name "${names[0]}" --network host -e ASTRO_GRPC_ADDR="$grpc" \
  "localhost/astro-service:$tag" >/dev/null 2>&1
podman run -d --platform "$platform" --name "${names[1]}" --network host -e ASTRO_SERVICE_URL="http://$grpc" \
  -e ASTRO_HTTP_ADDR="$http" "localhost/astro-gateway:$tag" >/dev/null 2>&1
for name in "${names[@]}"; do
  for attempt in $(seq 1 120); do
    podman healthcheck run "$name" >/dev/null 2>&1 && { echo "$name ($platform): healthy"; break; }
    [ "$attempt" = 120 ] && { echo "$name did not become healthy" >&2; podman logs "$name" >&2; exit 1; }
    sleep 0.5
  done
done
