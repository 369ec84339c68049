# tests/cli_sample.sh — `charrnn sample`: usage errors, seeds and threads, temperature, top-k/p, prime, other cells, Chinese,
# pipes and full disks.
# Sourced by test.sh; its cli_run runs the tests, which see its variables: W (work directory), M, Z, B (the files of
# the fixtures small, zh, bytes), small (options of a small model). Each test makes the files it needs with
# `fixture NAME` (built once per W). cr/expect/check/fixture are defined in test.sh.

# bad options and values
cli_sample_usage() {
    cr sample -n 5x; expect "-n 5x" 2 "charrnn sample: invalid value '5x' for -n: not a whole number"
    cr sample -n -3; expect "-n -3" 2 "charrnn sample: invalid value '-3' for -n: must be 0..1000000000000000"
    cr sample --seed 18446744073709551616; expect "--seed beyond 64 bits" 2 "charrnn sample: invalid value '18446744073709551616' for --seed: must be 0..18446744073709551615"
    cr sample --temperature -1; expect "--temperature -1" 2 "charrnn sample: invalid value '-1' for --temperature: must be 0..100"
    cr sample -t ''; expect "-t ''" 2 "charrnn sample: invalid value '' for -t: not a number"
    cr sample --top-p 0; expect "--top-p 0" 2 "charrnn sample: invalid value '0' for --top-p: must be > 0 and <= 1"
    cr sample --top-k 1.5; expect "--top-k 1.5" 2 "charrnn sample: invalid value '1.5' for --top-k: not a whole number"
    cr sample extra; expect "sample takes no file" 2 "charrnn sample: unexpected argument 'extra'"
    cr sample --count 0; expect "--count 0" 2 "charrnn sample: invalid value '0' for --count: must be 1..4096"
    cr sample --count 4097; expect "--count 4097" 2 "charrnn sample: invalid value '4097' for --count: must be 1..4096"
    cr sample --lines 0; expect "--lines 0" 2 "charrnn sample: invalid value '0' for --lines: must be 1..1000000000000000"
    cr sample --stop ''; expect "--stop ''" 2 "charrnn sample: invalid value '' for --stop: must not be empty"
    cr sample --stop-exclude; expect "--stop-exclude alone" 2 "charrnn sample: --stop-exclude needs --stop"
    cr sample --sep , --jsonl; expect "--sep with --jsonl" 2 "charrnn sample: --sep and --jsonl cannot be used together"
    cr sample --line-starts ''; expect "--line-starts ''" 2 "charrnn sample: invalid value '' for --line-starts: must not be empty"
}

