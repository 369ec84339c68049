# tests/cli_sample.sh — `charrnn sample`: usage errors, seeds and threads, temperature, top-k/p, prime, other cells, Chinese,
# pipes and full disks.
# Sourced by test.sh; the functions run inside its cli(), whose locals they see: W (work directory), M
# (the small model), Z, B, small (options of a small model). cr/expect/check are defined in test.sh.

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
}

# sampling the models trained by cli_train_small and cli_train_options
cli_sample_run() {
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
    cr train data/tang.txt --hidden 32 --batch 8 --seq 16 --steps 10 -q -o "$Z"; expect "train on Chinese text" 0
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
