# Shared by the pipeline scripts (sourced, not run): install what is
# missing, bootstrap, configure and build gradsweep in $GS_BUILD.
#
# Variables: GS_TOP (the source tree), GS_BUILD (build folder, default
# $GS_TOP/build), GS_CONFIGURE_FLAGS (extra ./configure arguments).
# Exports GRADSWEEP_DATA_DIR (default $GS_TOP/data) for the uninstalled
# gradsweep the scripts run.

GS_TOP=${GS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
GS_BUILD=${GS_BUILD:-$GS_TOP/build}
GS_JOBS=${GS_JOBS:-$(nproc 2>/dev/null || echo 2)}
# The gradsweep of the build tree is not installed: its data (digits.csv.gz)
# is the source tree's data/, which an installed one finds in its pkgdatadir.
GRADSWEEP_DATA_DIR=${GRADSWEEP_DATA_DIR:-$GS_TOP/data}
export GRADSWEEP_DATA_DIR

# Debian/Ubuntu packages the build needs, and their Fedora names.
GS_DEB_PACKAGES="build-essential autoconf automake pkgconf openmpi-bin libopenmpi-dev \
libsqlite3-dev sqlite3 libpng-dev zlib1g-dev libinih-dev libplplot-dev plplot-driver-cairo libopenblas-dev"
GS_RPM_PACKAGES="gcc make autoconf automake pkgconf-pkg-config openmpi-devel sqlite-devel \
sqlite libpng-devel zlib-devel inih-devel plplot-devel openblas-devel"
# Optional, for the PyTorch reference test, the browser test of the
# report, the MPFR reference of tests/format.t and the simulated hosts of
# tests/multihost.sh (ip; unshare is util-linux's) - each skips itself, or
# its reference, where these are missing.
GS_DEB_OPTIONAL="python3-torch chromium chromium-driver python3-selenium libmpfr-dev iproute2"

gs_say() { printf '%s\n' "$*" >&2; }
gs_die() { gs_say "$(basename "$0"): $*"; exit 1; }

# Packages of a list that dpkg does not know as installed.
gs_missing_debs() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    printf '%s' "$missing"
}

# Without recommends: libplplot-dev alone recommends Qt, wxWidgets, OCaml
# and Lua bindings; the closure of the list above is 428 packages this way
# against 1,214 with recommends (apt-cache depends --recurse, Debian 12).
gs_apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 ||
        { apt-get update -q >&2 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2; }
}

# Install what the build needs (as root), or say the exact command.
gs_install_deps() {
    if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        # shellcheck disable=SC2086
        missing=$(gs_missing_debs $GS_DEB_PACKAGES)
        if [ -n "$missing" ]; then
            if [ "$(id -u)" -eq 0 ]; then
                gs_say "installing:$missing"
                # shellcheck disable=SC2086
                gs_apt_install $missing || gs_die "apt-get install failed for:$missing"
            else
                gs_say "gradsweep needs these packages:$missing"
                gs_say "install them with:"
                gs_say "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing"
                gs_say "then run $0 again."
                exit 1
            fi
        fi
        # shellcheck disable=SC2086
        opt=$(gs_missing_debs $GS_DEB_OPTIONAL)
        if [ -n "$opt" ] && [ "$(id -u)" -eq 0 ] && [ "${GS_SKIP_OPTIONAL:-0}" != 1 ]; then
            gs_say "installing the optional reference:$opt"
            # shellcheck disable=SC2086
            gs_apt_install $opt || gs_say "(could not install$opt: its test will be skipped)"
        fi
    elif command -v dnf >/dev/null 2>&1; then
        if ! command -v autoreconf >/dev/null 2>&1 || ! pkg-config --exists sqlite3 libpng zlib inih plplot openblas 2>/dev/null; then
            gs_say "gradsweep needs build tools and libraries; install them with:"
            gs_say "  sudo dnf install -y $GS_RPM_PACKAGES"
            gs_say "  and load MPI: module load mpi/openmpi-x86_64"
            exit 1
        fi
    else
        gs_say "unknown package manager; gradsweep needs: a C compiler, autoconf, automake,"
        gs_say "pkg-config, Open MPI, a CBLAS (OpenBLAS by default), and the SQLite, libpng, zlib,"
        gs_say "inih and PLplot libraries."
    fi
}

# Bootstrap (when configure is missing or older than its inputs), configure
# (when the build folder has no Makefile), build.
gs_build() {
    cd "$GS_TOP" || exit 1
    if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
        gs_say "bootstrapping (autoreconf -fi)"
        autoreconf -fi >&2 || gs_die "autoreconf failed"
    fi
    mkdir -p "$GS_BUILD" || exit 1
    cd "$GS_BUILD" || exit 1
    if [ ! -f Makefile ]; then
        gs_say "configuring in $GS_BUILD"
        # shellcheck disable=SC2086
        "$GS_TOP/configure" ${GS_CONFIGURE_FLAGS:-} >&2 || gs_die "configure failed (see $GS_BUILD/config.log)"
    fi
    gs_say "building"
    make -j"$GS_JOBS" >&2 || gs_die "build failed"
}

# Open MPI as root needs these; harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Open MPI's daemons (mpirun launches) notice a node cut off the network
# by TCP keepalives on their out-of-band links: by default after 300 s of
# silence and 9 probes 20 s apart (8 min: a job hangs that long). These
# declare a silent peer lost after 10 s idle and 5 unanswered probes 2 s
# apart - at most 20 s - while a busy node still answers (the kernel does).
# The user's own values win. (srun launches use Slurm's own node checks.)
export OMPI_MCA_oob_tcp_keepalive_time="${OMPI_MCA_oob_tcp_keepalive_time:-10}"
export OMPI_MCA_oob_tcp_keepalive_intvl="${OMPI_MCA_oob_tcp_keepalive_intvl:-2}"
export OMPI_MCA_oob_tcp_keepalive_probes="${OMPI_MCA_oob_tcp_keepalive_probes:-5}"
# An mpirun that ends a job (signalled, or a node lost) sends each rank
# SIGTERM and SIGKILL odls_base_sigkill_timeout seconds later (default 1).
# Rank 0 needs that time to commit and mark its session interrupted; on a
# busy machine one second was not always enough (its session left
# running, which holds the database for other hosts until the heartbeat
# ages). Workers end at once on SIGTERM, so a longer grace costs nothing.
export OMPI_MCA_odls_base_sigkill_timeout="${OMPI_MCA_odls_base_sigkill_timeout:-3}"