# ends_once FILE STR: FILE ends with STR, which occurs nowhere earlier in it
ends_once() { local s; s=$(cat "$1"; printf x); s=${s%x}; [[ $s == *"$2" ]] && [[ ${s%"$2"} != *"$2"* ]]; }
# is_plus FILE1 FILE2 STR: FILE1 is FILE2's bytes followed by STR
is_plus() { [ "$(cat "$1"; printf x)" = "$(cat "$2"; printf '%s' "$3"; printf x)" ]; }
# newline_then FILE1 FILE2: FILE1 is a newline followed by FILE2's bytes
newline_then() { [ "$(cat "$1"; printf x)" = "$(printf '\n'; cat "$2"; printf x)" ]; }
# lines_exactly FILE N: FILE has N newlines and ends with one
lines_exactly() { [ "$(tr -cd '\n' <"$1" | wc -c)" -eq "$2" ] && [ "$(tail -c 1 "$1" | od -An -tx1)" = " 0a" ]; }
# lines_begin FILE TEXT: line i of FILE begins with the i-th character of TEXT (a UTF-8 locale: characters)
lines_begin() {
    local -a l
    mapfile -t l <"$1"
    [ "${#l[@]}" -eq "${#2}" ] || return 1
    for ((i = 0; i < ${#2}; i++)); do [[ ${l[i]} == "${2:i:1}"* ]] || return 1; done
}
# first_part FILE SEP FILE2: the part of FILE before the first SEP is FILE2's bytes
first_part() { local s; s=$(cat "$1"; printf x); s=${s%x}; [ "${s%%"$2"*}x" = "$(cat "$3"; printf x)" ]; }

# fixture zh: a model $Z of Chinese text (a vocabulary of thousands)
fixture_zh() { cr train data/tang.txt --hidden 32 --batch 8 --seq 16 --steps 10 -q -o "$Z"; }

# sampling the models of fixtures small, bytes, lstm, gru, zh (the run that made zh)
cli_sample_run() {
    fixture small
    fixture bytes
    fixture lstm
    fixture gru
    # --- sampling
    cr sample -m "$M" -n 300 --seed 5; expect "sample" 0
    cp "$TMP/out" "$W/s1"
    check "nothing on stderr while sampling" test ! -s "$TMP/err"
    check "exactly -n symbols (300 characters)" test "$(wc -m <"$W/s1")" -eq 300
    if command -v script >/dev/null 2>&1; then   # on a terminal the text ends with a newline (the pty adds \r)
        script -qec "$BIN sample -m $M -n 20 --seed 3" /dev/null >"$W/stty.out" 2>&1 </dev/null
        "$BIN" sample -m "$M" -n 20 --seed 3 >"$W/spipe.out"
        printf '%s\n' "sample -n --seed (tty)" >>"$TMP/ran.log"
        { tr '\n' '\001' <"$W/spipe.out" | sed 's/\x01/\r\n/g'; printf '\r\n'; } >"$W/sexp.out"
        check "sample on a terminal ends with a newline" cmp -s "$W/stty.out" "$W/sexp.out"
        check "sample in a pipe does not (exactly -n symbols)" test "$(tail -c 1 "$W/spipe.out" | od -An -c | tr -d ' ')" != '\n'
    fi
    cr sample -m "$M" -n 300 --seed 5; check "same seed, same bytes" cmp -s "$TMP/out" "$W/s1"
    cr sample -m "$M" -n 300 --seed 5 --threads 3; check "same seed on 3 threads, same bytes" cmp -s "$TMP/out" "$W/s1"
    cr sample --threads 0; expect "--threads 0" 2 "charrnn sample: invalid value '0' for --threads: must be 1..256"
    cr sample -m "$M" -n 300 --seed 6; check "another seed, other bytes" bash -c "! cmp -s '$TMP/out' '$W/s1'"
    cr sample -m "$M" -n 0; expect "-n 0" 0
    check "-n 0 prints nothing" test ! -s "$TMP/out"
    cr sample -m "$M" -n 200 -t 0; cp "$TMP/out" "$W/argmax"
    cr sample -m "$M" -n 200 --temperature 0 --seed 99
    check "temperature 0 is argmax: independent of the seed" cmp -s "$TMP/out" "$W/argmax"
    cr sample -m "$M" -n 100 --top-k 3 --seed 1; expect "--top-k" 0
    cr sample -m "$M" -n 100 --top-p 0.5 --seed 1; expect "--top-p" 0
    cr sample -m "$M" -n 50 --prime "The " --length 50 --seed 2; expect "--prime" 0
    check "the prime is printed first" bash -c "head -c 4 '$TMP/out' | grep -q '^The '"
    cr sample -m "$M" -n 20 --prime "Zeta中" --seed 2
    expect "unknown prime characters warn" 0 "charrnn: warning: 1 symbol of --prime is not in the model's vocabulary and was skipped"
    cr sample --model "$B" -n 100 --seed 3; expect "sample a --bytes model" 0
    check "--bytes model: exactly -n bytes" test "$(wc -c <"$TMP/out")" -eq 100
    cr sample -m "$W/lstm.ckpt" -n 50 --seed 3; expect "sample lstm" 0
    cr sample -m "$W/gru.ckpt" -n 50 --seed 3; expect "sample gru" 0
    # Chinese: vocabulary of thousands, output valid UTF-8
    fixture zh
    fixture_result zh
    expect "train on Chinese text" 0
    cr sample -m "$Z" -n 500 --seed 4; expect "sample Chinese" 0
    check "Chinese sample: 500 characters of valid UTF-8" bash -c "iconv -f UTF-8 -t UTF-8 '$TMP/out' >/dev/null && test \$(wc -m <'$TMP/out') -eq 500"
    # pipes and full disks
    local t0=$SECONDS
    printf '%s\n' "sample -m $M -n 100000000 | head -c 100" >>"$TMP/ran.log"
    "$BIN" sample -m "$M" -n 100000000 --seed 1 2>"$W/pipe.err" | head -c 100 >"$W/pipe.out"
    check "sample | head -c 100 stops promptly and quietly" test $((SECONDS - t0)) -lt 20 -a ! -s "$W/pipe.err" -a "$(wc -c <"$W/pipe.out")" -eq 100
    if [ -w /dev/full ]; then
        printf '%s\n' "sample -m $M > /dev/full" >>"$TMP/ran.log"
        "$BIN" sample -m "$M" -n 100 --seed 1 >/dev/full 2>"$TMP/err"; RC=$?
        expect "sample > /dev/full fails loudly" 1 "charrnn: cannot write output: No space left on device"
        "$BIN" info -m "$M" >/dev/full 2>"$TMP/err"; RC=$?
        expect "info > /dev/full fails loudly" 1 "charrnn: cannot write output: No space left on device"
    fi
}

# stop conditions, many samples at once, JSON Lines, line starts, valid UTF-8 from byte models
cli_sample_gen() {
    fixture small
    fixture zh
    # --- --stop, --stop-exclude, --lines, -n as the bound
    cr sample -m "$M" --seed 3 --stop 'e '; expect "--stop" 0
    check "--stop: the output ends right after the first 'e '" ends_once "$TMP/out" 'e '
    cp "$TMP/out" "$W/stop1"
    cr sample -m "$M" --seed 3 --stop 'e ' --stop-exclude; expect "--stop-exclude" 0
    check "--stop-exclude: the same text without the stop string" is_plus "$W/stop1" "$TMP/out" 'e '
    cr sample -m "$M" --seed 3 --stop QQQ --stop 'e '; check "--stop is repeatable: the first one generated ends" cmp -s "$TMP/out" "$W/stop1"
    cr sample -m "$M" --seed 3 --lines 3; expect "--lines" 0
    check "--lines 3: three lines, ending with the newline" lines_exactly "$TMP/out" 3
    cr sample -m "$M" --seed 3 --stop QQQ -n 50; check "-n bounds --stop: 50 symbols" test "$(wc -m <"$TMP/out")" -eq 50
    cr sample -m "$M" --seed 3 --stop QQQ; check "-n defaults to 10000 with --stop" test "$(wc -m <"$TMP/out")" -eq 10000
    # --- --count: sample i is the same for any K and any --threads, also with --prime, -t, --top-k, --top-p
    local g=(-m "$M" -n 40 --seed 7 --prime 'The ' -t 0.8 --top-k 10 --top-p 0.9 --jsonl)
    cr sample "${g[@]}" --count 64; expect "--count 64 --jsonl" 0
    cp "$TMP/out" "$W/k64"
    check "--count 64: 64 JSON lines" test "$(wc -l <"$W/k64")" -eq 64
    cr sample "${g[@]}" --count 1; check "sample 0 is the same for K=1 and K=64" bash -c "head -n 1 '$W/k64' | cmp -s - '$TMP/out'"
    cr sample "${g[@]}" --count 3 --threads 1; check "samples 0..2 are the same for K=3 (1 thread) and K=64" bash -c "head -n 3 '$W/k64' | cmp -s - '$TMP/out'"
    check "the samples differ" test "$(sed -n 1p "$W/k64" | cut -c9-)" != "$(sed -n 2p "$W/k64" | cut -c9-)"
    cr sample -m "$M" -n 30 --seed 7 --count 1; cp "$TMP/out" "$W/c1"
    cr sample -m "$M" -n 30 --seed 7 --count 2 --sep '@@SEP@@'; expect "--sep" 0
    check "--sep: sample 0, then the separator" first_part "$TMP/out" '@@SEP@@' "$W/c1"
    # --- JSON escaping: control characters, quotes, backslashes, invalid bytes (U+FFFD)
    cr sample -m "$M" -n 0 --prime $'a\x01"\\\t\xff\n' --jsonl; expect "--jsonl escapes" 0
    check "--jsonl: exact escapes" test "$(cat "$TMP/out")" = '{"i":0,"text":"a\u0001\"\\\t\ufffd\n"}'
    for _ in $(seq 300); do printf 'ab\x01\x02"\\\xff\xfe\t\n'; done >"$W/ctl.txt"
    cr train "$W/ctl.txt" "${small[@]}" --steps 3 --bytes --val 0 -o "$W/ctl.ckpt"; expect "train on control characters and invalid bytes" 0
    cr sample -m "$W/ctl.ckpt" --count 8 -n 200 --seed 1 --jsonl; expect "sample them as JSON Lines" 0
    check "JSON Lines of invalid bytes are valid UTF-8 without raw control characters" bash -c "iconv -f UTF-8 -t UTF-8 '$TMP/out' >/dev/null && test \$(wc -l <'$TMP/out') -eq 8 && ! tr -d '\n' <'$TMP/out' | LC_ALL=C grep -q '[[:cntrl:]]' && grep -q 'ufffd' '$TMP/out' && grep -q 'u0001' '$TMP/out'"
    # --- --line-starts: the acrostic on a Chinese model trained long enough to write newlines
    local zs=(--hidden 32 --batch 16 --seq 32 --steps 150 --lr 0.01 --val 0 -q)
    cr train data/tang.txt "${zs[@]}" -o "$W/zl.ckpt"; expect "train a Chinese model that writes lines" 0
    cr sample -m "$W/zl.ckpt" --line-starts 春夏秋冬 --seed 4; expect "--line-starts" 0
    check "--line-starts 春夏秋冬: four lines beginning 春, 夏, 秋, 冬" lines_begin "$TMP/out" 春夏秋冬
    check "--line-starts: the output ends with the fourth line's newline" lines_exactly "$TMP/out" 4
    cr sample -m "$Z" --line-starts '春😀'; expect "--line-starts outside the vocabulary" 2 "charrnn sample: --line-starts: '😀' is not in the model's vocabulary"
    # --- byte models keep valid UTF-8 (checkpoint flag), --raw turns it off
    cr train data/tang.txt --bytes "${zs[@]}" -o "$W/zb.ckpt"; expect "train a --bytes model on Chinese" 0
    cr sample -m "$W/zb.ckpt" --count 64 -n 100 -t 1.5 --seed 5 --sep ''; expect "sample 64 from the --bytes model" 0
    check "--bytes model of valid UTF-8: 64 hot samples are valid UTF-8" iconv -f UTF-8 -t UTF-8 -o /dev/null "$TMP/out"
    cr sample -m "$W/zb.ckpt" --count 64 -n 100 -t 1.5 --seed 5 --sep '' --raw; expect "--raw" 0
    check "--raw: the same model writes invalid UTF-8" bash -c "! iconv -f UTF-8 -t UTF-8 -o /dev/null '$TMP/out' 2>/dev/null"
    cr sample -m "$W/zb.ckpt" --line-starts 春夏 --seed 4; expect "--line-starts on a --bytes model" 0
    check "--bytes model: lines begin 春, 夏" lines_begin "$TMP/out" 春夏
}

# the hidden lead-in: an unprimed sample is what the sample primed with a newline writes after its first line, for
# one sample and --count; a prime of no known symbol gets the lead-in too; --line-starts still forces the starts
cli_sample_lead_in() {
    command -v python3 >/dev/null 2>&1 || { echo "# skipped: cli_sample_lead_in (no python3)"; return 0; }
    fixture small
    # after_line PRIMED UNPRIMED: PRIMED is a newline, a line, then UNPRIMED's bytes and more
    after_line() { python3 -c 'import sys; p, u = (open(f, "rb").read() for f in sys.argv[1:]); assert p[:1] == b"\n"; i = p.index(b"\n", 1); sys.exit(not p[i + 1:].startswith(u))' "$1" "$2"; }
    cr sample -m "$M" -n 40 --seed 3; expect "unprimed sample" 0
    cp "$TMP/out" "$W/lead0"
    check "unprimed: exactly 40 symbols (the lead-in is not counted)" test "$(wc -m <"$W/lead0")" -eq 40
    cr sample -m "$M" -n 1500 --seed 3 --prime $'\n'
    check "an unprimed sample is what the one primed with a newline writes after its first line" after_line "$TMP/out" "$W/lead0"
    cr sample -m "$M" -n 40 --seed 3 --prime $'\x01'
    check "a prime of no known symbol: the same lead-in" cmp -s "$TMP/out" <(printf '\x01'; cat "$W/lead0")
    cr sample -m "$M" -n 40 --seed 3 --count 3 --jsonl
    cp "$TMP/out" "$W/lead3"
    cr sample -m "$M" -n 40 --seed 3 --count 1 --jsonl
    check "--count 3: sample 0 is the one of --count 1" cmp -s <(head -n 1 "$W/lead3") "$TMP/out"
    cr sample -m "$M" -n 1500 --seed 3 --count 3 --jsonl --prime $'\n'
    for i in 1 2; do
        python3 -c 'import json, sys; sys.stdout.write(json.loads(open(sys.argv[1]).readlines()[int(sys.argv[2])])["text"])' "$W/lead3" $i >"$W/lead3.$i"
        python3 -c 'import json, sys; sys.stdout.write(json.loads(open(sys.argv[1]).readlines()[int(sys.argv[2])])["text"])' "$TMP/out" $i >"$W/leadp.$i"
        check "--count 3: unprimed sample $i is what primed sample $i writes after its first line" after_line "$W/leadp.$i" "$W/lead3.$i"
    done
    cr sample -m "$M" -n 200 --seed 3 --line-starts TAB; expect "--line-starts unprimed" 0
    check "--line-starts unprimed: the lines begin T, A, B" lines_begin "$TMP/out" TAB
}
