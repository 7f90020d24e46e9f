#!/usr/bin/env bash
# Refreshes the font kassa's invoice PDFs embed (kassa/fonts/), from the npm registry.
#
# Noto Sans SC (SIL Open Font License 1.1) is 10 MB a weight; kassa keeps a subset: Latin,
# punctuation, currency signs, CJK punctuation, full-width forms and the 6,763 hanzi of
# GB 2312 (every character of everyday Simplified Chinese) in the regular weight, and Latin
# only in the bold one (kassa's own headings). PDFs embed only the glyphs they use.
# Needs `npm` and fontTools (a dependency of fpdf2); installing or running kassa never does.
set -euo pipefail
cd "$(dirname "$0")/.."
package="@expo-google-fonts/noto-sans-sc"
version="0.4.3"
target=kassa/fonts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# `npm pack` checks the tarball against the registry's integrity hash.
tarball=$(npm pack --silent --pack-destination "$work" "$package@$version")
tar -xzf "$work/$tarball" -C "$work"
python3 - "$work/gb2312.txt" <<'PY'
import sys

rows = range(0xA1, 0xF8)  # symbols (A1-A9) and both levels of hanzi (B0-F7)
chars = set()
for high in rows:
    for low in range(0xA1, 0xFF):
        try:
            chars.add(bytes([high, low]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
open(sys.argv[1], "w", encoding="utf-8").write("".join(sorted(chars)))
PY
latin="U+0020-007E,U+00A0-017F,U+2000-206F,U+20A0-20CF,U+2100-214F"
subset() {
  pyftsubset "$1" --no-hinting --desubroutinize --output-file="$2" "${@:3}"
}
subset "$work/package/400Regular/NotoSansSC_400Regular.ttf" "$target/NotoSansSC-Regular-subset.ttf" \
  --text-file="$work/gb2312.txt" --unicodes="$latin,U+3000-303F,U+FF00-FFEF"
subset "$work/package/700Bold/NotoSansSC_700Bold.ttf" "$target/NotoSansSC-Bold-latin.ttf" \
  --unicodes="$latin"
cp "$work/package/LICENSE_FONT" "$target/OFL.txt"
ls -l "$target"
