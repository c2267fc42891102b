#!/usr/bin/env bash
# Makes the Debian base image locally when no image registry is reachable:
# debootstrap from the machine's own Debian mirror, then import the tree.
# Where a registry is reachable, skip this and pass the official images to
# `make images` (IMAGE_BUILDER=rust:1.95-slim-bookworm).
set -euo pipefail
image="${1:-localhost/debian:bookworm-slim}"
if podman image exists "$image"; then
  echo "$image: present"
  exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
[ -n "$mirror" ] || mirror="$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import - "$image" >/dev/null
echo "$image: made from $mirror"
