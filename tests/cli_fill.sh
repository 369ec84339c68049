# tests/cli_fill.sh — bidirectional models and `charrnn fill`: training one, fill from --text, a FILE and stdin,
# --mask (and its alias --blank), --top, --passes, threads, drawing (-t, --top-k, --top-p, --seed), a forward model
# (from the left context only), `score` and `info --json` of a bidirectional model, and the errors (no blank, a bad
# --mask, drawing options without -t, sample and resume).
# Sourced by test.sh; its cli_run runs the tests, which see its variables: W (work directory), M (the small forward
# model of fixture small), small (options of a small model). cr/expect/check/fixture are defined in test.sh.

# bad options and values (no model needed)
cli_fill_usage() {
    cr fill --top 0; expect "fill --top 0" 2 "charrnn fill: invalid value '0' for --top: must be 1..1000"
    cr fill --passes 0; expect "fill --passes 0" 2 "charrnn fill: invalid value '0' for --passes: must be 1..1000"
    cr fill --text "a_" extra.txt; expect "fill --text and a FILE" 2 "charrnn fill: give either --text or a FILE, not both"
    cr fill a.txt b.txt; expect "fill takes one FILE" 2 "charrnn fill: unexpected argument 'b.txt'"
    # the draw options are sample's: the same checks, the same messages
    cr fill -t -1; expect "fill -t -1" 2 "charrnn fill: invalid value '-1' for -t: must be 0..100"
    cr fill --temperature 101; expect "fill --temperature 101" 2 "charrnn fill: invalid value '101' for --temperature: must be 0..100"
    cr fill -t 1 --top-p 0; expect "fill --top-p 0" 2 "charrnn fill: invalid value '0' for --top-p: must be > 0 and <= 1"
    cr fill -t 1 --top-k 1.5; expect "fill --top-k 1.5" 2 "charrnn fill: invalid value '1.5' for --top-k: not a whole number"
    cr fill -t 1 --seed -1; expect "fill --seed -1" 2 "charrnn fill: invalid value '-1' for --seed: must be 0..18446744073709551615"
    # fill takes the likeliest symbol by default: a draw option without -t above 0 would do nothing
    cr fill --top-k 3; expect "fill --top-k without -t" 2 "charrnn fill: --top-k needs -t/--temperature above 0 (fill takes the likeliest symbol by default)"
    cr fill -t 0 --top-p 0.5; expect "fill --top-p with -t 0" 2 "charrnn fill: --top-p needs -t/--temperature above 0 (fill takes the likeliest symbol by default)"
    cr fill --seed 3; expect "fill --seed without -t" 2 "charrnn fill: --seed needs -t/--temperature above 0 (fill takes the likeliest symbol by default)"
}

