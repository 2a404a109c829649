#!/usr/bin/env bash
# Regenerate the committed example reports (reports/examples/) after a format change:
# the Phase 0 report of the reference gateway (green) and of the legacy one (failing).
# Only the report and the audit are kept; raw logs stay in reports/out/.
set -uo pipefail
cd "$(dirname "$0")/.."
gateproof=${GATEPROOF:-.venv/bin/gateproof}
for target in reference legacy; do
  out=reports/out/report/phase0-$target
  "$gateproof" report --phase 0 --target "$target" --out "$out"
  status=$?
  if [ "$status" -gt 1 ]; then echo "regenerate-examples: $target failed (exit $status)" >&2; exit "$status"; fi
  example=reports/examples/phase0-$target
  rm -rf "$example" && mkdir -p "$example/audit"
  cp "$out"/report.json "$out"/REPORT.md "$out"/index.html "$out"/gate.junit.xml "$example"/
  cp "$out"/audit/EXISTING_CODE_AUDIT.md "$out"/audit/audit.html "$example"/audit/  # audit.json: 1 MB, left out
done
# The examples travel with the repository: paths of the machine that made them (the checkout,
# the interpreter's own prefix) are written as placeholders.
base=$("${gateproof%/gateproof}/python" -c 'import sys; print(sys.base_prefix)')
find reports/examples -type f \( -name '*.md' -o -name '*.html' -o -name '*.json' -o -name '*.xml' \) \
  -exec sed -i -e "s#$PWD/##g" -e "s#$base#<python-prefix>#g" {} +
