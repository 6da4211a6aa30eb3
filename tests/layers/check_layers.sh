#!/usr/bin/env bash
# Fails when a layer includes a higher one. Usage: check_layers.sh <source root>
# Layers (docs/STYLE.md): core < net < tls < http < observe; core < fs < http; core < net < db;
# http < http_client, ws (include/weft/http/client.hpp counts as http: it names no client internals).
# A file's layer: include/weft/<layer>/..., src/<layer>/..., and include/weft/*.hpp is core
# (fs.hpp: fs; weft.hpp, the umbrella of every layer: all). An include's layer: <weft/<layer>/...>, <weft/x.hpp>, or "<layer>/..." (src).
set -euo pipefail
root=${1:?usage: check_layers.sh <source root>}
declare -A allowed=(
  [core]="core" [net]="core net" [tls]="core net tls" [fs]="core fs"
  [http]="core net tls fs http" [db]="core net db" [observe]="core net tls fs http observe"
  [http_client]="core net tls fs http http_client" [ws]="core net tls fs http ws"
  [all]="core net tls fs http http_client ws db observe")

layer_of_file() {  # path relative to root
  case "$1" in
    include/weft/fs.hpp) echo fs ;;
    include/weft/weft.hpp) echo all ;;
    include/weft/*/*) local r=${1#include/weft/}; echo "${r%%/*}" ;;
    include/weft/*) echo core ;;
    src/*/*) local r=${1#src/}; echo "${r%%/*}" ;;
  esac
}

layer_of_include() {  # the text between <> or ""
  case "$1" in
    weft/fs.hpp) echo fs ;;
    weft/*/*) local r=${1#weft/}; echo "${r%%/*}" ;;
    weft/*) echo core ;;
    core/*|net/*|tls/*|fs/*|http/*|http_client/*|ws/*|db/*|observe/*) echo "${1%%/*}" ;;
  esac
}

bad=0
while IFS= read -r file; do
  rel=${file#"$root"/}
  from=$(layer_of_file "$rel")
  [ -n "$from" ] || continue
  while IFS= read -r inc; do
    to=$(layer_of_include "$inc")
    [ -n "$to" ] || continue
    if [[ " ${allowed[$from]:-} " != *" $to "* ]]; then
      echo "layer violation: $rel ($from) includes $inc ($to)"
      bad=1
    fi
  done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/p' "$file")
done < <(find "$root/include/weft" "$root/src" -name '*.hpp' -o -name '*.cpp' -o -name '*.h')
if [ "$bad" -ne 0 ]; then exit 1; fi
echo "layers: every include points downward"
