# tests/cli_misc.sh — the command line as a whole: usage, --help of every command, --version, and the check that every
# flag --help shows was exercised by some test.
# Sourced by test.sh; its cli_run runs the tests, which see its variables: W (work directory), M, Z, B (the files of
# the fixtures small, zh, bytes), small (options of a small model). Each test makes the files it needs with
# `fixture NAME` (built once per W). cr/expect/check/fixture are defined in test.sh.

# no arguments, --help, --version, an unknown command; each command's --help (saved for the coverage check)
cli_misc_usage() {
    # --- usage
    cr; expect "no arguments is a usage error" 2
    cr --help; expect "--help" 0
    check "--help goes to stdout" grep -q "^Usage: charrnn COMMAND" "$TMP/out"
    cr --version; expect "--version" 0
    cr frobnicate; expect "unknown command" 2 "charrnn: unknown command 'frobnicate'"
    CHARRNN_KERNEL=avx3 cr --version
    check "an unknown CHARRNN_KERNEL: no warning for --version" test $RC -eq 0 -a ! -s "$TMP/err"
    CHARRNN_KERNEL=avx3 cr sample --threads x
    expect "an unknown CHARRNN_KERNEL is a warning naming the choices" 2 "charrnn: warning: unknown CHARRNN_KERNEL 'avx3' (choose one of: avx512, avx2, generic); using generic"
    CHARRNN_KERNEL=generic cr sample --threads x
    expect "a known CHARRNN_KERNEL: no warning" 2 "charrnn sample: invalid value 'x' for --threads: not a whole number"
    cr help; expect "help" 0
    check "help prints the general help on stdout" grep -q "^Usage: charrnn COMMAND" "$TMP/out"
    cr help frobnicate; expect "help of an unknown command" 2 "charrnn help: unknown command 'frobnicate'"
    cr help train sample; expect "help of two commands" 2 "charrnn help: expected one COMMAND"
    for sub in train sample info plot score fill; do
        cr $sub --help; expect "$sub --help" 0
        check "$sub --help on stdout, nothing on stderr" test -s "$TMP/out" -a ! -s "$TMP/err"
        cp "$TMP/out" "$W/help-$sub"
        cr help $sub; expect "help $sub" 0
        check "help $sub prints exactly '$sub --help'" cmp -s "$TMP/out" "$W/help-$sub"
        grep -o -- '--[a-z][a-z-]*' "$TMP/out" | sort -u >"$W/flags-$sub"
    done
}

# Help and version to a full disk fail like every other output; the habits of other tools get a way forward:
# -V, a did-you-mean for a misspelt command or option (names stay exact), -m for a checkpoint given as an argument,
# the way to a checkpoint when charrnn.ckpt is missing, a warning for a literal \n in --stop.
cli_misc_habits() {
    local a
    for a in "--help" "train --help" "help score" "--version" "-V"; do
        printf '%s\n' "$a (to /dev/full)" >>"$TMP/ran.log"
        # shellcheck disable=SC2086
        "$BIN" $a >/dev/full 2>"$TMP/err"
        RC=$?
        expect "'charrnn $a > /dev/full'" 1 "charrnn: cannot write output: No space left on device"
    done
    cr -V; expect "-V" 0
    check "-V prints the version" test "$(cat "$TMP/out")" = "$("$BIN" --version)"
    cr --help
    check "--help lists -V and --version" grep -qx -- "  -V, --version  print the version and exit" "$TMP/out"
    cr trian; expect "a misspelt command" 2 "charrnn: unknown command 'trian'; did you mean 'train'?"
    check "a misspelt command: two lines, no usage" test "$(wc -l <"$TMP/err")" -eq 2 -a "$(tail -n 1 "$TMP/err")" = "Try 'charrnn --help'."
    cr smaple; expect "a misspelt command (two letters swapped)" 2 "charrnn: unknown command 'smaple'; did you mean 'sample'?"
    cr help scroe; expect "help of a misspelt command" 2 "charrnn help: unknown command 'scroe'; did you mean 'score'?"
    cr sample --temp 0.5; expect "an option's prefix is refused, and named" 2 "charrnn sample: unknown option '--temp'; did you mean '--temperature'?"
    cr sample --temperatur=0.5; expect "an option one letter short" 2 "charrnn sample: unknown option '--temperatur'; did you mean '--temperature'?"
    cr train --stpes 10 data/fortunes.txt; expect "a misspelt option" 2 "charrnn train: unknown option '--stpes'; did you mean '--steps'?"
    cr train --t 1 data/fortunes.txt; expect "an ambiguous prefix: no hint" 2 "charrnn train: unknown option '--t'"
    cr sample m.ckpt; expect "sample with a checkpoint as argument" 2 "charrnn sample: unexpected argument 'm.ckpt': a checkpoint is named with -m (use -m m.ckpt)"
    cr info README.md; expect "info with a file as argument" 2 "charrnn info: unexpected argument 'README.md': a checkpoint is named with -m (use -m README.md)"
    mkdir -p "$W/habits"
    for a in sample info score fill; do
        printf '%s\n' "$a (no charrnn.ckpt)" >>"$TMP/ran.log"
        (cd "$W/habits" && exec "$BIN" $a </dev/null >"$TMP/out" 2>"$TMP/err")
        RC=$?
        expect "$a without charrnn.ckpt says how to get one" 1 "charrnn: cannot open 'charrnn.ckpt': No such file or directory; train one with 'charrnn train CORPUS', or name another with -m FILE"
    done
    cr info -m "$W/habits/charrnn.ckpt"
    expect "a missing -m FILE: the plain message" 1 "charrnn: cannot open '$W/habits/charrnn.ckpt': No such file or directory"
    fixture small
    cr sample -m "$M" -n 5 --seed 1 --stop '\n'
    expect "--stop '\\n' warns" 0 "charrnn: warning: --stop '\n' holds a backslash and 'n', not a control character: in bash, \$'\\n' is one"
    check "--stop '\\n': the sample is still written" test "$(wc -c <"$TMP/out")" -ge 5
    cr sample -m "$M" -n 5 --seed 1 --stop $'\n'
    check "--stop \$'\\n': no warning" test $RC -eq 0 -a ! -s "$TMP/err"
    cr sample --help
    check "sample --help says \$'\\n'" grep -qF "a newline is \$'\\n' in bash" "$TMP/out"
}

