#!/usr/bin/env bash
# Re-create static/vendor/ -- the JavaScript/CSS/fonts/images that folium
# 0.20.0 and streamlit-folium 0.27.4 would otherwise load from public CDNs --
# from the npm registry, so that maps work without internet access.
#
# Usage:  scripts/vendor_assets.sh            (from anywhere inside the repo)
#
# Requirements: bash, npm (registry access), tar, python3 with folium installed
# (folium's patched leaflet_heat.min.js is copied from the installed package).
#
# Idempotent and deterministic: everything is built in a temporary staging
# directory that replaces static/vendor/ at the end (static/vendor/README.md is
# kept), and static/vendor/SHA256SUMS is regenerated, so a re-run produces no
# git diff. The URL -> file mapping that uses these files is maps/offline.py;
# keep both in sync.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$REPO_ROOT/static/vendor"
PYTHON="${PYTHON:-python3}"

# name@version pinned to exactly what folium 0.20.0 references on its CDNs.
LEAFLET=leaflet@1.9.3
JQUERY=jquery@3.7.1
BOOTSTRAP5=bootstrap@5.2.2
# cdnjs "Leaflet.awesome-markers/2.0.2" == upstream lvoogdt tag v2.0.2. On npm
# that exact release is only published as drmonty-leaflet-awesome-markers
# (the "leaflet.awesome-markers" package starts at 2.0.4, a fork with other
# sprites). Its tarball has no LICENSE file, so the identical upstream MIT
# LICENSE is taken from leaflet.awesome-markers@2.0.4.
AWESOME=drmonty-leaflet-awesome-markers@2.0.2
AWESOME_LICENSE=leaflet.awesome-markers@2.0.4
# folium references the long-gone bootstrap 3.0.0 "bootstrap-glyphicons.css";
# it is regenerated from bootstrap 3.4.1 (latest 3.x; 3.0.0 is not on npm).
BOOTSTRAP3=bootstrap@3.4.1
FONTAWESOME=@fortawesome/fontawesome-free@6.2.0
MARKERCLUSTER=leaflet.markercluster@1.1.0
# Only for its LICENSE: the JS is folium's patched build (weights fix).
LEAFLET_HEAT=leaflet.heat@0.2.0

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/vendor"
mkdir -p "$STAGE"

# fetch NAME@VERSION DIR: npm pack (verifies the registry's integrity hash)
# and unpack into $WORK/DIR.
fetch() {
    local spec="$1" dir="$WORK/$2" tgz
    mkdir -p "$dir"
    tgz="$(cd "$dir" && npm pack "$spec" --silent | tail -n 1)"
    tar -xzf "$dir/$tgz" -C "$dir"
    echo "fetched $spec" >&2
}

# put SRC DST: copy one file into the staging tree, creating directories.
put() {
    mkdir -p "$(dirname "$STAGE/$2")"
    cp "$1" "$STAGE/$2"
}

fetch "$LEAFLET" leaflet
P="$WORK/leaflet/package"
put "$P/dist/leaflet.js" leaflet/leaflet.js
put "$P/dist/leaflet.css" leaflet/leaflet.css
for img in layers.png layers-2x.png marker-icon.png marker-icon-2x.png marker-shadow.png; do
    put "$P/dist/images/$img" "leaflet/images/$img"
done
put "$P/LICENSE" leaflet/LICENSE

fetch "$JQUERY" jquery
P="$WORK/jquery/package"
put "$P/dist/jquery.min.js" jquery/jquery.min.js
put "$P/LICENSE.txt" jquery/LICENSE.txt

fetch "$BOOTSTRAP5" bootstrap5
P="$WORK/bootstrap5/package"
put "$P/dist/js/bootstrap.bundle.min.js" bootstrap/js/bootstrap.bundle.min.js
put "$P/dist/css/bootstrap.min.css" bootstrap/css/bootstrap.min.css
put "$P/LICENSE" bootstrap/LICENSE

fetch "$AWESOME" awesome
fetch "$AWESOME_LICENSE" awesome_license
P="$WORK/awesome/package"
put "$P/js/leaflet.awesome-markers.js" awesome-markers/leaflet.awesome-markers.js
put "$P/css/leaflet.awesome-markers.css" awesome-markers/leaflet.awesome-markers.css
for img in markers-soft.png markers-soft@2x.png markers-shadow.png markers-shadow@2x.png; do
    put "$P/css/images/$img" "awesome-markers/images/$img"
done
put "$WORK/awesome_license/package/LICENSE" awesome-markers/LICENSE

fetch "$BOOTSTRAP3" bootstrap3
P="$WORK/bootstrap3/package"
put "$P/dist/fonts/glyphicons-halflings-regular.woff2" glyphicons/fonts/glyphicons-halflings-regular.woff2
put "$P/LICENSE" glyphicons/LICENSE
mkdir -p "$STAGE/glyphicons/css"
# Cut the glyphicon rules (from the @font-face to the last .glyphicon-*) out of
# bootstrap.css; keep only the woff2 font source (all current browsers).
"$PYTHON" - "$P/dist/css/bootstrap.css" "$STAGE/glyphicons/css/bootstrap-glyphicons.css" <<'PY'
import re
import sys

