#!/usr/bin/env bash
# Seed 002's CI/CD seeding pipeline: backup → migrate → seed → verify, against DATABASE_URL and the S3
# settings of the environment (docs/operations.md). Each step is a `deno task` of this repository.
#
# Exit codes, for the pipeline to branch on:
#   0   done
#   2   configuration or usage error (a bad variable, named on stderr); nothing was changed
#   10  backup failed: nothing was changed (a fresh database, with nothing to back up, skips this step)
#   11  migrate failed: restore the step-1 backup if the database is left unusable
#   12  seed failed: the seeding transaction rolled back; the database is migrated but not seeded
#   13  verify failed: seeded, but the checklist found a problem (printed above)
set -uo pipefail
cd "$(dirname "$0")/.."

run() {
  local code=$1 name=$2
  shift 2
  echo "== $name: $*"
  "$@"
  local rc=$?
  [ "$rc" -eq 0 ] && return 0
  if [ "$rc" -eq 2 ]; then
    echo "!! $name: configuration or usage error (exit 2)" >&2
    exit 2
  fi
  echo "!! $name failed (exit $code)" >&2
  exit "$code"
}

current=$(deno task --quiet migrate current 2>&1)
rc=$?
if [ "$rc" -eq 2 ]; then
  echo "$current" >&2
  echo "!! configuration or usage error (exit 2)" >&2
  exit 2
fi
if echo "$current" | grep -q '^base'; then
  echo "== backup: skipped (a fresh database: nothing to back up)"
else
  run 10 backup deno task --quiet backup create
fi
run 11 migrate deno task --quiet migrate
run 12 seed deno task --quiet seed --no-backup
run 13 verify deno task --quiet verify
echo "== pipeline done"
