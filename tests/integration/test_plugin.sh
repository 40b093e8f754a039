#!/usr/bin/env bash
# Connector plugins end to end: install a servo into a scratch prefix, build
# examples/plugin with nothing but the installed headers and `pkg-config --cflags servo`,
# and load it -- from SERVO_PLUGIN_PATH and from the installed plugin directory. Then the
# refusals: an ABI mismatch, a name taken by a built-in or by another plugin, a shared object
# without a manifest, a SERVO_PLUGIN_PATH entry that does not exist.
#
# Environment (set by ctest): SERVO_BIN (the servo under test), SERVO_SOURCE_DIR,
# SERVO_BUILD_DIR (its build directory: the scratch install copies its compiler, build type
# and sanitizer settings).
#
# The scratch install is a separate configure of the source tree with
# CMAKE_INSTALL_PREFIX=<scratch>/prefix: servo.pc carries the configure-time prefix and
# SERVO_PLUGIN_DIR is an absolute path, so `cmake --install "$SERVO_BUILD_DIR" --prefix X`
# would produce a servo.pc pointing elsewhere and create the plugin directory outside X.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${SERVO_SOURCE_DIR:?set SERVO_SOURCE_DIR to the source tree}"
: "${SERVO_BUILD_DIR:?set SERVO_BUILD_DIR to the build directory}"

scratch_dir servo-plugin

http_pid=
cleanup() {
    if [[ -n $http_pid ]]; then
        kill "$http_pid" 2>/dev/null || true
    fi
}

# start_http_server: python3 -m http.server on a free loopback port, serving $scratch/www;
# sets $http_port.
start_http_server() {
    mkdir -p "$scratch/www"
    printf 'hello from the test server\n' >"$scratch/www/hello.txt"
    (cd "$scratch/www" && exec python3 -u -m http.server 0 --bind 127.0.0.1) \
        >"$scratch/http-server.log" 2>&1 &
    http_pid=$!
    http_port=
    local tries=0
    while [[ -z $http_port ]] && ((tries++ < 200)); do
        http_port=$(sed -n 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9][0-9]*\) .*/\1/p' \
            "$scratch/http-server.log")
        [[ -n $http_port ]] || sleep 0.1
    done
    [[ -n $http_port ]] || fail "python3 -m http.server did not start: $(cat "$scratch/http-server.log")"
}

# Nothing from the caller's environment may add plugins or change the configuration.
clean_env
unset PKG_CONFIG_LIBDIR
export NO_COLOR=1

# run_any COMMAND...: runs it (not only servo) with stdout and stderr together in $out and
# the status in $rc.
run_any() {
    last_command="$*"
    set +e
    out=$("$@" 2>&1)
    rc=$?
    set -e
}

# expect_line TEXT: the output has a line containing TEXT (a fixed string).
expect_line() {
    checks=$((checks + 1))
    grep -qF -- "$1" <<<"$out" || fail "expected a line containing: $1"
    printf '  ok: output has "%s"\n' "$1"
}

# expect_regex REGEX: the output has a line matching the extended regular expression.
expect_regex() {
    checks=$((checks + 1))
    grep -qE -- "$1" <<<"$out" || fail "expected a line matching /$1/"
    printf '  ok: output matches /%s/\n' "$1"
}

expect_no_line() {
    checks=$((checks + 1))
    if grep -qF -- "$1" <<<"$out"; then
        fail "expected no line containing: $1"
    fi
    printf '  ok: output lacks "%s"\n' "$1"
}

# The number of output lines containing TEXT.
count_lines() {
    grep -cF -- "$1" <<<"$out" || true
}

cache_value() { # cache_value NAME: a value from the servo's CMakeCache.txt ("" if absent)
    sed -n "s/^$1:[A-Z]*=//p" "$SERVO_BUILD_DIR/CMakeCache.txt" | head -n 1
}

# ---- a servo installed into a scratch prefix ------------------------------------------------

step "install a servo into $scratch/prefix"
prefix=$scratch/prefix
configure=(cmake -S "$SERVO_SOURCE_DIR" -B "$scratch/build" -DCMAKE_INSTALL_PREFIX="$prefix"
           -DSERVO_TESTS=OFF -DSERVO_BENCH=OFF -DSERVO_FUZZ=OFF)
for name in CMAKE_C_COMPILER CMAKE_BUILD_TYPE SERVO_SANITIZE; do
    value=$(cache_value "$name")
    [[ -z $value ]] || configure+=("-D$name=$value")
