#!/usr/bin/env bash
# check_layers.sh must fail on an upward include and pass on a downward one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/include/weft/http" "$tree/src/core" "$tree/src/http"
echo '#include <weft/loop.hpp>' > "$tree/include/weft/http/server.hpp"
echo '#include "core/loop_core.hpp"' > "$tree/src/http/server.cpp"
"$here/check_layers.sh" "$tree" >/dev/null || { echo "FAIL: a clean tree was refused"; exit 1; }
echo '#include <weft/http/server.hpp>' > "$tree/src/core/loop.cpp"
if out=$("$here/check_layers.sh" "$tree"); then
  echo "FAIL: core including http was not caught"; exit 1
fi
grep -q "src/core/loop.cpp (core) includes weft/http/server.hpp (http)" <<<"$out" ||
  { echo "FAIL: unexpected report: $out"; exit 1; }
echo "ok: the checker catches an upward include"
