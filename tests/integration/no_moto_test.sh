#!/usr/bin/env bash
# Without moto_server: scripts/install-moto, unable to reach PyPI (run in a
# network namespace with no way out), says exactly what to do and leaves no
# half-made venv; and the AWS integration tests fail loudly with the same
# hint, never skip. Exit 77 (skipped) where no namespace can be made.
set -euo pipefail
src=${CHATOPS_SOURCE_ROOT:?} build=${CHATOPS_BUILD_ROOT:?}
tmp=$(mktemp -d -t chatops-no-moto.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
bare=/usr/local/bin:/usr/bin:/bin   # the system's, without pyenv shims or our venv
fail() { echo "FAIL: $*" >&2; exit 1; }

if PATH=$bare command -v moto_server >/dev/null; then
  echo "moto_server is installed system-wide; nothing to test here" >&2
  exit 77
fi

# 1. the AWS tests, with moto absent from PATH: a loud failure with the hint
if out=$(PATH=$bare CHATOPS_MOTO_VENV="$tmp/none" "$build/tests/integration/it_aws" 2>&1); then
  fail "it_aws passed without moto_server"
fi
grep -q "moto_server is not on PATH" <<<"$out" || fail "no 'not on PATH' message: $out"
grep -q "scripts/install-moto" <<<"$out" || fail "no install hint: $out"

# 2. install-moto without a network: exit 1, what to do, nothing left behind
if ! unshare -n true 2>/dev/null; then
  echo "cannot make a network namespace here (unshare -n); install-moto not tried" >&2
  exit 77
fi
if out=$(PATH=$bare CHATOPS_MOTO_VENV="$tmp/venv" TMPDIR="$tmp" \
         unshare -n "$src/scripts/install-moto" 2>&1); then
  fail "install-moto succeeded with no network: $out"
fi
grep -q "could not install moto" <<<"$out" || fail "no 'could not install' message: $out"
grep -q "pip install 'moto\[server\]==" <<<"$out" || fail "no pip command: $out"
[ ! -e "$tmp/venv" ] || fail "a half-made venv was left at $tmp/venv"
echo "ok: install-moto and the AWS tests say what to do without moto"
