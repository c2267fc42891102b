#!/usr/bin/env bash
# `make images ARCH=arm64` on an x86 machine: the service and the gateway
# cross-compiled for Graviton (cargo-zigbuild, glibc 2.34 symbols at most)
# into target/images/arm64/out — bin/ and root/ as the Containerfile's
# `build` stage lays them out: the binaries, the C libraries they link
# (from Debian's arm64 cross glibc, libc6-arm64-cross), the CA roots and
# user 65532. Then both binaries are started from that tree under qemu-user
# and must answer their health checks, before any image is made of them.
set -euo pipefail
cd "$(dirname "$0")/../.."
triple=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu
out=target/images/arm64/out

# No debug lines and no symbols in the images, as in the `build` stage.
PATH="$PWD/.tools/venv/bin:$PATH" CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols \
  cargo zigbuild --release --locked -p astro-service -p astro-gateway --target "$triple.2.34"

rm -rf "$out"
mkdir -p "$out/bin" "$out/root/lib/aarch64-linux-gnu" "$out/root/etc/ssl/certs" "$out/data"
cp "target/$triple/release/astro-service" "target/$triple/release/astro-gateway" "$out/bin/"
cp -L "$sysroot/lib/ld-linux-aarch64.so.1" "$out/root/lib/"
for lib in $(readelf -d "$out"/bin/* | grep -o 'NEEDED.*\[.*\]' | grep -o '\[.*\]' | tr -d '[]' | sort -u); do
  [ "$lib" = ld-linux-aarch64.so.1 ] || cp -L "$sysroot/lib/$lib" "$out/root/lib/aarch64-linux-gnu/"
done
cp /etc/ssl/certs/ca-certificates.crt "$out/root/etc/ssl/certs/"
echo 'astro:x:65532:65532:astro:/nonexistent:/sbin/nologin' >"$out/root/etc/passwd"
echo 'astro:x:65532:' >"$out/root/etc/group"
file "$out"/bin/* | cut -d, -f1,2

# Both binaries, from the image's tree, under qemu-user: the service on the
# embedded store, the gateway in front of it; each `health` command must pass.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
data=$(mktemp -d)
grpc=127.0.0.1:$(free_port)
http=127.0.0.1:$(free_port)
run() { qemu-aarch64 -L "$out/root" "$out/bin/$1" "${@:2}"; }
export ASTRO_DATA_DIR=$data ASTRO_GRPC_ADDR=$grpc ASTRO_HTTP_ADDR=$http ASTRO_LOG_FORMAT=text
run astro-service >"$data/service.log" 2>&1 &
service=$!
ASTRO_SERVICE_URL=http://$grpc run astro-gateway >"$data/gateway.log" 2>&1 &
gateway=$!
trap 'kill $service $gateway 2>/dev/null || true; rm -rf "$data"' EXIT
healthy() {
  for _ in $(seq 1 120); do
    run "$1" health >/dev/null 2>&1 && { echo "arm64 $1 (qemu-user): healthy"; return 0; }
    sleep 0.5
  done
  echo "arm64 $1 did not answer its health check under qemu-user:" >&2
  cat "$data"/*.log >&2
  return 1
}
healthy astro-service
healthy astro-gateway
