# tests/cli_score.sh — `charrnn score`: usage errors, bad checkpoints, the exact table (files, a total, --lines,
# --per-char, --header), standard input, unknown symbols, empty and unreadable files, batching and threads, and
# agreement with the validation loss the trainer reports.
# Sourced by test.sh; its cli_run runs the tests, which see its variables: W (work directory), M, Z, B (the files of
# the fixtures small, zh, bytes), small (options of a small model). Each test makes the files it needs with
# `fixture NAME` (built once per W). cr/expect/check/fixture are defined in test.sh.

# bad options and values
cli_score_usage() {
    cr score --lines --per-char; expect "--lines with --per-char" 2 "charrnn score: --lines and --per-char cannot be combined"
    cr score --batch 0; expect "--batch 0" 2 "charrnn score: invalid value '0' for --batch: must be 1..4096"
    cr score --threads 0; expect "--threads 0" 2 "charrnn score: invalid value '0' for --threads: must be 1..256"
    cr score --header=1; expect "flag with a value" 2 "charrnn score: option '--header' takes no value"
    cr score --frob; expect "unknown option" 2 "charrnn score: unknown option '--frob'"
    check "usage error: the hint line" grep -qx "Try 'charrnn score --help'." "$TMP/err"
}

# checkpoints that cannot be read: one line, exit 1, nothing on stdout
cli_score_bad_checkpoints() {
    cr score -m "$W/none.ckpt" data/fortunes.txt
    expect "score: missing checkpoint" 1 "charrnn: cannot open '$W/none.ckpt': No such file or directory"
    check "score: missing checkpoint prints no rows" test ! -s "$TMP/out" -a "$(wc -l <"$TMP/err")" -eq 1
    cr score --model data/fortunes.txt data/fortunes.txt
    expect "score: foreign checkpoint" 1 "charrnn: 'data/fortunes.txt' is not a charrnn checkpoint (bad magic)"
}

# rows on the small model $M
cli_score_run() {
    fixture small
    local num='[0-9]+\.[0-9]{4}' tab=$'\t'
    head -n 3 data/fortunes.txt >"$W/s3.txt"
    printf 'ab\tc\\d\n' >"$W/esc.txt"
    printf 'ab中cd' >"$W/unk.txt"
    printf 'abcd' >"$W/unk0.txt"
    : >"$W/empty.txt"
    local c3; c3=$(wc -m <"$W/s3.txt")
    # one file; standard input, '-' and the file give the same row
    cr score -m "$M" --threads 1 "$W/s3.txt"; expect "score a file" 0
    check "file row: 3 numbers, chars, unknown, name" grep -qxE "$num$tab$num$tab$num$tab$c3${tab}0$tab$W/s3.txt" "$TMP/out"
    check "file row: one line only" test "$(wc -l <"$TMP/out")" -eq 1
    check "bits = nats / ln 2, perplexity = e^nats" awk -F'\t' '{ d1 = $1 - $2 / log(2); d2 = $3 - exp($2); exit !(d1 < 1e-4 && d1 > -1e-4 && d2 / $3 < 1e-3 && d2 / $3 > -1e-3) }' "$TMP/out"
    cut -f1-5 "$TMP/out" >"$W/s3.row"
    printf '%s\n' "score -m $M < s3.txt" >>"$TMP/ran.log"
    "$BIN" score -m "$M" --threads 1 <"$W/s3.txt" >"$W/stdin.out" 2>"$TMP/err"; RC=$?
    expect "score standard input" 0
    check "standard input: the same row, named -" test "$(cat "$W/stdin.out")" = "$(cat "$W/s3.row")$tab-"
    printf '%s\n' "score -m $M -" >>"$TMP/ran.log"
    "$BIN" score -m "$M" --threads 1 - <"$W/s3.txt" >"$W/dash.out" 2>/dev/null
    check "'-' is standard input" cmp -s "$W/stdin.out" "$W/dash.out"
    # several files: a total over all scored symbols
    cr score -m "$M" --threads 1 --header "$W/s3.txt" "$W/unk.txt" "$W/empty.txt"; expect "score three files" 0
    check "--header names the columns" test "$(head -n 1 "$TMP/out")" = "bits_per_char${tab}nats_per_char${tab}perplexity${tab}chars${tab}unknown${tab}name"
    check "unknown symbol counted, not scored" grep -qxE "$num$tab$num$tab$num${tab}4${tab}1$tab$W/unk.txt" "$TMP/out"
    check "empty file: '-' for the means, 0 chars" grep -qxF -- "-$tab-$tab-${tab}0${tab}0$tab$W/empty.txt" "$TMP/out"
    check "total: chars and unknown summed" grep -qxE "$num$tab$num$tab$num$tab$((c3 + 4))${tab}1${tab}total" "$TMP/out"
    check "total: nats averaged over all scored symbols" awk -F'\t' 'NR > 1 && $6 != "total" && $4 > 0 { s += $2 * $4; n += $4 }
        $6 == "total" { d = $2 - s / n; exit !(d < 2e-4 && d > -2e-4) }' "$TMP/out"
    check "5 lines: header, 3 files, total" test "$(wc -l <"$TMP/out")" -eq 5
    # unknown symbols are skipped: the others score as if the unknown one was not there
    cr score -m "$M" --threads 1 --per-char "$W/unk.txt"; expect "--per-char with an unknown symbol" 0
    check "--per-char: the unknown symbol's bits are '-'" grep -qxF "3${tab}中$tab-$tab$W/unk.txt" "$TMP/out"
    grep -v '中' "$TMP/out" | cut -f3 >"$W/unk.bits"
    cr score -m "$M" --threads 1 --per-char "$W/unk0.txt"
    check "an unknown symbol is not fed: the state carries on" test "$(cut -f3 "$TMP/out")" = "$(cat "$W/unk.bits")"
    # --per-char: one row per symbol, escaped, position from 1; bits agree with the file's mean
    cr score -m "$M" --threads 1 --per-char --header "$W/esc.txt"; expect "--per-char" 0
    check "--per-char header" test "$(head -n 1 "$TMP/out")" = "position${tab}symbol${tab}bits${tab}name"
    check "--per-char escapes tab, backslash and newline" test "$(tail -n +2 "$TMP/out" | cut -f1,2 | tr '\t\n' ':,')" = '1:a,2:b,3:\t,4:c,5:\\,6:d,7:\n,'
    cr score -m "$M" --threads 1 --per-char "$W/s3.txt"
    check "--per-char: one row per symbol" test "$(wc -l <"$TMP/out")" -eq "$c3"
    check "--per-char bits average to the file's bits per char" awk -F'\t' -v f="$(cut -f1 "$W/s3.row")" '{ s += $3 } END { d = s / NR - f; exit !(d < 2e-4 && d > -2e-4) }' "$TMP/out"
    # unreadable file: reported, the others still scored, exit 1 at the end
    cr score -m "$M" --threads 1 "$W/nope.txt" "$W/s3.txt"
    expect "a missing file among others" 1 "charrnn: cannot open '$W/nope.txt': No such file or directory"
    check "the other file is still scored, and the total" test "$(cut -f6 "$TMP/out" | tr '\n' ,)" = "$W/s3.txt,total,"
    cr score -m "$M" --threads 1 data; expect "a directory" 1 "charrnn: cannot read 'data': Is a directory"
    if [ -w /dev/full ]; then
        printf '%s\n' "score -m $M > /dev/full" >>"$TMP/ran.log"
        "$BIN" score -m "$M" --threads 1 "$W/s3.txt" >/dev/full 2>"$TMP/err"; RC=$?
        expect "score > /dev/full fails loudly" 1 "charrnn: cannot write output: No space left on device"
    fi
}

