#!/usr/bin/env bash
# The layer check: a file may include only its own layer and the layers before it in
#   core < tensor < backend < autograd < ops < nn < optim < data < keras < io < dist
# (include/nerve/<layer>/ and src/<layer>/; src/backend/ holds the kernels), and nothing above ops reaches the
# kernels directly (nn, optim, data, keras, io, dist go through ops). An include that goes upward or across fails the check, unless tools/layers_allowlist.txt lists it: the known debts, each to be removed (the
# allowlist may only shrink; an entry that no longer occurs fails the check too, so it gets deleted).
# Usage: tools/check_layers.sh [ROOT]     (exit 1 on a violation; make test runs it through ctest)
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
order=(core tensor backend autograd ops nn optim data keras io dist)
rank() { local i; for i in "${!order[@]}"; do [[ ${order[$i]} == "$1" ]] && { echo "$i"; return; }; done; echo -1; }
allow="$root/tools/layers_allowlist.txt"
found=$(mktemp)
trap 'rm -f "$found"' EXIT
cd "$root" || exit 2
for f in $(find include/nerve src -name '*.h' -o -name '*.cpp' -o -name '*.def' | sort); do
  layer=$(echo "$f" | sed -E 's#^(include/nerve|src)/([a-z_]+)/.*#\2#')
  [[ $layer == "$f" ]] && continue  # include/nerve/nerve.h: the umbrella header includes everything
  lr=$(rank "$layer")
  [[ $lr -lt 0 ]] && continue
  grep -oE '^#include "(nerve/)?[a-z_]+/' "$f" | sed -E 's#^\#include "(nerve/)?##; s#/$##' | sort -u |
    while read -r dep; do
      dr=$(rank "$dep")
      if [[ $dr -lt 0 ]]; then continue; fi
      if [[ $dr -le $lr ]] && ! [[ $dep == backend && $lr -gt $(rank ops) ]]; then continue; fi
      echo "$f -> $dep" >> "$found"
    done
done
status=0
while read -r v; do
  if ! grep -qxF "$v" "$allow" 2>/dev/null; then
    echo "layer check: $v (an include upward, or past the ops layer into the kernels; see tools/check_layers.sh)"
    status=1
  fi
done < <(sort -u "$found")
if [[ -f $allow ]]; then
  while read -r a; do
    [[ -z $a || $a == \#* ]] && continue
    if ! grep -qxF "$a" "$found"; then
      echo "layer check: '$a' is in tools/layers_allowlist.txt but no longer occurs: delete the line"
      status=1
    fi
  done < "$allow"
fi
n=$(sort -u "$found" | wc -l)
[[ $status == 0 ]] && echo "layer check: ok ($n known upward includes, all in tools/layers_allowlist.txt)"
exit $status