# a bidirectional model of the corpus, then fill with it (BI: the model)
cli_fill_run() {
    fixture small
    local BI="$W/bi.ckpt"
    cr train data/fortunes.txt --bidirectional --cell gru --layers 1 --hidden 64 --batch 16 --seq 48 --lr 0.004 \
        --steps 300 --eval-every 0 --val 0.01 --threads 2 -q -o "$BI"   # (--val: its validation is slow under ASan)
    expect "train --bidirectional" 0
    cr info -m "$BI"; check "info shows the direction" grep -q "^direction: *bidirectional" "$TMP/out"
    cr info -m "$M"; check "info: a forward model" grep -q "^direction: *forward$" "$TMP/out"
    cr sample -m "$BI" -n 10; expect "sample a bidirectional model" 1 "charrnn: a bidirectional model cannot generate left to right; use fill"
    cr train data/fortunes.txt --resume --bidirectional -o "$BI"
    expect "--bidirectional with --resume" 2 "charrnn train: --bidirectional cannot change when resuming: the checkpoint fixes it"
    cr train data/fortunes.txt --resume --steps 310 --eval-every 0 --threads 2 -q -o "$BI"; expect "resume a bidirectional run" 0
    # the blank of a common word, from both sides
    cr fill -m "$BI" --text "He said that th_ world is a stage."; expect "fill --text" 0
    check "fill recovers 'the'" test "$(cat "$TMP/out")" = "He said that the world is a stage."
    check "nothing on stderr" test ! -s "$TMP/err"
    cp "$TMP/out" "$W/fill1"
    printf 'He said that th_ world is a stage.' >"$W/blank.txt"
    cr fill -m "$BI" "$W/blank.txt"; check "fill FILE == fill --text" cmp -s "$TMP/out" "$W/fill1"
    printf '%s\n' "fill -m $BI < blank.txt" >>"$TMP/ran.log"
    "$BIN" fill -m "$BI" <"$W/blank.txt" >"$W/fill2" 2>"$TMP/err"
    check "fill from standard input == fill --text" cmp -s "$W/fill2" "$W/fill1"
    cr fill -m "$BI" --threads 1 --text "He said that th_ world is a stage."
    check "fill: 1 thread == the default" cmp -s "$TMP/out" "$W/fill1"
    cr fill -m "$BI" --precision bf16 --text "He said that th_ world is a stage."; expect "fill --precision bf16" 0
    check "fill --precision bf16 still recovers 'the'" test "$(cat "$TMP/out")" = "He said that the world is a stage."
    cr fill -m "$BI" --mask '#' --text "He said that th# world is_a stage."; expect "fill --mask" 0
    check "--mask '#' fills only '#'" test "$(cat "$TMP/out")" = "He said that the world is_a stage."
    cr fill -m "$BI" --blank '#' --text "He said that th# world is_a stage."; expect "fill --blank (the alias of --mask)" 0
    check "--blank '#' is --mask '#'" test "$(cat "$TMP/out")" = "He said that the world is_a stage."
    cr fill -m "$BI" -t 0 --text "He said that th_ world is a stage."
    check "fill -t 0 is the default (the likeliest)" cmp -s "$TMP/out" "$W/fill1"
    # --top: one line per blank, position then N symbols and probabilities, likeliest first
    cr fill -m "$BI" --top 3 --text "Th_ end_"; expect "fill --top" 0
    check "--top 3: two lines of 7 fields" test "$(awk -F'\t' 'NF == 7' "$TMP/out" | wc -l)" -eq 2 -a "$(wc -l <"$TMP/out")" -eq 2
    check "--top 3: the blanks' positions" test "$(cut -f1 "$TMP/out" | tr '\n' ' ')" = "2 7 "
    check "--top 3: probabilities descending, summing to at most 1" \
        awk -F'\t' '{ if (!($3 >= $5 && $5 >= $7 && $3 + $5 + $7 <= 1.0001)) exit 1 }' "$TMP/out"
    check "--top: 'e' is the likeliest for 'Th_'" test "$(head -n 1 "$TMP/out" | cut -f2)" = "e"
    # several blanks: each pass re-fills all given the others
    cr fill -m "$BI" --passes 1 --text "_n the e_d"; expect "fill --passes 1" 0
    cr fill -m "$BI" --text "_____"; expect "a text of blanks only" 0
    check "five blanks give five symbols" test "$(wc -m <"$TMP/out")" -eq 5
    # errors
    cr fill -m "$BI" --text "no blank here"; expect "fill without a blank" 1 "charrnn: no blank '_' in the text (choose the blank character with --mask)"
    cr fill -m "$BI" --text ""; expect "fill an empty text" 1 "charrnn: no blank '_' in the text (choose the blank character with --mask)"
    cr fill -m "$BI" --mask ab --text "ab"; expect "fill --mask ab" 2 "charrnn fill: --mask must be one character"
    cr fill -m "$BI" --blank '' --text "ab"; expect "fill --blank ''" 2 "charrnn fill: --blank must be one character"
    cr fill -m "$BI" --text "th_ 中"; expect "unknown symbols warn" 0 "charrnn: warning: 1 symbol of the text is not in the model's vocabulary: read as no input, printed unchanged"
    check "unknown symbols are printed unchanged" bash -c "grep -q '中' '$TMP/out'"
    cr fill -m "$W/none.ckpt" --text "a_"; expect "fill: missing checkpoint" 1 "charrnn: cannot open '$W/none.ckpt': No such file or directory"
    cli_fill_draw "$BI"
    cli_fill_forward
    cli_fill_score "$BI"
}

# drawing instead of the likeliest: the same --seed gives the same fills on any --threads, another seed others
cli_fill_draw() {
    local BI=$1 t="He said that th_ w___d is a stage, and _ll the men and women merely pl_yers."
    cr fill -m "$BI" -t 1 --top-k 20 --top-p 0.95 --seed 7 --passes 3 --text "$t"; expect "fill -t 1 --seed 7" 0
    cp "$TMP/out" "$W/draw1"
    check "drawn fills: only the blanks change" bash -c '[[ $(cat "$1") == $2 ]]' _ "$W/draw1" "${t//_/?}"
    cr fill -m "$BI" -t 1 --top-k 20 --top-p 0.95 --seed 7 --passes 3 --threads 1 --text "$t"
    check "the same --seed, 1 thread: the same fills" cmp -s "$TMP/out" "$W/draw1"
    cr fill -m "$BI" -t 1 --top-k 20 --top-p 0.95 --seed 7 --passes 3 --text "$t"
    check "the same --seed again: the same fills" cmp -s "$TMP/out" "$W/draw1"
    cr fill -m "$BI" -t 2 --seed 1 --text "____________________"; cp "$TMP/out" "$W/draw2"
    cr fill -m "$BI" -t 2 --seed 2 --text "____________________"
    check "another --seed: other fills" bash -c "! cmp -s '$TMP/out' '$W/draw2'"
    check "-t 2 draws: not the likeliest fill" bash -c "! '$BIN' fill -m '$BI' --text ____________________ | cmp -s - '$W/draw2'"
}

