#!/usr/bin/env bash
# Installs brenier into a scratch root, then builds and runs examples/custom_layer against the
# installed library through pkg-config, exactly as a user's own project would.
#   check_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

meson install -C "$build" --destdir "$tmp/root" --quiet >/dev/null
pc=$(find "$tmp/root" -name brenier.pc | head -n 1)
[ -n "$pc" ] || { echo "brenier.pc was not installed"; exit 1; }
[ -n "$(find "$tmp/root" -name libbrenier.a)" ] || { echo "libbrenier.a was not installed"; exit 1; }
[ -z "$(find "$tmp/root" -path '*include/brenier*' -name '*.cpp')" ] || { echo "sources leaked into include/"; exit 1; }

# Point the installed .pc at the scratch root (its dependencies' .pc files stay the system's).
prefix=$(sed -n 's/^prefix=//p' "$pc")
sed -i "s|^prefix=.*|prefix=$tmp/root$prefix|" "$pc"
export PKG_CONFIG_PATH=$(dirname "$pc")
meson setup "$tmp/example" "$src/examples/custom_layer" >"$tmp/setup.log" || { cat "$tmp/setup.log"; exit 1; }
ninja -C "$tmp/example" >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/example/custom_layer"
