# tests/cli_info.sh — `charrnn info`, and reading checkpoints: the report, and every kind of bad checkpoint.
# Sourced by test.sh; its cli_run runs the tests, which see its variables: W (work directory), M, Z, B (the files of
# the fixtures small, zh, bytes), small (options of a small model). Each test makes the files it needs with
# `fixture NAME` (built once per W). cr/expect/check/fixture are defined in test.sh.

# bad options
cli_info_usage() {
    cr info -m; expect "info -m without value" 2 "charrnn info: option '-m' needs a value (FILE)"
}

# the report on the small model
cli_info_report() {
    fixture small
    cr info -m "$M"; expect "info" 0
    check "info names the model" grep -q "^cell: *rnn" "$TMP/out"
    check "info shows steps and val loss" grep -qE "^steps: *60 .*" "$TMP/out"
    check "info shows the vocabulary" grep -qE "^vocabulary: *106 UTF-8 characters" "$TMP/out"
    check "info shows the parameter count" grep -qE "^parameters: *[0-9]+" "$TMP/out"
    check "info says resumable" grep -q "^resumable: *yes" "$TMP/out"
    cp "$TMP/out" "$W/info.txt"
    # --- info --json: the same fields, numbers as numbers
    cr info -m "$M" --json; expect "info --json" 0
    check "info --json is one JSON object" json_lines "$TMP/out"
    check "info --json: one line" test "$(wc -l <"$TMP/out")" -eq 1
    check "info --json: numbers as numbers" grep -qE '"layers":1,"hidden":48,"bidirectional":false,"vocabulary":106,.*"steps":60,' "$TMP/out"
    check "info --json: the parameter count of info" grep -qF "\"parameters\":$(sed -n 's/^parameters: *//p' "$W/info.txt")," "$TMP/out"
    check "info --json: resumable, with the current lr and the schedule" grep -qE '"resumable":true,"lr_now":0.003,"lr_schedule":"[a-z]+","lr_floor":[0-9.]+,"warmup":[0-9]+,"ema":[0-9.]+,"shards":1\}$' "$TMP/out"
    if command -v python3 >/dev/null 2>&1; then
        check "info --json: every field, typed" python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
keys = "checkpoint cell layers hidden bidirectional vocabulary unit parameters precision batch seq optim lr lr_decay clip dropout val seed forget_bias steps characters seconds val_loss val_bits best_val_loss origin origin_steps origin_vocabulary origin_best_val_loss resumable lr_now lr_schedule lr_floor warmup ema shards".split()
assert list(d) == keys, list(d)
assert all(type(d[k]) is int for k in "layers hidden vocabulary parameters batch seq seed steps characters".split())
assert all(type(d[k]) in (int, float) for k in "lr lr_decay clip dropout val forget_bias seconds val_loss val_bits best_val_loss lr_now lr_floor ema".split())
assert type(d["warmup"]) is int and d["lr_schedule"] in ("constant", "cosine", "linear")
assert d["cell"] == "rnn" and d["optim"] == "adam" and d["resumable"] is True and d["origin"] is None
assert d["bidirectional"] is False' "$TMP/out"
    fi
    cr info -m "$W/m.best.ckpt" --json; expect "info --json of a weights-only file" 0
    check "info --json: not resumable, lr_now and the schedule null" grep -qE '"resumable":false,"lr_now":null,"lr_schedule":null,"lr_floor":null,"warmup":null,"ema":null,"shards":null\}$' "$TMP/out"
}

# missing, foreign, truncated, corrupt, future, padded checkpoints
cli_info_bad_checkpoints() {
    fixture small
    # --- bad checkpoints
    cr sample -m "$W/none.ckpt"; expect "missing checkpoint" 1 "charrnn: cannot open '$W/none.ckpt': No such file or directory"
    cr sample -m data/fortunes.txt; expect "foreign file" 1 "charrnn: 'data/fortunes.txt' is not a charrnn checkpoint (bad magic)"
    head -c 1000 "$M" >"$W/trunc.ckpt"
    cr sample -m "$W/trunc.ckpt"
    expect "truncated checkpoint" 1 "charrnn: '$W/trunc.ckpt' is truncated (1000 bytes; its header says $(wc -c <"$M"))"
    head -c 100 "$M" >"$W/trunc2.ckpt"
    cr info -m "$W/trunc2.ckpt"; expect "checkpoint shorter than its header" 1 "charrnn: '$W/trunc2.ckpt' is truncated (100 bytes; the header alone needs 132)"
    cp "$M" "$W/flip.ckpt"
    printf '\x55' | dd of="$W/flip.ckpt" bs=1 seek=5000 conv=notrunc status=none
    cr sample -m "$W/flip.ckpt"
    check "bit-flipped checkpoint: exit 1" test $RC -eq 1
    check "bit-flipped checkpoint: says corrupt (CRC-32)" grep -q "^charrnn: '$W/flip.ckpt' is corrupt (CRC-32 [0-9a-f]*, expected [0-9a-f]*)$" "$TMP/err"
    cp "$M" "$W/future.ckpt"
    printf '\x07' | dd of="$W/future.ckpt" bs=1 seek=4 conv=notrunc status=none
    cr info -m "$W/future.ckpt"
    expect "future-version checkpoint" 1 "charrnn: '$W/future.ckpt' is checkpoint format version 7; this charrnn reads versions 1 to 3 (written by a newer charrnn)"
    cat "$M" data/tang.txt >"$W/long.ckpt"
    cr info -m "$W/long.ckpt"; check "trailing junk refused" grep -q "unexpected bytes after its end" "$TMP/err"
    cr info -m data; expect "directory as checkpoint" 1 "charrnn: cannot read 'data': Is a directory"
}

# Names that are not UTF-8 (a checkpoint's, an origin's, train's -o) are written into JSON as U+FFFD per byte of
# an invalid sequence (\ufffd), valid UTF-8 as it is: every line is JSON a strict parser reads.
cli_info_json_names() {
    fixture small
    local bad="$W/bad"$'\xff\xc3('"é.ckpt" want="$W/bad"$'\ufffd\ufffd'"(é.ckpt"
    cp "$M" "$bad"
    cr info --json -m "$bad"; expect "info --json of a checkpoint named in invalid UTF-8" 0
    check "info --json: strict JSON" json_lines "$TMP/out"
    check "info --json: each byte of an invalid sequence is U+FFFD" python3 -c 'import json, sys
assert json.loads(open(sys.argv[1], encoding="utf-8").read())["checkpoint"] == sys.argv[2]' "$TMP/out" "$want"
    cr train data/fortunes.txt --init "$bad" --steps 1 --eval-every 1 --preview 0 --threads 1 -o "$bad.2.ckpt" \
        --progress jsonl
    expect "train --progress jsonl with -o and --init named in invalid UTF-8" 0
    check "train --progress jsonl: strict JSON lines" json_lines "$TMP/err"
    cr info --json -m "$bad.2.ckpt"
    check "info --json of a model fine-tuned from a base named in invalid UTF-8: strict JSON" json_lines "$TMP/out"
    check "info --json: the origin as U+FFFD" grep -qF '\ufffd\ufffd(' "$TMP/out"
}
