# Shared by scripts/demo and scripts/test: a project virtualenv on Python >= 3.11.
# Debian/Ubuntu ship venv's pip bootstrap in a separate package; install it when missing.

PYTHON=${PYTHON:-python3}

apt_install() {
    local runner=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "Faltan paquetes del sistema ($*) y no hay sudo para instalarlos." >&2; exit 1; }
        runner=(sudo)
    fi
    echo "Instalando paquetes del sistema: $*" >&2
    "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "Se necesita Python 3.11 o posterior (PYTHON=$PYTHON es $("$PYTHON" --version 2>&1))." >&2
        exit 1
    }
    if [ ! -x .venv/bin/python ]; then
        if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
            apt_install "python3-venv"
        fi
        "$PYTHON" -m venv .venv
        quiet .venv/bin/python -m pip install -q --upgrade pip
    fi
}

# Run a noisy install step; show its output only if it fails.
quiet() {
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}
