# tests/cli_fill.sh — bidirectional models and `charrnn fill`: training one, fill from --text, a FILE and stdin,
# --blank, --top, --passes, threads, and the errors (a forward model, no blank, a bad --blank, sample and resume).
# Sourced by test.sh; the functions run inside its cli(), whose locals they see: W (work directory), M
# (the small forward model), small (options of a small model). cr/expect/check are defined in test.sh.

# bad options and values (no model needed)
cli_fill_usage() {
    cr fill --top 0; expect "fill --top 0" 2 "charrnn fill: invalid value '0' for --top: must be 1..1000"
    cr fill --passes 0; expect "fill --passes 0" 2 "charrnn fill: invalid value '0' for --passes: must be 1..1000"
    cr fill --text "a_" extra.txt; expect "fill --text and a FILE" 2 "charrnn fill: give either --text or a FILE, not both"
    cr fill a.txt b.txt; expect "fill takes one FILE" 2 "charrnn fill: unexpected argument 'b.txt'"
}

# a bidirectional model of the corpus, then fill with it (BI: the model)
cli_fill_run() {
    local BI="$W/bi.ckpt"
    cr train data/fortunes.txt --bidirectional --cell gru --layers 1 --hidden 64 --batch 16 --seq 48 --lr 0.004 \
        --steps 300 --eval-every 0 --threads 2 -q -o "$BI"
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
    cr fill -m "$BI" --blank '#' --text "He said that th# world is_a stage."; expect "fill --blank" 0
    check "--blank '#' fills only '#'" test "$(cat "$TMP/out")" = "He said that the world is_a stage."
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
    cr fill -m "$M" --text "th_"; expect "fill with a forward model" 1 "charrnn: '$M' is a forward-only model: fill needs one trained with --bidirectional"
    cr fill -m "$BI" --text "no blank here"; expect "fill without a blank" 1 "charrnn: no blank '_' in the text (choose the blank character with --blank)"
    cr fill -m "$BI" --text ""; expect "fill an empty text" 1 "charrnn: no blank '_' in the text (choose the blank character with --blank)"
    cr fill -m "$BI" --blank ab --text "ab"; expect "fill --blank ab" 2 "charrnn fill: --blank must be one character"
    cr fill -m "$BI" --blank '' --text "ab"; expect "fill --blank ''" 2 "charrnn fill: --blank must be one character"
    cr fill -m "$BI" --text "th_ 中"; expect "unknown symbols warn" 0 "charrnn: warning: 1 symbol of the text is not in the model's vocabulary: read as no input, printed unchanged"
    check "unknown symbols are printed unchanged" bash -c "grep -q '中' '$TMP/out'"
    cr fill -m "$W/none.ckpt" --text "a_"; expect "fill: missing checkpoint" 1 "charrnn: cannot open '$W/none.ckpt': No such file or directory"
}