# fixture help: each command's --help (help-COMMAND) and the flags it shows (flags-COMMAND)
fixture_help() {
    local sub
    for sub in train sample info plot score fill; do
        "$BIN" $sub --help >"$W/help-$sub" 2>/dev/null
        grep -o -- '--[a-z][a-z-]*' "$W/help-$sub" | sort -u >"$W/flags-$sub"
    done
}

# every flag that --help shows was exercised (ran.log holds every cr and every hand-run command): run after every
# other CLI test (test.sh's cli_run runs the whole list when this one is named)
cli_misc_help_coverage() {
    fixture help
    # --- every flag that --help shows was exercised above
    for sub in train sample info plot score fill; do
        local missing=""
        while read -r f; do
            [ "$f" = "--help" ] && continue
            grep -qE -- "(^|[ ])$f([ =]|$)" "$TMP/ran.log" && continue
            local short   # "-o, --output FILE": the short form counts too
            short=$(grep -oE -- "-[a-z], $f( |$)" "$W/help-$sub" | cut -c1-2)
            [ -n "$short" ] && grep -qE -- "(^|[ ])$short( |$)" "$TMP/ran.log" && continue
            missing="$missing $f"
        done <"$W/flags-$sub"
        check "every '$sub --help' flag is exercised${missing:+ (missing:$missing)}" test -z "$missing"
    done
}

# the man page and the completion script, both generated from the option tables
cli_misc_docs() {
    fixture help
    # --- charrnn.1 is what --man writes now (make man regenerates it)
    cr --man; expect "--man" 0
    check "charrnn.1 is up to date (run 'make man')" cmp -s "$TMP/out" "$ROOT/charrnn.1"
    for sub in train sample info plot score fill; do
        check "the man page has a section for $sub" grep -q "^\.SS \"charrnn $sub " "$TMP/out"
    done
    local f missing=""
    for f in $(cat "$W/flags-train" "$W/flags-sample" "$W/flags-info" "$W/flags-score" "$W/flags-fill"); do   # "\fB\-\-cell\fR" in roff
        grep -qF -- "\\fB$(printf %s "$f" | sed 's/-/\\-/g')\\fR" "$TMP/out" || missing="$missing $f"
    done
    check "the man page shows every --help flag${missing:+ (missing:$missing)}" test -z "$missing"
    for s in "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "CHECKPOINT FORMAT"; do
        check "the man page has $s" grep -q "^\.SH $s" "$TMP/out"
    done
    sed -n '/^\.SH FILES/,/^\.SH /p' "$TMP/out" >"$W/man-files"
    sed -n '/^\.SH EXAMPLES/,/^\.SH /p' "$TMP/out" >"$W/man-examples"
    check "man FILES: sample, info, score and fill read charrnn.ckpt" grep -qF '\fBsample\fR, \fBinfo\fR, \fBscore\fR and \fBfill\fR read it' "$W/man-files"
    check "man FILES: the rescued checkpoint" grep -qF 'NAME.rescued.ckpt' "$W/man-files"
    for sub in train sample info plot score fill; do
        check "man EXAMPLES: $sub" grep -q "^charrnn $sub " "$W/man-examples"
    done
    if command -v groff >/dev/null 2>&1; then
        check "groff formats the man page without warnings" bash -c "groff -man -ww -z '$TMP/out' 2>&1 | (! grep .)"
    fi
    # --- bash completion: syntax, then queries as bash makes them
    cr --completion bash; expect "--completion bash" 0
    cp "$TMP/out" "$W/charrnn.bash"
    cr --completion zsh; expect "--completion of an unknown shell" 2 "charrnn: --completion takes one shell: bash"
    check "completion script: bash -n" bash -n "$W/charrnn.bash"
    mkdir -p "$W/comp/dir" && : >"$W/comp/a.ckpt" && : >"$W/comp/b.txt"
    complete_words() {   # complete_words WORD...: COMPREPLY for the last word, sorted, one per line
        (cd "$W/comp" && bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _charrnn
                                  printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$W/charrnn.bash" "$@")
    }
    check "completes commands" test "$(complete_words charrnn s)" = "$(printf 'sample\nscore')"
    check "completes help's command" test "$(complete_words charrnn help p)" = "plot"
    check "completes train options" test "$(complete_words charrnn train --ce)" = "--cell"
    check "completes --cell values" test "$(complete_words charrnn train --cell '')" = "$(printf 'gru\nlstm\nrnn')"
    check "completes --optim values" test "$(complete_words charrnn train --optim a)" = "$(printf 'adagrad\nadam')"
    check "completes -m with checkpoints and directories" test "$(complete_words charrnn sample -m '')" = "$(printf 'a.ckpt\ndir')"
    check "completes -o with checkpoints" test "$(complete_words charrnn train data -o a)" = "a.ckpt"
    check "completes train's CORPUS with any file" test "$(complete_words charrnn train b)" = "b.txt"
    check "no files for sample's options' numbers" test -z "$(complete_words charrnn sample -n '')"
}
