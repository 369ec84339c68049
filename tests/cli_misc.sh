# tests/cli_misc.sh — the command line as a whole: usage, --help of every command, --version, and the check that every
# flag --help shows was exercised by some test.
# Sourced by test.sh; the functions run inside its cli(), whose locals they see: W (work directory), M
# (the small model), Z, B, small (options of a small model). cr/expect/check are defined in test.sh.

# no arguments, --help, --version, an unknown command; each command's --help (saved for the coverage check)
cli_misc_usage() {
    # --- usage
    cr; expect "no arguments is a usage error" 2
    cr --help; expect "--help" 0
    check "--help goes to stdout" grep -q "^Usage: charrnn COMMAND" "$TMP/out"
    cr --version; expect "--version" 0
    cr frobnicate; expect "unknown command" 2 "charrnn: unknown command 'frobnicate'"
    for sub in train sample info plot score; do
        cr $sub --help; expect "$sub --help" 0
        check "$sub --help on stdout, nothing on stderr" test -s "$TMP/out" -a ! -s "$TMP/err"
        cp "$TMP/out" "$W/help-$sub"
        grep -o -- '--[a-z][a-z-]*' "$TMP/out" | sort -u >"$W/flags-$sub"
    done
}

# every flag that --help shows was exercised (ran.log holds every cr and every hand-run command)
cli_misc_help_coverage() {
    # --- every flag that --help shows was exercised above
    for sub in train sample info plot score; do
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
