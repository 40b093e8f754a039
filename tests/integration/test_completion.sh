#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The man page and the bash, zsh and fish completions: generated at build time from the command
# table (the files in $SERVO_BUILD_DIR/share are what `servo __man` and `servo completion`
# print now), every command of `servo --help` (and every subcommand of a command's --help) is in
# the man page and completes in each shell, the scripts parse, the man page renders without a
# warning, and completion completes: commands, options, option values, connector names (a
# plugin's included) and the servo names of a multi-servo file given with -c.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools zsh fish man groff
clean_env
scratch_dir servo-completion

share=$SERVO_BUILD_DIR/share
man_page=$share/man/man1/servo.1
bash_script=$share/bash-completion/completions/servo
zsh_script=$share/zsh/vendor-completions/_servo
fish_script=$share/fish/vendor_completions.d/servo.fish
plugins=$SERVO_BUILD_DIR/tests/integration-plugins

step "the built files are what the servo generates now"
run __man
expect_rc 0
check equals "$out" "$(<"$man_page")"
for shell in bash zsh fish; do
    run completion "$shell"
    expect_rc 0
    script_var=${shell}_script
    check equals "$out" "$(<"${!script_var}")"
done
run completion tcsh
expect_rc 2
expect_err 'servo: error: completion: unknown shell "tcsh" (expected bash, zsh or fish)'
run completion
expect_rc 2
run completion bash extra
expect_rc 2
expect_err 'servo: error: completion bash: unexpected argument "extra"'

step "the scripts parse"
check bash -n "$bash_script"
check zsh -n "$zsh_script"
check fish -n "$fish_script"

step "the man page renders without a warning"
warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$man_page" 2>&1 >/dev/null)
check equals "$warnings" ""
warnings=$(groff -ww -z -man "$man_page" 2>&1)
check equals "$warnings" ""
rendered=$(LC_ALL=C.UTF-8 MANWIDTH=100 man -l "$man_page" 2>/dev/null)
check grep -q "^SERVO(1)" <<<"$rendered"

# A multi-servo file and a plugin for the dynamic words.
printf 'name: alpha\nwait: {}\n---\nname: beta\nwait: {}\n---\noptimizer: {id: example.com/gamma, token: t}\nwait: {}\n' >multi.yaml
export SERVO_PLUGIN_PATH=$plugins

# bash: COMPREPLY for the words typed, the last one being completed.
bash_complete() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _servo; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$bash_script" "$@"
}
# zsh: the words compadd is given (compsys filters them by prefix itself) or _files.
zsh_complete() {
    zsh -c 'compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@"; };
            _files() { print -r -- "(files)"; }; source "$1"; shift; words=("$@"); CURRENT=$#; _servo' \
        _ "$zsh_script" "$@"
}
# fish: `complete -C` on the command line, candidates without their descriptions (fish sorts
# them).
fish_complete() {
    fish -c 'source $argv[1]; complete -C $argv[2] | string replace -r "\t.*" ""' "$fish_script" "$*"
}

step "every command of servo --help is in the man page and completes in each shell"
run --help
expect_rc 0
commands=$(awk '/^[A-Z][A-Za-z ]* Commands:$/ { in_list = 1; next } /^$/ { in_list = 0 } in_list { print $1 }' <<<"$out")
check test "$(wc -l <<<"$commands")" -ge 18
top_bash=$(bash_complete "$SERVO_BIN" "")
top_zsh=$(zsh_complete "$SERVO_BIN" "")
top_fish=$(fish_complete "$SERVO_BIN" "")
for command in $commands; do
    check grep -qxF ".SS \"servo ${command//-/\\-}\"" "$man_page" # roff escapes "-"
    check grep -qxF "$command" <<<"$top_bash"
    check grep -qxF "$command" <<<"$top_zsh"
    check grep -qxF "$command" <<<"$top_fish"
    # the subcommands a command's help lists ("servo optimizer serve ...")
    run "$command" --help
    subcommands=$(awk '/^Commands:$/ { in_list = 1; next } /^$/ { in_list = 0 } in_list { print $1 }' <<<"$out")
    [[ -n $subcommands ]] || continue
    sub_bash=$(bash_complete "$SERVO_BIN" "$command" "")
    sub_zsh=$(zsh_complete "$SERVO_BIN" "$command" "")
    sub_fish=$(fish_complete "$SERVO_BIN" "$command" "")
    for subcommand in $subcommands; do
        check grep -qxF ".SS \"servo ${command//-/\\-} ${subcommand//-/\\-}\"" "$man_page"
        check grep -qxF "$subcommand" <<<"$sub_bash"
        check grep -qxF "$subcommand" <<<"$sub_zsh"
        check grep -qxF "$subcommand" <<<"$sub_fish"
    done