src, dst = sys.argv[1:]
css = open(src, encoding="utf-8").read()
start = css.index("@font-face")
end = css.index("\n* {", start)
body = css[start:end].rstrip() + "\n"
body, n = re.subn(
    r"@font-face \{.*?\}",
    '@font-face {\n  font-family: "Glyphicons Halflings";\n'
    '  src: url("../fonts/glyphicons-halflings-regular.woff2") format("woff2");\n}',
    body,
    count=1,
    flags=re.S,
)
assert n == 1 and ".glyphicon-menu-up:before" in body, "bootstrap.css layout changed"
header = (
    "/*!\n"
    " * Glyphicons Halflings rules of Bootstrap v3.4.1 (https://getbootstrap.com/)\n"
    " * Copyright 2011-2019 Twitter, Inc.\n"
    " * Licensed under MIT (https://github.com/twbs/bootstrap/blob/master/LICENSE)\n"
    " * Extracted from dist/css/bootstrap.css by scripts/vendor_assets.sh as a\n"
    " * local replacement of bootstrap/3.0.0/css/bootstrap-glyphicons.css;\n"
    " * font sources reduced to woff2.\n"
    " */\n"
)
with open(dst, "w", encoding="utf-8", newline="\n") as fh:
    fh.write(header + body)
PY

fetch "$FONTAWESOME" fontawesome
P="$WORK/fontawesome/package"
for font in fa-brands-400 fa-regular-400 fa-solid-900 fa-v4compatibility; do
    put "$P/webfonts/$font.woff2" "fontawesome/webfonts/$font.woff2"
done
put "$P/LICENSE.txt" fontawesome/LICENSE.txt
mkdir -p "$STAGE/fontawesome/css"
# Drop the .ttf fallbacks (not vendored; every current browser uses woff2).
"$PYTHON" - "$P/css/all.min.css" "$STAGE/fontawesome/css/all.min.css" <<'PY'
import re
import sys

src, dst = sys.argv[1:]
css = open(src, encoding="utf-8").read()
css, n = re.subn(r',url\(\.\./webfonts/[\w-]+\.ttf\) format\("truetype"\)', "", css)
assert n > 0 and ".ttf" not in css, "all.min.css layout changed"
with open(dst, "w", encoding="utf-8", newline="") as fh:
    fh.write(css)
PY

fetch "$MARKERCLUSTER" markercluster
P="$WORK/markercluster/package"
put "$P/dist/leaflet.markercluster.js" markercluster/leaflet.markercluster.js
put "$P/dist/MarkerCluster.css" markercluster/MarkerCluster.css
put "$P/dist/MarkerCluster.Default.css" markercluster/MarkerCluster.Default.css
put "$P/MIT-LICENCE.txt" markercluster/MIT-LICENCE.txt

fetch "$LEAFLET_HEAT" leaflet_heat
put "$WORK/leaflet_heat/package/LICENSE" leaflet-heat/LICENSE

# folium's own assets: the patched leaflet.heat build ships in the installed
# folium package; leaflet.awesome.rotate.min.css does not, and is regenerated
# (one .fa-rotate-N class per degree, as in folium's file).
FOLIUM_DIR="$("$PYTHON" -c 'import pathlib, folium; print(pathlib.Path(folium.__file__).parent)')"
FOLIUM_VERSION="$("$PYTHON" -c 'import folium; print(folium.__version__)')"
put "$FOLIUM_DIR/templates/leaflet_heat.min.js" leaflet-heat/leaflet_heat.min.js
FOLIUM_LICENSE="$(find "$FOLIUM_DIR/../folium-$FOLIUM_VERSION.dist-info" -iname 'LICENSE*' -type f | head -n 1)"
put "$FOLIUM_LICENSE" folium/LICENSE.txt
"$PYTHON" - "$STAGE/folium/leaflet.awesome.rotate.min.css" <<'PY'
import sys

rules = "".join(
    f".fa-rotate-{d}{{-ms-transform:rotate({d}deg);-webkit-transform:rotate({d}deg);"
    f"transform:rotate({d}deg)}}"
    for d in range(360)
)
with open(sys.argv[1], "w", encoding="utf-8", newline="\n") as fh:
    fh.write("/* folium leaflet.awesome.rotate.min.css equivalent, generated by "
             "scripts/vendor_assets.sh */\n" + rules + "\n")
PY

# Keep the hand-written README, write checksums, swap in atomically-ish.
if [[ -f "$DEST/README.md" ]]; then
    cp "$DEST/README.md" "$STAGE/README.md"
fi
(cd "$STAGE" && find . -type f ! -name SHA256SUMS ! -name README.md | LC_ALL=C sort \
    | sed 's|^\./||' | xargs sha256sum > SHA256SUMS)
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.old"
if [[ -d "$DEST" ]]; then mv "$DEST" "$DEST.old"; fi
mv "$STAGE" "$DEST"
rm -rf "$DEST.old"
echo "static/vendor: $(du -sh "$DEST" | cut -f1) in $(find "$DEST" -type f | wc -l) files" >&2
