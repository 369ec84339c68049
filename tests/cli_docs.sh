# tests/cli_docs.sh — the documentation against the binary: every `--help` quoted in README.md and
# docs/*.md is exactly what the binary prints. Must not know what the help says: it only compares.
# Sourced by test.sh; the functions run inside its cli(). They use BIN (the binary under test), ROOT (the
# repository), TMP and LABEL, and report with ok/bad, all test.sh's.
#
# A quoted help is a fenced block whose first line is the command that prints it, `$ ./charrnn CMD --help`
# (or `$ ./charrnn --help` for the general help; `$ charrnn ...` counts too), followed by its output to the
# closing fence; or a fenced block that starts with the output itself, a line `Usage: charrnn CMD ...`.

# docs_help_blocks FILE DIR: writes the text of each help block of FILE to DIR/N (N = 1, 2, ...) and prints
# one line "N LINE CMD" per block: its line in FILE and the command ("-" for the general help).
docs_help_blocks() {
    awk -v dir="$2" '
        function emit() { if (cmd != "") { close(out); print n, start, cmd } cmd = "" }
        /^ *```/ {
            if (inb) { inb = 0; emit(); next }
            inb = 1; first = 1; start = FNR + 1; indent = index($0, "`") - 1; next
        }
        !inb { next }
        { line = substr($0, indent + 1) }   # a block inside a list item is indented by the fence
        first {
            first = 0
            if (match(line, /^\$ (\.\/)?charrnn( [a-z]+)? --help$/)) {
                k = split(line, w, " "); cmd = k == 4 ? w[3] : "-"
                n++; out = dir "/" n; printf "" >out; next
            }
            if (line ~ /^Usage: charrnn /) {
                split(line, w, " "); cmd = w[3] == "COMMAND" ? "-" : w[3]
                n++; out = dir "/" n; printf "" >out
            }
        }
        cmd != "" { print line >out }
    ' "$1"
}

# every --help block in README.md and docs/*.md is the binary's `CMD --help`, byte for byte; every command's
# help is quoted in docs/commands.md
cli_docs_help() {
    local D="$TMP/docs-help" f n line cmd what seen=" "
    for f in "$ROOT"/README.md "$ROOT"/docs/*.md; do
        [ -f "$f" ] || continue
        rm -rf "$D" && mkdir -p "$D"
        while read -r n line cmd; do
            if [ "$cmd" = - ]; then
                "$BIN" --help >"$D/want" 2>&1; what="charrnn --help"
            else
                "$BIN" "$cmd" --help >"$D/want" 2>&1; what="charrnn $cmd --help"
            fi
            what="${f#"$ROOT"/}:$line: the quoted '$what'"
            if cmp -s "$D/want" "$D/$n"; then
                ok "$LABEL $what is the binary's"
            else
                bad "$LABEL $what differs from the binary's (- doc, + binary):"
                diff -u "$D/$n" "$D/want" | sed -n '3,12s/^/#   /p'
            fi
            [ "${f##*/}" = commands.md ] && seen="$seen$cmd "
        done < <(docs_help_blocks "$f" "$D")
    done
    for cmd in train sample fill info score plot; do
        case "$seen" in
            *" $cmd "*) ok "$LABEL docs/commands.md quotes 'charrnn $cmd --help'" ;;
            *) bad "$LABEL docs/commands.md quotes 'charrnn $cmd --help'" ;;
        esac
    done
}