done
check grep -qxF ".SS \"servo optimizer serve\"" "$man_page"
check grep -qxF ".SS \"servo prometheus targets\"" "$man_page"

step "bash completes commands, options, values, connectors and servo names"
check equals "$(bash_complete "$SERVO_BIN" val)" "validate"
check equals "$(bash_complete "$SERVO_BIN" validate --)" $'--file\n--quiet\n--help'
check equals "$(bash_complete "$SERVO_BIN" config -f j)" "json"
check equals "$(bash_complete "$SERVO_BIN" check --halt-on c)" $'common\ncritical'
check equals "$(bash_complete "$SERVO_BIN" -l WA)" "WARNING"
check equals "$(bash_complete "$SERVO_BIN" validate -f mul)" "multi.yaml"
check equals "$(bash_complete "$SERVO_BIN" optimizer serve --li)" "--listen"
check equals "$(bash_complete "$SERVO_BIN" show connectors -)" $'-v\n--verbose\n-h\n--help'
check equals "$(bash_complete "$SERVO_BIN" help gen)" "generate"
check equals "$(bash_complete "$SERVO_BIN" schema pro)" "prometheus"
check equals "$(bash_complete "$SERVO_BIN" generate check)" "checktest" # the plugin
check equals "$(bash_complete "$SERVO_BIN" -c multi.yaml -n "")" $'alpha\nbeta\nexample.com/gamma'
check equals "$(bash_complete "$SERVO_BIN" --config-file multi.yaml --name b)" "beta"
# without -c: servo.yaml of the working directory
cp multi.yaml servo.yaml
check equals "$(bash_complete "$SERVO_BIN" -n al)" "alpha"
rm servo.yaml
check equals "$(bash_complete "$SERVO_BIN" -n "")" ""
check equals "$(bash_complete "$SERVO_BIN" prometheus "")" "targets"
check equals "$(bash_complete "$SERVO_BIN" --token "")" ""

step "zsh completes the same"
check equals "$(zsh_complete "$SERVO_BIN" validate --)" $'-f\n--file\n-q\n--quiet\n-h\n--help'
check equals "$(zsh_complete "$SERVO_BIN" validate -f "")" "(files)"
check equals "$(zsh_complete "$SERVO_BIN" check --halt-on "")" $'warning\ncommon\ncritical'
check grep -qxF checktest <<<"$(zsh_complete "$SERVO_BIN" schema "")"
check equals "$(zsh_complete "$SERVO_BIN" -c multi.yaml -n "")" $'alpha\nbeta\nexample.com/gamma'

step "fish completes the same"
check equals "$(fish_complete "$SERVO_BIN" val)" "validate"
check equals "$(fish_complete "$SERVO_BIN" validate --)" $'--file\n--help\n--quiet'
check equals "$(fish_complete "$SERVO_BIN" validate -f mul)" "multi.yaml"
check equals "$(fish_complete "$SERVO_BIN" check --halt-on c)" $'common\ncritical'
check grep -qxF checktest <<<"$(fish_complete "$SERVO_BIN" schema "")"
check equals "$(fish_complete "$SERVO_BIN" -c multi.yaml -n "")" $'alpha\nbeta\nexample.com/gamma'

step "servo __complete"
run __complete connectors
expect_rc 0
expect_out checktest
run -c multi.yaml __complete servos
check equals "$out" $'alpha\nbeta\nexample.com/gamma'
run -c missing.yaml __complete servos
expect_rc 0
check equals "$out" ""
run __complete nope
expect_rc 2

step "cmake --install puts them where the shells and man look"
if [[ -f $SERVO_BUILD_DIR/cmake_install.cmake ]]; then
    cmake --install "$SERVO_BUILD_DIR" --prefix "$scratch/prefix" >/dev/null
    for file in share/man/man1/servo.1 share/bash-completion/completions/servo \
        share/zsh/vendor-completions/_servo share/fish/vendor_completions.d/servo.fish; do
        check test -s "$scratch/prefix/$file"
    done
    check test "$(MANPATH=$scratch/prefix/share/man man -w servo)" = "$scratch/prefix/share/man/man1/servo.1"
fi

passed
