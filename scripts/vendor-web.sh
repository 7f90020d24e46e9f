#!/usr/bin/env bash
# Refreshes the browser libraries kassa serves from its own origin, from the npm registry.
#
# kassa/static/vendor/versions.json names each package, its pinned version and the files the
# pages use; this script replaces kassa/static/vendor/<package>-<version>/ with exactly those
# files plus the package's licence. Change a version there, run this, look at the pages, commit.
# Needs `npm` (only here: installing or running kassa never does).
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=kassa/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One line per package: name, version, then its files.
node -e '
  const pins = require(process.argv[1]);
  for (const [name, pin] of Object.entries(pins)) console.log(name, pin.version, ...pin.files);
' "$PWD/$vendor/versions.json" >"$work/pins"

find "$vendor" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +

while read -r name version files; do
  # `npm pack` checks the tarball against the registry's integrity hash.
  tarball=$(npm pack --silent --pack-destination "$work" "$name@$version")
  unpacked="$work/$name-$version"
  mkdir -p "$unpacked"
  tar -xzf "$work/$tarball" -C "$unpacked" --strip-components=1
  target="$vendor/${name//\//-}-$version"
  target="${target/@/}"
  mkdir -p "$target"
  for file in $files; do
    cp "$unpacked/$file" "$target/"
  done
  licence=$(find "$unpacked" -maxdepth 1 -iname 'licen[cs]e*' | head -n 1)
  if [ -z "$licence" ]; then
    echo "$name@$version ships no licence file: vendor it only with its licence" >&2
    exit 1
  fi
  cp "$licence" "$target/"
  echo "$target: $files $(basename "$licence")"
done <"$work/pins"
