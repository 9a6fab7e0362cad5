#!/usr/bin/env bash
# Makes sure python3 can import huggingface_hub, which test/hub-python-compat.test.ts needs to check that
# our HF cache is shared with Python's. Installs it with pip (this machine's local index when present)
# when the import fails. Always exits 0 and says what happened: the test itself fails, with a pointer
# here, when Python or the package is still missing.
set -uo pipefail
# The tests may run Python with another HOME, where the user site (~/.local) is not seen: count and
# install only packages of the interpreter's own site.
export PYTHONNOUSERSITE=1

say() { echo "ensure-python-hub: $*"; }
version() { python3 -c 'import sys, filelock, huggingface_hub as h; print(f"Python {sys.version.split()[0]}, huggingface_hub {h.__version__}")' 2>/dev/null; }

if ! command -v python3 >/dev/null 2>&1; then
  say "python3 is not on PATH; nothing installed (the Python compatibility tests will fail; set OVIS_SKIP_PYTHON_TESTS=1 to skip them)"
  exit 0
fi

if v=$(version); then
  say "already installed: $v"
  exit 0
fi

args=()
[ -d /opt/pypi/simple ] && args+=(--index-url file:///opt/pypi/simple)
[ -d /opt/pypi-more/simple ] && args+=(--extra-index-url file:///opt/pypi-more/simple)
say "huggingface_hub is missing; running: python3 -m pip install ${args[*]:-} huggingface-hub filelock"
if ! python3 -m pip install --quiet --disable-pip-version-check "${args[@]}" huggingface-hub filelock; then
  say "pip install failed (see above); the Python compatibility tests will fail"
  exit 0
fi

if v=$(version); then
  say "installed: $v"
else
  say "pip finished but 'import huggingface_hub' still fails; the Python compatibility tests will fail"
fi
exit 0