done
run_any "${configure[@]}"
expect_rc 0
run_any cmake --build "$scratch/build" --parallel "$(nproc 2>/dev/null || echo 2)"
expect_rc 0
run_any cmake --install "$scratch/build" --prefix "$prefix"
expect_rc 0
installed=$prefix/bin/servo
[[ -x $installed ]] || fail "no $installed"
[[ -f $prefix/include/servo/connector.h ]] || fail "no installed servo/connector.h"

step "pkg-config finds the installed servo.pc"
pc=$(find "$prefix" -path '*/pkgconfig/servo.pc' | head -n 1)
[[ -n $pc ]] || fail "servo.pc is not installed under $prefix"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
run_any pkg-config --cflags servo
expect_rc 0
cflags=$out
# servo.pc locates its prefix relative to itself (${pcfiledir}), so the -I path may be
# written through lib/pkgconfig/../..: compare where it leads
include_dir=
for flag in $cflags; do
    [[ $flag == -I* && -z $include_dir ]] && include_dir=${flag#-I}
done
[[ -n $include_dir && $(realpath "$include_dir") == $(realpath "$prefix/include") ]] ||
    fail "pkg-config --cflags gives $cflags, not the installed $prefix/include"
[[ $cflags != *"$SERVO_SOURCE_DIR"* ]] || fail "the cflags name the source tree"
run_any pkg-config --variable=plugindir servo
expect_rc 0
plugindir=$out
[[ $plugindir == "$prefix"/* ]] || fail "plugindir $plugindir is outside $prefix"
run_any "$installed" version
expect_rc 0
abi=$(sed -n 's/^Plugin ABI \([0-9][0-9]*\)$/\1/p' <<<"$out")
[[ -n $abi ]] || fail "servo version does not print its plugin ABI"
run_any pkg-config --variable=abi servo
expect_rc 0
[[ $out == "$abi" ]] || fail "servo.pc says abi=$out, the servo says $abi"
printf '  ok: plugindir %s, ABI %s\n' "$plugindir" "$abi"

# ---- the example plugin, built out of tree ------------------------------------------------

step "build examples/plugin against the installed headers only"
cp -R "$SERVO_SOURCE_DIR/examples/plugin" "$scratch/hello"
rm -f "$scratch/hello/hello.so"
run_any make -C "$scratch/hello"
expect_rc 0
expect_line "$cflags" # the compile line used the pkg-config flags...
expect_no_line "-I$SERVO_SOURCE_DIR" # ...and nothing from the source tree
hello=$scratch/hello/hello.so
[[ -f $hello ]] || fail "make did not produce $hello"
run_any nm -D --undefined-only "$hello"
expect_regex '^ +U servo_log$' # resolved from the servo executable at dlopen
expect_regex '^ +U servo_http_perform$' # the HTTP engine, also the executable's
run_any readelf -d "$hello"
expect_no_line "servo" # no DT_NEEDED on anything servo: it links nothing

step "SERVO_PLUGIN_PATH=<dir> servo connectors -v lists hello with its origin"
run_any env SERVO_PLUGIN_PATH="$scratch/hello" "$SERVO_BIN" connectors -v
expect_rc 0
row='^hello +0\.1\.0 +Says hello \(an example out-of-tree connector\) +'
row+='https://github\.com/opsani/servox +Experimental +Apache 2\.0 +'
expect_regex "$row$hello\$"

step "servo connectors -f json carries the class name and origin"
run_any env SERVO_PLUGIN_PATH="$hello" "$SERVO_BIN" connectors -f json
expect_rc 0
expect_line '"class_name": "HelloConnector"'
expect_line "\"origin\": \"$hello\""

step "SERVO_PLUGIN_PATH=. (relative, as in the README) reports the resolved origin"
cd "$scratch/hello"
run_any env SERVO_PLUGIN_PATH=. "$SERVO_BIN" connectors -v
expect_rc 0
expect_regex "^hello .* $hello\$"
mkdir "$scratch/work"
cd "$scratch/work"

step "servo schema hello (and by class name)"
export SERVO_PLUGIN_PATH=$scratch/hello
run_any "$SERVO_BIN" schema hello
expect_rc 0
expect_line '"title": "HelloConnector Configuration Schema"'
expect_line '"greeting": {'
expect_line '"SERVO_HELLO_REPEAT"'
run_any "$SERVO_BIN" schema HelloConnector
expect_rc 0
expect_line '"SERVO_HELLO_GREETING"'

step "a servo.yaml with a hello stanza validates; servo config shows its settings"
cat >servo.yaml <<'EOF'
hello:
  greeting: hi there
  repeat: 3
  url: https://example.com/hello
EOF
run_any "$SERVO_BIN" validate
expect_rc 0
expect_line "Valid configuration in servo.yaml"
run_any "$SERVO_BIN" config
expect_rc 0
expect_regex '^  hello: hello$'
expect_regex '^hello:$'
expect_regex '^  greeting: hi there$'
expect_regex '^  repeat: 3$'
expect_regex '^  url: https://example.com/hello$'
expect_regex '^  style: plain$' # a default
run_any env SERVO_HELLO_REPEAT=4 "$SERVO_BIN" config
expect_rc 0
expect_regex '^  repeat: 4$'

step "the plugin's settings are checked by the core and by the plugin's own validator"
printf 'hello:\n  repeat: 0\n' >bad-repeat.yaml
run_any "$SERVO_BIN" validate -f bad-repeat.yaml
expect_rc 1
expect_line "hello.repeat: the value must be at least 1"
# 30 characters x 40 > 1000: refused by hello_validate through servo_validation_error, a
# function of the servo called from the plugin.
printf 'hello:\n  greeting: "%s"\n  repeat: 40\n' "$(printf 'x%.0s' {1..30})" >too-long.yaml
run_any "$SERVO_BIN" -l DEBUG validate -f too-long.yaml
expect_rc 1
expect_line "hello.repeat: 40 repetitions of a 30-character greeting exceed 1000 characters"
expect_line "hello: checking 30 character(s) repeated 40 time(s)" # servo_log from the plugin

step "servo generate hello writes the plugin's stanza"
run_any "$SERVO_BIN" generate hello -f generated.yaml -q
expect_rc 0
run_any cat generated.yaml
expect_regex '^hello:$'
expect_regex '^  repeat: 2$'
run_any "$SERVO_BIN" validate -f generated.yaml
expect_rc 0

step "the plugin makes an HTTP request with the servo's engine: servo check against a loopback server"
start_http_server
printf 'hello:\n  url: http://127.0.0.1:%s/hello.txt\n' "$http_port" >fetch.yaml
run_any "$SERVO_BIN" -c fetch.yaml check
expect_rc 0
expect_line "Check 'Say hello to the URL' passed"
grep -q '"GET /hello.txt HTTP/1.1" 200' "$scratch/http-server.log" ||
    fail "the server saw no GET /hello.txt: $(cat "$scratch/http-server.log")"
printf '  ok: the server answered GET /hello.txt\n'
printf 'hello:\n  url: http://ann:s3cret@127.0.0.1:%s/missing.txt\n' "$http_port" >missing.yaml
run_any "$SERVO_BIN" -c missing.yaml check
expect_rc 1
expect_line "GET http://ann:***@127.0.0.1:$http_port/missing.txt: HTTP 404 (http-status)"
expect_no_line "s3cret" # neither the check's message nor the plugin's log shows the password
unset SERVO_PLUGIN_PATH

# ---- refusals ----------------------------------------------------------------------------

# build_test_plugin NAME SOURCE [CFLAGS...]: $scratch/plugins-NAME/NAME.so from tests/data/plugins,
# with the same flags as the example.
build_test_plugin() {
    local name=$1 source=$SERVO_SOURCE_DIR/tests/data/plugins/$2
    shift 2
    mkdir -p "$scratch/plugins-$name"
    # shellcheck disable=SC2086 # $cflags is a list of flags
    run_any "${CC:-cc}" -std=c17 -Wall -Wextra -Werror -fPIC -fvisibility=hidden $cflags "$@" -shared \
        -o "$scratch/plugins-$name/$name.so" "$source"
    expect_rc 0
}

step "a plugin built for another ABI is refused, naming the file and both versions"
build_test_plugin abi999 abi_mismatch.c
for entry in "$scratch/plugins-abi999" "$scratch/plugins-abi999/abi999.so"; do
    run_any env SERVO_PLUGIN_PATH="$entry" "$SERVO_BIN" connectors
    expect_rc 1
    message="servo: error: $scratch/plugins-abi999/abi999.so: plugin built for plugin ABI 999, "
    message+="but this servo has ABI $abi: rebuild it against the installed headers"
    expect_line "$message"
done
run_any env SERVO_PLUGIN_PATH="$scratch/plugins-abi999" "$SERVO_BIN" schema hello
expect_rc 1

step "a plugin declaring a built-in's name is refused, naming both origins"
builtin=$(env -u SERVO_PLUGIN_PATH "$SERVO_BIN" connectors | awk 'NR == 2 { print $1 }')
if [[ -z $builtin ]]; then
    fail "servo connectors lists no built-in connector to impersonate"
else
    build_test_plugin impostor plugtest.c "-DPLUGIN_NAME=\"$builtin\""
    run_any env SERVO_PLUGIN_PATH="$scratch/plugins-impostor" "$SERVO_BIN" connectors
    expect_rc 1
    message="servo: error: $scratch/plugins-impostor/impostor.so: connector \"$builtin\" "
    message+="(PlugTestConnector) is refused: the name is already provided by built-in"
    expect_line "$message"
fi

step "the same connector in two shared objects: the second is refused, naming both"
mkdir "$scratch/hello-copy"
cp "$hello" "$scratch/hello-copy/hello.so"
run_any env SERVO_PLUGIN_PATH="$scratch/hello:$scratch/hello-copy" "$SERVO_BIN" connectors
expect_rc 1
message="servo: error: $scratch/hello-copy/hello.so: connector \"hello\" (HelloConnector) is "
message+="refused: the name is already provided by $hello"
expect_line "$message"

step "the same file named twice on SERVO_PLUGIN_PATH is loaded once"
run_any env SERVO_PLUGIN_PATH="$scratch/hello:$hello:$scratch/hello/../hello" "$SERVO_BIN" connectors
expect_rc 0
[[ $(count_lines "Says hello") == 1 ]] || fail "hello is listed $(count_lines "Says hello") times"

step "a shared object without the manifest symbol is refused"
build_test_plugin nomanifest no_manifest.c
run_any env SERVO_PLUGIN_PATH="$scratch/plugins-nomanifest" "$SERVO_BIN" connectors
expect_rc 1
message="servo: error: $scratch/plugins-nomanifest/nomanifest.so: not a servo plugin: no "
message+="\"servo_plugin_manifest\" symbol (declare it with SERVO_DECLARE_PLUGIN)"
expect_line "$message"

step "a file that is not a shared object is refused"
mkdir "$scratch/plugins-text"
printf 'not an ELF file, just text that is long enough to have a header of sorts\n%.0s' \
    1 2 3 >"$scratch/plugins-text/text.so"
run_any env SERVO_PLUGIN_PATH="$scratch/plugins-text" "$SERVO_BIN" connectors
expect_rc 1
expect_line "servo: error: $scratch/plugins-text/text.so: cannot load plugin: "

step "a SERVO_PLUGIN_PATH entry that does not exist is an error"
run_any env SERVO_PLUGIN_PATH="$scratch/hello:$scratch/nowhere" "$SERVO_BIN" connectors
expect_rc 1
expect_line "servo: error: $scratch/nowhere: SERVO_PLUGIN_PATH names a path that does not exist"

step "other files in a plugin directory are ignored"
touch "$scratch/hello/README.txt" "$scratch/hello/.hidden.so"
run_any env SERVO_PLUGIN_PATH="$scratch/hello" "$SERVO_BIN" connectors
expect_rc 0

# ---- the installed plugin directory -----------------------------------------------------

step "the installed servo starts with an empty plugin directory"
[[ -d $plugindir ]] || fail "cmake --install did not create $plugindir"
run_any "$installed" connectors -v
expect_rc 0
expect_no_line "Says hello"

step "make install puts hello.so into the installed plugin directory"
run_any make -C "$scratch/hello" install
expect_rc 0
[[ -f $plugindir/hello.so ]] || fail "make install did not write $plugindir/hello.so"
installed_hello=$(cd "$plugindir" && pwd -P)/hello.so

step "the installed servo loads it without SERVO_PLUGIN_PATH"
run_any "$installed" connectors -v
expect_rc 0
expect_regex "^hello +0\.1\.0 .* $installed_hello\$"
run_any "$installed" schema hello
expect_rc 0
run_any "$installed" validate -f "$scratch/work/servo.yaml"
expect_rc 0

step "the installed servo loads its HTTP module from the installed layout"
module=$(find "$prefix" -name servo-http-curl.so | head -n 1)
[[ -n $module ]] || fail "cmake --install did not install servo-http-curl.so under $prefix"
run_any readelf -d "$installed"
expect_no_line "libcurl" # the executable does not link libcurl; the module does
run_any "$installed" -c "$scratch/work/fetch.yaml" check
expect_rc 0
expect_line "Check 'Say hello to the URL' passed"

step "the installed directory also on SERVO_PLUGIN_PATH: loaded once"
run_any env SERVO_PLUGIN_PATH="$plugindir" "$installed" connectors
expect_rc 0
[[ $(count_lines "Says hello") == 1 ]] || fail "hello is listed $(count_lines "Says hello") times"

step "another hello on SERVO_PLUGIN_PATH collides with the installed one"
run_any env SERVO_PLUGIN_PATH="$scratch/hello" "$installed" connectors
expect_rc 1
message="servo: error: $installed_hello: connector \"hello\" (HelloConnector) is refused: "
message+="the name is already provided by $hello"
expect_line "$message"

passed
