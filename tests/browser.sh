#!/bin/sh
# The HTML report in a real browser: runs a tiny sweep, writes its report
# with `gradsweep report`, and has tests/browser.py open it in headless
# Chromium (images load, no console errors, table#all-runs sorts, a
# screenshot). A TAP skip where chromium, chromium-driver or
# python3-selenium is missing. GS_KEEP=1 keeps the work folder (report,
# screenshot) and prints where it is.
. "${top_srcdir:-.}/tests/tap.sh"
apt_hint="apt-get install chromium chromium-driver python3-selenium"
py=/usr/bin/python3
for prog in /usr/bin/chromium /usr/bin/chromedriver "$py"; do
    [ -x "$prog" ] || skip_all "$prog is missing ($apt_hint)"
done
"$py" -c 'import selenium.webdriver' 2>/dev/null ||
    skip_all "the python3 selenium module is missing ($apt_hint)"

srcdir=$(cd "${top_srcdir:-.}" && pwd) || exit 1
builddir=$(cd "${top_builddir:-.}" && pwd) || exit 1
gs="$builddir/src/gradsweep"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cd "$work" || exit 1

# One failing TAP line with the tail of a log, and stop.
fail() {
    notok "$1"
    [ -f "$2" ] && tail -n 20 "$2" | sed 's/^/# /'
    finish
    exit 1
}

# A tiny sweep (8 cells, well under a second); the description must come
# out escaped, as text, in the page.
description='<script>alert(1)</script> & "quotes"'
cat > browser.ini <<EOF
[sweep]
name = browser
description = $description

[depth-scan]
task = probe
depth = 2, 5, 10
activation = sigmoid, relu

[train]
task = train
depth = 3
width = 16
steps = 60
log_every = 10
activation = relu, tanh
EOF

"$gs" run "$work/browser.ini" --db "$work/t.db" >run.log 2>&1 ||
    fail "gradsweep run browser.ini (exit $?)" run.log
"$gs" report "$work/t.db" -o "$work/report" >report.log 2>&1 ||
    fail "gradsweep report t.db -o report (exit $?)" report.log
[ -f "$work/report/index.html" ] ||
    fail "gradsweep report wrote no report/index.html" report.log

"$py" "$srcdir/tests/browser.py" "$work/report/index.html" \
    "$work/report/screenshot.png" --expect-text "$description"