# --lines: one row per line, each line on its own; the same whatever the batch and threads
cli_score_lines() {
    fixture small
    local tab=$'\t'
    : >"$W/empty.txt"
    head -n 200 data/fortunes.txt >"$W/l200.txt"
    printf 'no newline at the end' >>"$W/l200.txt"
    cr score -m "$M" --threads 1 --lines "$W/l200.txt"; expect "--lines" 0
    cp "$TMP/out" "$W/lines.out"
    check "--lines: one row per line, the last one without a newline too" test "$(wc -l <"$W/lines.out")" -eq 201
    check "--lines: the name column is the line number" test "$(cut -f6 "$W/lines.out" | tr '\n' ' ')" = "$(seq -s ' ' 1 201) "
    check "--lines: the lines' chars (with their newlines) sum to the file's" test "$(awk -F'\t' '{ s += $4 } END { print s }' "$W/lines.out")" -eq "$(wc -m <"$W/l200.txt")"
    cr score -m "$M" --lines --batch 1 --threads 1 "$W/l200.txt"
    check "--lines --batch 1 --threads 1: the same bytes" cmp -s "$TMP/out" "$W/lines.out"
    cr score -m "$M" --lines --batch 7 --threads 3 "$W/l200.txt"
    check "--lines --batch 7 --threads 3: the same bytes" cmp -s "$TMP/out" "$W/lines.out"
    local i bad=0
    for i in 1 2 5 17 64 65 130 201; do   # a line scored as its own file gives its row
        sed -n "${i}p" "$W/l200.txt" >"$W/line.txt"   # GNU sed keeps the last line without its newline
        "$BIN" score -m "$M" --threads 1 "$W/line.txt" | cut -f1-5 >"$W/line.row"
        [ "$(cat "$W/line.row")" = "$(sed -n "${i}p" "$W/lines.out" | cut -f1-5)" ] || bad=1
    done
    printf '%s\n' "score -m $M line.txt (each line as a file)" >>"$TMP/ran.log"
    check "--lines: each line's row equals scoring the line as its own file" test $bad -eq 0
    cr score -m "$M" --threads 1 --lines "$W/l200.txt" "$W/empty.txt"
    check "--lines, two files: FILE:LINE names, no rows for an empty file, a total" test "$(cut -f6 "$TMP/out" | sed -n '1p;201p;202p' | tr '\n' ,)" = "$W/l200.txt:1,$W/l200.txt:201,total,"
}

# score equals the trainer's validation loss on the same text (--val 0.5 of a 10000-character ASCII corpus:
# the last 5000 characters are validated as one stream from the zero state, its first symbol unscored)
cli_score_validation() {
    head -c 10000 data/fortunes.txt >"$W/v.txt"
    tail -c 5000 "$W/v.txt" >"$W/vtail.txt"
    cr train "$W/v.txt" --hidden 24 --batch 4 --seq 16 --steps 30 --val 0.5 --threads 1 -q -o "$W/v.ckpt"
    expect "train for the validation check" 0
    cr info -m "$W/v.ckpt"
    local val; val=$(sed -n 's/^val loss: *\([0-9.]*\) nats.*/\1/p' "$TMP/out")
    cr score -m "$W/v.ckpt" --threads 1 --per-char "$W/vtail.txt"; expect "score the validation tail" 0
    check "score's symbols 2..5000 average to the validation loss $val (to 4 decimals)" awk -F'\t' -v v="$val" \
        'NR > 1 { s += $3 } END { m = sprintf("%.4f", s / (NR - 1) * log(2)); d = m - v; exit !(NR == 5000 && d < 1.5e-4 && d > -1.5e-4) }' "$TMP/out"
}