# a forward model fills from the left context only, left to right: each blank is what `sample -t 0` writes after the
# text before it (earlier blanks filled), and --top's probability is 2^-bits of `score --per-char` there
cli_fill_forward() {
    local msg="charrnn: '$M' is a forward model: blanks are filled from the left context only" one two
    cr sample -m "$M" --prime "Th" -t 0 -n 1 --seed 1; one=$(cat "$TMP/out")
    cr sample -m "$M" --prime "$one c" -t 0 -n 1 --seed 1; two=$(cat "$TMP/out")
    cr fill -m "$M" --text "Th_ c_t"; expect "fill with a forward model" 0 "$msg"
    check "forward fill == sample -t 0 after each blank's left context" test "$(cat "$TMP/out")" = "${two}t"
    cp "$TMP/out" "$W/ffill"
    cr fill -m "$M" --threads 1 --text "Th_ c_t"; check "forward fill: 1 thread == 2" cmp -s "$TMP/out" "$W/ffill"
    cr fill -m "$M" --top 3 --text "Th_ c_t"; expect "forward fill --top" 0 "$msg"
    check "forward --top: the blanks' positions" test "$(cut -f1 "$TMP/out" | tr '\n' ' ')" = "2 5 "
    check "forward --top: the likeliest is the fill" test "$(cut -f2 "$TMP/out" | tr -d '\n')" = "${one:2:1}${two:5:1}"
    cr score -m "$M" --per-char "$W/ffill"
    check "forward --top's probability == 2^-bits of score --per-char" awk -F'\t' -v top="$("$BIN" fill -m "$M" --top 1 --text "Th_ c_t" 2>/dev/null | cut -f3 | tr '\n' ' ')" \
        'BEGIN { split(top, p, " ") } $1 == 3 || $1 == 6 { d = 2 ^ -$3 - p[++k]; if (d > 0.0002 || d < -0.0002) exit 1 } END { exit k != 2 }' "$TMP/out"
    cr fill -m "$M" -t 1 --seed 3 --text "Th_ c_t and th_ __"; expect "forward fill -t 1 --seed 3" 0 "$msg"
    cp "$TMP/out" "$W/fdraw"
    cr fill -m "$M" -t 1 --seed 3 --threads 1 --text "Th_ c_t and th_ __"
    check "forward drawn fills: the same --seed on 1 thread" cmp -s "$TMP/out" "$W/fdraw"
}

# score on a bidirectional model: cloze losses, said so; --lines and --per-char; far below a forward model's bits on
# the same text (same cell, size and steps), yet not near 0 (a model that saw each symbol would score ~0)
cli_fill_score() {
    local BI=$1 FW="$W/fw.ckpt" note="charrnn: '$1' is a bidirectional model: these are cloze losses (each symbol given both sides), not a likelihood of the text"
    head -n 40 data/fortunes.txt >"$W/forty.txt"
    head -n 1 data/fortunes.txt >"$W/line1.txt"
    cr score -m "$BI" "$W/forty.txt"; expect "score a bidirectional model" 0 "$note"
    local bi fw
    bi=$(cut -f1 "$TMP/out")
    cr train data/fortunes.txt --cell gru --layers 1 --hidden 64 --batch 16 --seq 48 --lr 0.004 --steps 300 --eval-every 0 \
        --val 0.01 --threads 2 -q -o "$FW"
    cr score -m "$FW" "$W/forty.txt"; fw=$(cut -f1 "$TMP/out")
    check "cloze bits ($bi) at least 0.5 bit below the forward model's ($fw), above 0.5" \
        awk -v b="$bi" -v f="$fw" 'BEGIN { exit !(b < f - 0.5 && b > 0.5) }'
    cr score -m "$BI" --per-char "$W/forty.txt"; expect "score --per-char, bidirectional" 0 "$note"
    check "--per-char: one row per symbol, their mean == the file's bits" awk -F'\t' -v b="$bi" -v n="$(wc -m <"$W/forty.txt")" \
        '{ s += $3; k++ } END { d = s / k - b; exit !(k == n && d < 0.0001 && d > -0.0001) }' "$TMP/out"
    cr score -m "$BI" --lines "$W/forty.txt"; expect "score --lines, bidirectional" 0 "$note"
    head -n 1 "$TMP/out" >"$W/row1"
    cr score -m "$BI" "$W/line1.txt"
    check "--lines: line 1 scored within its line == the line alone" test "$(cut -f1-5 "$W/row1")" = "$(cut -f1-5 "$TMP/out")"
    cr info -m "$BI" --json; check "info --json: bidirectional true" grep -q '"hidden":64,"bidirectional":true,' "$TMP/out"
    cr info -m "$FW" --json; check "info --json: a forward model, bidirectional false" grep -q '"bidirectional":false,' "$TMP/out"
}
