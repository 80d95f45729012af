#!/usr/bin/env bash
# Installs everything `make demo` and `make test` need, from the package
# registries only: uv (from PyPI, if missing), the uv workspace (.venv), Meltano
# (.tools/meltano) and the Meltano plugins (.meltano/). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

MELTANO_VERSION="4.4.1"
PYTHON="${PYTHON:-python3}"

if command -v uv >/dev/null 2>&1; then
  UV="$(command -v uv)"
else
  if [ ! -x .tools/uv/bin/uv ]; then
    echo "==> installing uv from PyPI into .tools/uv"
    "$PYTHON" -m venv .tools/uv
    .tools/uv/bin/pip install --quiet --disable-pip-version-check uv
  fi
  UV="$PWD/.tools/uv/bin/uv"
fi

echo "==> workspace (.venv)"
"$UV" sync --frozen --quiet

# With the extras a production system database and state backend need: PostgreSQL
# (MELTANO_DATABASE_URI=postgresql+psycopg://...) and S3 (state_backend.uri=s3://...).
MELTANO_SPEC="meltano[postgres,s3]==$MELTANO_VERSION"
if [ "$(cat .tools/meltano/installed 2>/dev/null || true)" != "$MELTANO_SPEC" ] ||
   [ "$(.tools/meltano/bin/meltano --version 2>/dev/null || true)" != "meltano, version $MELTANO_VERSION" ]; then
  echo "==> Meltano $MELTANO_VERSION with PostgreSQL and S3 support (.tools/meltano)"
  "$UV" venv --quiet --allow-existing --python "$PYTHON" .tools/meltano
  "$UV" pip install --quiet --python .tools/meltano/bin/python "$MELTANO_SPEC"
  echo "$MELTANO_SPEC" > .tools/meltano/installed
fi

# target-duckdb writes output/warehouse.duckdb and does not create the folder.
mkdir -p output

echo "==> Meltano plugins"
PATH="$(dirname "$UV"):$PATH" .tools/meltano/bin/meltano --log-level=warning install >/dev/null
# The taps were just installed from this checkout: a catalog Meltano cached from an
# earlier install may lack a stream or property they now have, so the next run
# discovers again.
rm -f .meltano/run/tap-*/tap.properties.cache_key

# Bytecode for every installed module and our own sources, once. uv installs without
# it, and where PYTHONDONTWRITEBYTECODE=1 is set (common in containers and CI) Python
# would compile every module again on each start: about 1.5 s of every `meltano`
# command and 0.4 s of every tap and loader process. Already compiled files are
# skipped, so this is quick on a second run. A package may ship a file that does not
# compile (a template, a test for another Python); that is not our failure.
echo "==> bytecode"
for python in .venv/bin/python .tools/meltano/bin/python .meltano/*/*/venv/bin/python; do
  [ -x "$python" ] || continue
  "$python" -m compileall -q -j 0 "$(dirname "$(dirname "$python")")/lib" >/dev/null 2>&1 || true
done
.venv/bin/python -m compileall -q -j 0 tapkit tap-painchek tap-humanapi tap-healthex sandbox inbox scripts >/dev/null
echo "==> ready"
