#!/bin/bash
# Local stand-in for a Binder (repo2docker) build of binder/: nothing here runs repo2docker.
#
#   bash .ci/check_binder.sh            (make test runs it last)
#
# 1. binder/ is well-formed: runtime.txt, apt.txt, an executable postBuild, and every pin in
#    requirements.txt (torch==2.13.0 included) equal to the one in .ci/lock.txt.
# 2. A fresh venv at $BINDER_VENV installs binder/requirements.txt from the repo root, as
#    repo2docker does. Lines starting with "--" (PyTorch's CPU index) are dropped: that index is
#    not reachable here, and torch==2.13.0 resolves to the local CPU wheel. The lock is passed as
#    constraints for safety. pip's cache is reused, so this is mostly unpacking.
# 3. binder/postBuild runs with that venv first on PATH.
# 4. The notebooks run under nbval (--nbval-lax) with that venv's python.
#
# Env: BINDER_VENV (default /tmp/neuraltide-binder-venv), KEEP_BINDER_VENV=1 keeps it afterwards.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
VENV=${BINDER_VENV:-/tmp/neuraltide-binder-venv}
PYTHON=${PYTHON:-python3}
LOCK=$REPO/.ci/lock.txt
REQ=$REPO/binder/requirements.txt

fail() { echo "check_binder: FAIL: $*" >&2; exit 1; }
now() { date +%s%N; }
step_t0=$(now)
step() {  # print the time of the step that just ended, announce the next
    local t=$(now) dt
    dt=$(( (t - step_t0) / 100000000 ))
    [ -n "${step_name:-}" ] && echo "--- binder: ${step_name}: $((dt / 10)).$((dt % 10)) s"
    step_name=$1; step_t0=$t
    [ -n "$step_name" ] && echo "--- binder: ${step_name}"
    return 0
}

# --- 1. static checks -------------------------------------------------------------------------
step "static checks"
for f in requirements.txt runtime.txt apt.txt postBuild; do
    [ -f "binder/$f" ] || fail "binder/$f is missing"
done
if [ -e binder/environment.yml ]; then fail "binder/environment.yml would override binder/requirements.txt"; fi
[ -x binder/postBuild ] || fail "binder/postBuild is not executable (git update-index --chmod=+x)"
head -n1 binder/postBuild | grep -q '^#!/bin/bash' || fail "binder/postBuild must start with #!/bin/bash"

runtime=$(tr -d '[:space:]' < binder/runtime.txt)
[[ $runtime =~ ^python-3\.[0-9]+$ ]] || fail "binder/runtime.txt should read python-3.X, not '$runtime'"
local_py=$("$PYTHON" -c 'import sys; print(f"python-{sys.version_info[0]}.{sys.version_info[1]}")')
if [ "$runtime" != "$local_py" ]; then
    echo "check_binder: warning: Binder uses $runtime, this check runs $local_py"
fi
echo "apt.txt (installed by Binder on Ubuntu; not checked here): $(grep -v '^\s*#' binder/apt.txt | xargs)"

"$PYTHON" - "$REQ" "$LOCK" <<'PY'
import re
import sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def pins(path):
    out = {}
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", line)
        if m:
            out[norm(m[1])] = m[2]
    return out

req_path, lock_path = sys.argv[1:]
lock = pins(lock_path)
errors = []
for raw in open(req_path):
    line = raw.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        continue
    m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", line)
    if not m:
        errors.append(f"not pinned with ==: {line!r}")
        continue
    name, version = norm(m[1]), m[2]
    if name not in lock:
        errors.append(f"{m[1]} is not in the lock")
    elif lock[name].split("+")[0] != version.split("+")[0]:
        errors.append(f"{m[1]}=={version} but the lock has {lock[name]}")
text = open(req_path).read()
if not re.search(r"^torch==2\.13\.0\s*$", text, re.M):
    errors.append("torch==2.13.0 must be pinned exactly")
if not re.search(r"^--extra-index-url\s+\S+/whl/cpu\s*$", text, re.M):
    errors.append("PyTorch's CPU index (--extra-index-url .../whl/cpu) is missing")
if not re.search(r"^-e\s+\.\s*$", text, re.M):
    errors.append("'-e .' is missing: with binder/ present, Binder does not install the package")
for e in errors:
    print(f"binder/requirements.txt: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
echo "binder/requirements.txt agrees with .ci/lock.txt"

# --- 2. fresh venv, install as repo2docker does ------------------------------------------------
step "fresh venv + pip install -r binder/requirements.txt"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
filtered=$(mktemp /tmp/binder-req.XXXXXX)
trap 'rm -f "$filtered"' EXIT
grep -v '^\s*--' "$REQ" > "$filtered"
# pip's config here prints "Location ... is ignored" for each index: dropped, status kept.
"$VENV/bin/python" -m pip install -q -c "$LOCK" -r "$filtered" 2>&1 | { grep -v 'is ignored' || true; }

# --- 3. postBuild ------------------------------------------------------------------------------
step "postBuild"
PATH="$VENV/bin:$PATH" binder/postBuild

# --- 4. notebooks ------------------------------------------------------------------------------
step "nbval notebooks (binder venv)"
if compgen -G 'notebooks/*.ipynb' > /dev/null; then
    rc=0
    (cd notebooks && PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
        --nbval-lax --nbval-current-env .) || rc=$?
    [ "$rc" -eq 0 ] || fail "notebooks failed in the Binder environment (pytest exit $rc)"
else
    echo "no notebooks/*.ipynb: nothing to run in the Binder environment"
fi

step ""
if [ "${KEEP_BINDER_VENV:-0}" != 1 ]; then rm -rf "$VENV"; fi
echo "check_binder: OK"
