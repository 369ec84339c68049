# tests/cli_train.sh — `charrnn train`: usage errors, corpus errors, a small model with a log, progress output, budgets and
# options, resume, signals, the overwrite guard and special files as -o, stale temporaries, SIGKILL consistency.
# Sourced by test.sh; its cli_run runs the tests, which see its variables: W (work directory), M, Z, B (the files of
# the fixtures small, zh, bytes), small (options of a small model). Each test makes the files it needs with
# `fixture NAME` (built once per W). cr/expect/check/fixture are defined in test.sh.

# bad options and values
cli_train_usage() {
    cr train; expect "train without a corpus" 2 "charrnn train: expected one CORPUS file"
    cr train --hidden 0 data/fortunes.txt; expect "--hidden 0" 2 "charrnn train: invalid value '0' for --hidden: must be 1..8192"
    cr train --hidden 12x data/fortunes.txt; expect "--hidden 12x" 2 "charrnn train: invalid value '12x' for --hidden: not a whole number"
    cr train --steps 1.5 data/fortunes.txt; expect "--steps 1.5" 2 "charrnn train: invalid value '1.5' for --steps: not a whole number"
    cr train --lr 0 data/fortunes.txt; expect "--lr 0" 2 "charrnn train: invalid value '0' for --lr: must be > 0 and <= 100"
    cr train --lr nan data/fortunes.txt; expect "--lr nan" 2 "charrnn train: invalid value 'nan' for --lr: not a number"
    cr train --dropout 1 data/fortunes.txt; expect "--dropout 1" 2 "charrnn train: invalid value '1' for --dropout: must be 0..0.99"
    cr train --cell lstmx data/fortunes.txt; expect "--cell lstmx" 2 "charrnn train: invalid value 'lstmx' for --cell (choose one of: rnn, lstm, gru)"
    cr train --frob data/fortunes.txt; expect "unknown option" 2 "charrnn train: unknown option '--frob'"
    cr train data/fortunes.txt --batch; expect "missing value" 2 "charrnn train: option '--batch' needs a value (B)"
    cr train --bytes=1 data/fortunes.txt; expect "flag with a value" 2 "charrnn train: option '--bytes' takes no value"
    cr train a b; expect "two corpora" 2 "charrnn train: unexpected argument 'b'"
}

# corpora that cannot be trained on
cli_train_corpus() {
    # --- corpus errors
    cr train "$W/nope.txt" -o "$W/none.ckpt"; expect "missing corpus" 1 "charrnn: cannot open '$W/nope.txt': No such file or directory"
    cr train data -o "$W/none.ckpt"; expect "directory as corpus" 1 "charrnn: cannot read 'data': Is a directory"
    : >"$W/empty.txt"
    cr train "$W/empty.txt" -o "$W/none.ckpt"; expect "empty corpus" 1 "charrnn: '$W/empty.txt' is empty"
    cr train - -o "$W/none.ckpt" </dev/null; expect "empty standard input" 1 "charrnn: standard input is empty"
    head -c 300 data/fortunes.txt >"$W/short.txt"
    cr train "$W/short.txt" -o "$W/short.ckpt"
    expect "corpus shorter than one chunk" 1 "charrnn: '$W/short.txt': corpus too short: 269 training symbols, but one chunk of --batch 32 x --seq 64 needs 2049; lower --batch or --seq (or --val)"
    cr train - -o "$W/short.ckpt" <"$W/short.txt"; expect "short standard input" 1 "charrnn: standard input: corpus too short: 269 training symbols, but one chunk of --batch 32 x --seq 64 needs 2049; lower --batch or --seq (or --val)"
    check "no checkpoint is written for a failed run" test ! -e "$W/short.ckpt"
    if [ "$(id -u)" != 0 ]; then
        cp data/tang.txt "$W/unreadable.txt"; chmod 000 "$W/unreadable.txt"
        cr train "$W/unreadable.txt" -o "$W/none.ckpt"; expect "unreadable corpus" 1 "charrnn: cannot open '$W/unreadable.txt': Permission denied"
    fi
}

# fixture small: a small model $M (and m.best.ckpt, log.csv) on the shipped corpus, used by most tests
fixture_small() { cr train data/fortunes.txt "${small[@]}" --steps 60 --eval-every 30 --log "$W/log.csv" -o "$M"; }

# the run that made fixture small
cli_train_small() {
    # --- training: a small model, with a log, on the shipped corpus
    fixture small
    fixture_result small
    expect "train a small model" 0
    check "quiet training prints nothing" test ! -s "$TMP/err"
    check "checkpoint written" test -s "$M"
    check "best-by-validation checkpoint written" test -s "$W/m.best.ckpt"
    check "no temporary files left" test -z "$(ls "$W" | grep -F .tmp.)"
    check "log has a header and rows" grep -q "^step,seconds,train_loss,val_loss,lr,chars_per_sec" "$W/log.csv"
    check "log has validation rows" grep -qE "^60,[0-9.]+,[0-9.]+,[0-9.]+," "$W/log.csv"
}

# progress output in a pipe and on a terminal
cli_train_progress() {
    # progress output when not quiet, in a pipe: plain lines, a summary with chars/s
    cr train data/fortunes.txt --hidden 16 --batch 4 --seq 16 --steps 40 --eval-every 20 --preview 300 -o "$W/p.ckpt"
    expect "train with progress" 0
    check "progress has step/total lines" grep -qE "^step [0-9]+/40 " "$TMP/err"
    check "validation lines in nats and bits" grep -qE "^step 20: val [0-9.]+ nats/char \([0-9.]+ bits/char\)" "$TMP/err"
    check "preview sample lines" grep -q "^  | " "$TMP/err"
    check "two previews, one line each (2 validations)" test "$(grep -c '^  | ' "$TMP/err")" -eq 2
    check "previews hold no control character but their newline" bash -c "! grep '^  | ' '$TMP/err' | LC_ALL=C grep -q \$'[\x01-\x1f\x7f]'"
    check "preview: 300 symbols, their newlines shown as \\n" bash -c "grep -m1 '^  | ' '$TMP/err' | grep -qF '\\n'"
    check "validation summary line" grep -qE "^validation: [0-9.]+ -> [0-9.]+ nats/char over 2 evaluations" "$TMP/err"
    check "final summary with chars/s" grep -qE "^done: 40 steps, .* [0-9]+ chars/s" "$TMP/err"
    check "nothing on stdout while training" test ! -s "$TMP/out"
    # --progress jsonl: every stderr line is one JSON object
    cr train data/fortunes.txt --hidden 16 --batch 4 --seq 16 --steps 40 --eval-every 20 --progress jsonl -o "$W/pj.ckpt"
    expect "train --progress jsonl" 0
    check "--progress jsonl: every line is a JSON object" json_lines "$TMP/err"
    check "--progress jsonl: start, progress, 2 validations, done" test "$(grep -o '^{"event":"[a-z]*"' "$TMP/err" | cut -d'"' -f4 | uniq | tr '\n' ' ')" = "start progress validation progress validation done "
    check "--progress jsonl: validation has numbers and the file" grep -qE '^\{"event":"validation","step":20,"val_loss":[0-9.]+,"val_bits":[0-9.]+,"best":true,"saved":"[^"]*pj.ckpt"\}$' "$TMP/err"
    check "--progress jsonl: progress before any validation has val_loss null" grep -qE '^\{"event":"progress","step":1,"steps":40,.*"val_loss":null,' "$TMP/err"
    cr train data/fortunes.txt --progress csv; expect "--progress with a bad value" 2 "charrnn train: invalid value 'csv' for --progress (choose one of: text, jsonl)"

    # on a terminal (a pseudo-terminal from script(1)), progress is one line redrawn in place
    if command -v script >/dev/null 2>&1; then
        script -qec "$BIN train data/fortunes.txt --hidden 16 --batch 4 --seq 16 --steps 400 --eval-every 0 --threads 1 -o $W/tty.ckpt" \
            /dev/null >"$W/tty.out" 2>&1 </dev/null
        check "on a terminal, progress redraws one line (CR + erase-line)" grep -q $'\r\x1b\[K' "$W/tty.out"
        tty_progress
    fi
}

# fixtures bytes, lstm, gru: a --bytes model $B; an lstm and a gru model with the other options (sampled by cli_sample_run)
fixture_bytes() { cr train data/fortunes.txt "${small[@]}" --steps 5 --bytes --val 0.05 -o "$B"; }
fixture_lstm() {
    cr train data/fortunes.txt -q --threads 1 --cell lstm --layers 2 --hidden 16 --batch 4 --seq 8 --dropout 0.1 \
        --optim adagrad --lr 0.05 --lr-decay 0.9 --clip 1 --seed 7 --forget-bias 0.5 --steps 5 -o "$W/lstm.ckpt"
}
fixture_gru() {
    cr train data/fortunes.txt -q --cell gru --hidden 16 --batch 4 --seq 8 --optim sgd --lr 0.5 --clip 0 --steps 5 \
        -o "$W/gru.ckpt"
}

# budgets, --bytes, stdin, other cells and optimizers (the runs that made fixtures bytes, lstm, gru)
cli_train_options() {
    # --epochs and --time budgets; --bytes; stdin; other cells and optimizers
    cr train data/fortunes.txt "${small[@]}" --epochs 0.01 --eval-every 0 -o "$W/e.ckpt"
    expect "--epochs budget" 0
    cr train data/fortunes.txt "${small[@]}" --time 0.5 --eval-every 0 -o "$W/t.ckpt"
    expect "--time budget" 0
    fixture bytes
    fixture_result bytes
    expect "--bytes training" 0
    cr info -m "$B"
    check "--bytes model has byte symbols" grep -q "bytes" "$TMP/out"
    printf '%s\n' "$(head -c 20000 data/fortunes.txt)" >"$W/stdin.txt"
    cr train - "${small[@]}" --steps 3 -o "$W/stdin.ckpt" <"$W/stdin.txt"
    expect "corpus from stdin" 0
    fixture lstm
    fixture_result lstm
    expect "lstm, dropout, adagrad, decay, clip, seed" 0
    fixture gru
    fixture_result gru
    expect "gru, sgd, no clipping" 0
    cr info -m "$W/lstm.ckpt"
    check "info shows lstm 2 layers, forget bias" bash -c "grep -q '^cell: *lstm' '$TMP/out' && grep -q '^layers: *2' '$TMP/out' && grep -q '^init: *forget-gate bias 0.5' '$TMP/out'"
}

# resume
cli_train_resume() {
    fixture small   # (its m.best.ckpt, a weights-only file)
    # --- resume: interrupted + resumed == straight (same sampled bytes; test_rnn checks bit-identity). A constant
    # lr: the 25-step run's schedule would end at 25 steps (cli_train_schedule resumes within one budget)
    cr train data/fortunes.txt "${small[@]}" --steps 40 --eval-every 20 --lr-schedule constant -o "$W/straight.ckpt"
    expect "40 steps straight" 0
    cr train data/fortunes.txt "${small[@]}" --steps 25 --eval-every 20 --lr-schedule constant -o "$W/r.ckpt"
    expect "25 steps" 0
    cr train data/fortunes.txt --resume --steps 40 --eval-every 20 --threads 1 -q -o "$W/r.ckpt"; expect "--resume to 40 steps" 0
    "$BIN" sample -m "$W/straight.ckpt" -n 400 --seed 11 >"$W/a.txt"
    "$BIN" sample -m "$W/r.ckpt" -n 400 --seed 11 >"$W/b.txt"
    check "resumed model samples the same bytes as the straight one" cmp -s "$W/a.txt" "$W/b.txt"
    cr train data/fortunes.txt --resume --hidden 64 -o "$W/r.ckpt"
    expect "--resume refuses a shape change" 2 "charrnn train: --hidden cannot change when resuming: the checkpoint fixes it"
    cr train data/tang.txt --resume -q -o "$W/r.ckpt"; expect "--resume on another corpus" 1
    cr train data/fortunes.txt --resume -q -o "$W/m.best.ckpt"
    expect "--resume from a weights-only checkpoint" 1 "charrnn: '$W/m.best.ckpt' holds no training state to resume"
    cr train data/fortunes.txt --resume --steps 45 --lr 0.001 -q -o "$W/r.ckpt"; expect "--resume with a new --lr" 0
}

# signals
cli_train_signals() {
    # --- signals: SIGINT / SIGTERM save and exit 130 / 143; SIGKILL never leaves an unloadable checkpoint
    # the checkpoint and log names need quoting: the resume hint must still be copy-pasteable
    local ck="$W/it's sig.ckpt" lg="$W/sig log.csv"
    q() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }   # single-quoted for a shell
    for sig in INT TERM; do
        rm -f "$ck" "${ck%.ckpt}.best.ckpt"
        printf '%s\n' "train (SIG$sig)" >>"$TMP/ran.log"
        "$BIN" train data/fortunes.txt --hidden 64 --steps 1000000 --eval-every 0 --threads 2 -o "$ck" --log "$lg" \
            >"$W/sig.out" 2>"$W/sig.err" &
        local pid=$!
        until_seen "$W/sig.err" ' threads?$' && sleep 1   # the opening line: the handlers go in right after it
        kill -s $sig $pid
        wait $pid
        RC=$?
        local want=130
        [ $sig = TERM ] && want=143
        check "SIG$sig: exit $want" test $RC -eq $want
        check "SIG$sig: says where it stopped and how to resume" grep -qF "; saved '$ck'. Resume with: $BIN train --resume -o $(q "$ck") --threads 2 --log $(q "$lg") --eval-every 0 data/fortunes.txt" "$W/sig.err"
        check "SIG$sig: one line" grep -qE "^charrnn: interrupted at step [0-9]+ \(epoch [0-9.]+\); saved .*data/fortunes.txt$" "$W/sig.err"
        "$BIN" info -m "$ck" >/dev/null 2>&1
        check "SIG$sig: the saved checkpoint loads" test $? -eq 0
        local at
        at=$(sed -n 's/^charrnn: interrupted at step \([0-9]*\) .*/\1/p' "$W/sig.err")
        check "SIG$sig: the log's last row is the interrupted step ($at), with its train loss" \
            grep -qE "^$at,[0-9.]+,[0-9.]+,," <(tail -n 1 "$lg")
    done
    # a second signal aborts at once (no save, no message) and leaves the previous checkpoint intact. SIGINT and
    # SIGTERM back to back: distinct signals never merge while pending, so exactly one asks for a graceful stop
    # and the other aborts, well inside one ~0.2 s step.
    "$BIN" train data/fortunes.txt --hidden 1024 --batch 64 --seq 64 --steps 1 --val 0.001 --threads 2 -q -o "$W/sig2.ckpt"
    local before
    before=$(cksum <"$W/sig2.ckpt")
    printf '%s\n' "train (two signals)" >>"$TMP/ran.log"
    "$BIN" train data/fortunes.txt --resume --steps 1000000 --eval-every 0 --threads 2 -o "$W/sig2.ckpt" \
        >"$W/sig2.out" 2>"$W/sig2.err" &
    pid=$!
    until_seen "$W/sig2.err" ' threads?$' && sleep 1
    kill -INT $pid; kill -TERM $pid
    wait $pid
    RC=$?
    check "second signal aborts at once: killed by the signal (status $RC)" test $RC -eq 130 -o $RC -eq 143
    check "second signal: no 'interrupted' message, no save" bash -c "! grep -q interrupted '$W/sig2.err'"
    check "second signal: the previous checkpoint is intact" test "$(cksum <"$W/sig2.ckpt")" = "$before"
    local hint steps
    hint=$(sed -n 's/.*Resume with: //p' "$W/sig.err")
    steps=$(( $("$BIN" info -m "$ck" | sed -n 's/^steps: *\([0-9]*\).*/\1/p') + 3 ))
    eval "$hint -q --steps $steps"
    check "an interrupted run resumes with the command the hint shows" test $? -eq 0 -a "$("$BIN" info -m "$ck" | sed -n 's/^steps: *\([0-9]*\).*/\1/p')" = $steps
    check "the resumed run appended to the same log" test "$(grep -c '^step,' "$lg")" -eq 1 -a "$(tail -n 1 "$lg" | cut -d, -f1)" = $steps
    # SIGKILL at random moments of a run that saves every step
    "$BIN" train data/fortunes.txt --hidden 32 --batch 4 --seq 16 --steps 3 --threads 1 -q -o "$W/kill.ckpt"
    local kills=0 loadable=0
    for i in 1 2 3 4 5 6; do
        "$BIN" train data/fortunes.txt --resume --steps 1000000 --eval-every 1 --preview 0 --threads 1 -q -o "$W/kill.ckpt" &
        local pid=$!
        sleep "0.$((RANDOM % 9 + 1))"
        kill -KILL $pid 2>/dev/null && kills=$((kills + 1))
        wait $pid 2>/dev/null
        "$BIN" info -m "$W/kill.ckpt" >/dev/null 2>&1 && loadable=$((loadable + 1))
    done
    check "SIGKILL x$kills during saves: checkpoint loadable every time ($loadable/6)" test $loadable -eq 6
    printf '%s\n' "train --resume (SIGKILL loop) --eval-every --preview" >>"$TMP/ran.log"
}

# fixture tiny: tiny.txt (6000 bytes of the corpus) and a model of it, tiny.ckpt (fine-tuned by cli_train_finetune)
fixture_tiny() {
    head -c 6000 data/fortunes.txt >"$W/tiny.txt"
    cr train "$W/tiny.txt" --hidden 64 --layers 1 --batch 4 --seq 16 --lr 0.02 --val 0.2 --steps 300 --preview 0 \
        --threads 1 -o "$W/tiny.ckpt"
}

# small corpora: validation once per epoch by default (the run that made fixture tiny), the "has not improved"
# line, --early-stop, and .best.ckpt holding the best model of the run when the best is in the middle
cli_train_overfit() {
    fixture tiny
    fixture_result tiny
    check "an epoch shorter than 500 steps: validated once per epoch" \
        grep -q "74 steps per epoch; validating every 74 steps;" "$TMP/err"
    cr train "$W/tiny.txt" --hidden 64 --layers 1 --batch 4 --seq 16 --lr 0.02 --val 0.2 --steps 3000 --preview 0 \
        --eval-every 20 --early-stop 3 --threads 1 -o "$W/es.ckpt"
    expect "--early-stop 3" 0
    check "an explicit --eval-every overrides the epoch" grep -q "validating every 20 steps;" "$TMP/err"
    check "the stall is reported once" test "$(grep -c '^charrnn: validation has not improved for 3 evaluations (best [0-9.]* at step [0-9]*); the model may be overfitting — .*es.best.ckpt holds the best$' "$TMP/err")" = 1
    check "the summary says why it stopped" grep -q "^stopped early: validation did not improve for 3 evaluations (--early-stop 3); the best model (val [0-9.]*) is in $W/es.best.ckpt$" "$TMP/err"
    local best steps
    best=$(sed -n 's/^validation: .* best \([0-9.]*\) (.*/\1/p' "$TMP/err")
    steps=$(sed -n 's/^done: \([0-9]*\) steps.*/\1/p' "$TMP/err")
    check "--early-stop stopped well before the budget" test "${steps:-3000}" -lt 3000
    cr info -m "$W/es.best.ckpt"
    check ".best.ckpt holds the best validation ($best)" grep -q "^val loss: *$best nats/char .*; best $best$" "$TMP/out"
    cr info -m "$W/es.ckpt"
    check "the last checkpoint is not the best one" bash -c "! grep -q '^val loss: *$best ' '$TMP/out' && grep -q 'best $best\$' '$TMP/out'"
}

# sizes chosen from the corpus when none is given; only the missing ones when some are
cli_train_sizing() {
    head -c 6000 data/fortunes.txt >"$W/tiny.txt"   # (fixture tiny's text, without its model)
    cr train "$W/tiny.txt" --cell lstm --batch 4 --seq 16 --steps 1 --preview 0 -o "$W/sz.ckpt"
    check "lstm sized for a 5k corpus" grep -q "^charrnn: lstm 1 x 64, dropout 0 (sized for 5k training symbols and about 0.0 epochs, 0.0[0-9]M parameters; give --hidden/--layers/--dropout to choose)$" "$TMP/err"
    cr train data/fortunes.txt --cell gru --hidden 128 --batch 4 --seq 16 --steps 10000 --preview 0 --eval-every 0 --time 0.01 \
        --val 0.01 -o "$W/sz2.ckpt"   # (a small --val: the final validation is most of the time under the sanitizers)
    check "a given --hidden is kept, layers and dropout chosen; --time 0.01 is the first limit, under 3 epochs" \
        grep -q "^charrnn: gru 2 x 128, dropout 0 (sized for 656k training symbols and about 0.0 epochs in that time, 0.20M parameters; give" "$TMP/err"
    # dropout from the budget in epochs (P = 0.01M > N = 5k here): 0 under 3 epochs, 0.25 from 3, 0.5 from 10; --time
    # is estimated at 1.3e10 / P characters per second
    local row budget d epochs
    for row in "--time 0.2|0.5|54.3 epochs in that time" "--steps 400|0.25|4.7 epochs" "--steps 200|0|2.4 epochs"; do
        IFS='|' read -r budget d epochs <<<"$row"
        # shellcheck disable=SC2086
        cr train "$W/tiny.txt" --cell lstm --layers 2 --hidden 16 --batch 4 --seq 16 $budget --preview 0 -o "$W/sz5.ckpt" --force
        check "$budget: about $epochs, dropout $d" \
            grep -q "^charrnn: dropout $d (sized for 5k training symbols and about $epochs, 0.01M parameters; give --dropout to choose)$" "$TMP/err"
    done
    cr train "$W/tiny.txt" --cell lstm --layers 2 --hidden 16 --dropout 0 --batch 4 --seq 16 --steps 1 -o "$W/sz3.ckpt"
    check "all three given: nothing is sized" bash -c "! grep -q 'sized for' '$TMP/err'"
    cr train data/fortunes.txt --bidirectional --cell lstm --batch 4 --seq 16 --steps 1 --preview 0 --val 0.01 -o "$W/sz4.ckpt"
    check "a bidirectional model is sized by its own (doubled) count: 2 x 128 where forward gets 2 x 256" \
        grep -q "^charrnn: lstm 2 x 128, dropout 0 (sized for 656k training symbols and about 0.0 epochs, 0.53M parameters;" "$TMP/err"
}

# a fresh gated model starts its output bias at the unigram, except an LSTM on a corpus with under 100 training symbols
# per vocabulary entry (cmd_train.c unigram_start); seen in the first validation, after one step at a negligible learning
# rate: the unigram's cross-entropy (about 0.64 here) or the uniform one's (log 40 = 3.69)
cli_train_unigram() {
    local blocks row file cell want why v
    for blocks in 200 800; do   # 40 symbols; 10 'a' then one of 39 others, in turn: 1980 and 7920 training symbols
        awk -v n=$blocks 'BEGIN { s = "bcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"; for (i = 0; i < n; i++)
            printf "aaaaaaaaaa%s", substr(s, i % 39 + 1, 1) }' >"$W/uni$blocks.txt"
    done
    for row in "200|lstm|uniform|50 per entry" "800|lstm|unigram|198 per entry" "200|gru|unigram|50 per entry" \
               "800|rnn|uniform|the tanh RNN never"; do
        IFS='|' read -r file cell want why <<<"$row"
        cr train "$W/uni$file.txt" --cell $cell --layers 1 --hidden 8 --batch 4 --seq 16 --steps 1 --lr 1e-9 \
            --preview 0 -o "$W/uni.ckpt" --force
        v=$(sed -n 's/^step 1: val \([0-9.]*\) nats.*/\1/p' "$TMP/err")
        if [ $want = unigram ]; then
            check "$cell, $why: starts at the unigram (val $v)" awk -v v="${v:-9}" 'BEGIN { exit !(v < 1.5) }'
        else
            check "$cell, $why: starts uniform (val $v)" awk -v v="${v:-0}" 'BEGIN { exit !(v > 3 && v < 4.2) }'
        fi
    done
}

# fine-tuning: --init, the origin in info, the refusals
cli_train_finetune() {
    fixture tiny
    printf 'Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. {[|]}\n%.0s' $(seq 150) >"$W/de.txt"
    cr train "$W/de.txt" --init "$W/tiny.ckpt" --batch 4 --seq 16 --steps 30 --preview 0 --threads 2 -o "$W/ft.ckpt"
    expect "fine-tune with --init" 0 "charrnn: rnn 1 x 64, 80 symbols (UTF-8 characters), 14480 parameters; 9584 training + 1066 validation symbols; 149 steps per epoch; validating every 149 steps; 2 threads"
    check "the start-up line names the base and the new symbols" grep -q "^charrnn: fine-tuning '$W/tiny.ckpt' (300 steps, 70 symbols; 10 new symbols from '$W/de.txt')$" "$TMP/err"
    local bv
    bv=$("$BIN" info -m "$W/tiny.ckpt" | sed -n 's/.*; best \([0-9.]*\)$/\1/p')
    cr info -m "$W/ft.ckpt"
    check "info shows the origin" grep -q "^origin: *fine-tuned from $W/tiny.ckpt (300 steps, 70 symbols, best val $bv)$" "$TMP/out"
    check "info: the fine-tuned run counts its own steps" grep -q "^steps: *30 " "$TMP/out"
    bv=$("$BIN" info -m "$W/tiny.ckpt" --json | sed -n 's/.*"best_val_loss":\([0-9.e-]*\),.*/\1/p')   # as JSON writes it
    cr info -m "$W/ft.ckpt" --json
    check "info --json shows the origin" grep -qF "\"origin\":\"$W/tiny.ckpt\",\"origin_steps\":300,\"origin_vocabulary\":70,\"origin_best_val_loss\":$bv," "$TMP/out"
    cr info -m "$W/ft.best.ckpt"; check "the best checkpoint keeps the origin" grep -q "^origin: *fine-tuned from" "$TMP/out"
    cr train "$W/de.txt" --resume --steps 40 -q -o "$W/ft.ckpt"; expect "resume a fine-tuned run" 0
    cr info -m "$W/tiny.ckpt"; check "a model trained from scratch has no origin" bash -c "! grep -q '^origin:' '$TMP/out'"
    cr train "$W/de.txt" --init "$W/tiny.ckpt" --resume -o "$W/ft.ckpt"
    expect "--init with --resume" 2 "charrnn train: --init starts a new run from another model; it cannot be combined with --resume"
    cr train "$W/de.txt" --init "$W/tiny.ckpt" --hidden 32 -o "$W/ft2.ckpt"
    expect "--init with another --hidden" 2 "charrnn train: --init '$W/tiny.ckpt' is rnn 1 x 64: --cell, --layers and --hidden must agree with it or be left out"
    cr train "$W/de.txt" --init "$W/tiny.ckpt" --cell lstm -o "$W/ft2.ckpt"
    expect "--init with another --cell" 2 "charrnn train: --init '$W/tiny.ckpt' is rnn 1 x 64: --cell, --layers and --hidden must agree with it or be left out"
    cr train "$W/de.txt" --init "$W/nope.ckpt" -o "$W/ft2.ckpt"
    expect "--init from a missing file" 1 "charrnn: --init: cannot open '$W/nope.ckpt': No such file or directory"
    cr train "$W/de.txt" --init data/tang.txt -o "$W/ft2.ckpt"
    expect "--init from a file that is no checkpoint" 1 "charrnn: --init: 'data/tang.txt' is not a charrnn checkpoint (bad magic)"
    cr train "$W/de.txt" --init "$W/tiny.ckpt" --bytes -o "$W/ft2.ckpt"
    expect "--init from a model of another unit" 1 "charrnn: --init '$W/tiny.ckpt' reads UTF-8 characters, but this run reads bytes (--bytes): leave out --bytes"
    check "no checkpoint from a refused --init" test ! -e "$W/ft2.ckpt"
    # a byte model fine-tuned on valid UTF-8 keeps its guarantee; on text that is not UTF-8 it loses it
    local bo=(--bytes --hidden 16 --batch 4 --seq 16 --steps 10 --preview 0 --threads 1 -q)
    printf 'Съешь же ещё этих мягких французских булок, да выпей чаю. Ёж!\n%.0s' $(seq 60) >"$W/ru.txt"
    cr train "$W/de.txt" "${bo[@]}" -o "$W/deb.ckpt"; expect "a byte model of valid UTF-8" 0
    cr train "$W/ru.txt" "${bo[@]}" --init "$W/deb.ckpt" -o "$W/rub.ckpt"; expect "fine-tune a byte model on UTF-8" 0
    cr info -m "$W/rub.ckpt"
    check "info: the fine-tuned byte model keeps 'samples stay valid UTF-8'" grep -q "^vocabulary: .*bytes (of valid UTF-8: samples stay valid UTF-8)$" "$TMP/out"
    cr sample -m "$W/rub.ckpt" -n 2000 -t 2 --seed 5; expect "sample the fine-tuned byte model" 0
    check "its samples are valid UTF-8" iconv -f UTF-8 -t UTF-8 "$TMP/out" -o /dev/null
    printf 'Caf\xe9 cr\xe8me\n%.0s' $(seq 60) >"$W/latin1.txt"
    cr train "$W/latin1.txt" "${bo[@]}" --init "$W/deb.ckpt" -o "$W/l1b.ckpt"; expect "fine-tune a byte model on Latin-1" 0
    cr info -m "$W/l1b.ckpt"
    check "info: fine-tuned on text that is not UTF-8, no guarantee" bash -c "grep -q '^vocabulary: *[0-9]* bytes$' '$TMP/out'"
}

# the overwrite guard, special files and symlinks as -o, stale temporaries
cli_train_guard() {
    local g=(--hidden 8 --batch 2 --seq 8 --steps 2 --eval-every 1 --preview 0 --threads 1 -q) G="$W/g.ckpt"
    cr train data/fortunes.txt "${g[@]}" -o "$G"; expect "guard: a first run" 0
    local sum best
    sum=$(cksum <"$G"); best=$(cksum <"$W/g.best.ckpt")
    cr train data/fortunes.txt "${g[@]}" -o "$G"
    expect "guard: a fresh run refuses an existing -o" 1 "charrnn: '$G' already exists: --resume continues it, --force starts over, or choose another -o"
    check "guard: the refused run left both checkpoints untouched" test "$(cksum <"$G")/$(cksum <"$W/g.best.ckpt")" = "$sum/$best"
    mv "$G" "$W/g-moved.ckpt"
    cr train data/fortunes.txt "${g[@]}" -o "$G"
    expect "guard: an existing .best.ckpt alone is refused too" 1 "charrnn: '$W/g.best.ckpt' already exists: --resume continues it, --force starts over, or choose another -o"
    check "guard: nothing created at -o" test ! -e "$G"
    cr train data/fortunes.txt "${g[@]}" --force --steps 3 -o "$G"; expect "guard: --force starts over" 0
    cr info -m "$W/g.best.ckpt"; check "guard: --force replaced the .best.ckpt" grep -q "^steps: *3 " "$TMP/out"
    cr train data/fortunes.txt --resume --force -o "$G"
    expect "guard: --resume with --force" 2 "charrnn train: --resume continues the checkpoint and --force starts over: give one"
    # special files: refused even with --force, untouched, nothing created
    mkfifo "$W/fifo"
    cr train data/fortunes.txt "${g[@]}" --force -o "$W/fifo"
    expect "a FIFO as -o" 1 "charrnn: refusing to write '$W/fifo': it is a FIFO, not a regular file"
    check "the FIFO is still a FIFO; no .best, no temporary" bash -c "test -p '$W/fifo' && test ! -e '$W/fifo.best' && ! ls '$W' | grep -q '^fifo.*tmp'"
    mkdir "$W/dir.ckpt"
    cr train data/fortunes.txt "${g[@]}" --force -o "$W/dir.ckpt"
    expect "a directory as -o" 1 "charrnn: refusing to write '$W/dir.ckpt': it is a directory, not a regular file"
    mkfifo "$W/h.best.ckpt"
    cr train data/fortunes.txt "${g[@]}" -o "$W/h.ckpt"
    expect "a FIFO as the .best.ckpt" 1 "charrnn: refusing to write '$W/h.best.ckpt': it is a FIFO, not a regular file"
    check "no -o checkpoint created beside a refused .best" test ! -e "$W/h.ckpt"
    if [ "$(id -u)" = 0 ]; then   # as root, a device node could be replaced: it must not be
        for dev in /dev/null /dev/full; do
            cr train data/fortunes.txt "${g[@]}" --force -o $dev
            expect "root: $dev as -o" 1 "charrnn: refusing to write '$dev': it is a character device, not a regular file"
            check "root: $dev is still a character device; no $dev.best" bash -c "test -c $dev && test ! -e $dev.best"
        done
    fi
    # symlinks: to a regular file, written through (the link kept); dangling or to a non-regular file, refused
    ln -s g.ckpt "$W/link.ckpt"; ln -s g.best.ckpt "$W/link.best.ckpt"
    cr train data/fortunes.txt "${g[@]}" --force --steps 4 -o "$W/link.ckpt"; expect "a symlink to a checkpoint as -o" 0
    check "the symlinks are kept" test -L "$W/link.ckpt" -a -L "$W/link.best.ckpt"
    cr info -m "$G"; check "the link's target holds the new run" grep -q "^steps: *4 " "$TMP/out"
    ln -s nowhere.ckpt "$W/dangling.ckpt"
    cr train data/fortunes.txt "${g[@]}" --force -o "$W/dangling.ckpt"
    expect "a dangling symlink as -o" 1 "charrnn: refusing to write '$W/dangling.ckpt': it is a dangling symlink"
    check "the dangling symlink's target is not created" test ! -e "$W/nowhere.ckpt"
    ln -s fifo "$W/tofifo.ckpt"
    cr train data/fortunes.txt "${g[@]}" --force -o "$W/tofifo.ckpt"
    expect "a symlink to a FIFO as -o" 1 "charrnn: refusing to write '$W/tofifo.ckpt': it is a symlink to a FIFO, not a regular file"
    # stale temporaries: exactly rnn_save's pattern for this target is removed, nothing else
    local stale=("$G.tmp.AbC123" "$W/g.best.ckpt.tmp.x9Y8z7")
    local keep=("$G.tmp.AbC12" "$G.tmp.AbC1234" "$G.tmp.AbC-12" "$G.tmpxAbC123" "$W/gg.ckpt.tmp.AbC123" "$W/other.ckpt.tmp.AbC123" "$G.TMP.AbC123")
    touch "${stale[@]}" "${keep[@]}"
    mkfifo "$G.tmp.FiFo00"
    cr train data/fortunes.txt --resume --steps 5 --threads 1 -o "$G"
    expect "a run removes its stale temporaries" 0 "charrnn: removed 1 stale temporary file of '$G'"
    check "the .best's stale temporary is reported too" grep -q "^charrnn: removed 1 stale temporary file of '$W/g.best.ckpt'$" "$TMP/err"
    check "its own stale temporaries are gone" bash -c "! ls '${stale[0]}' '${stale[1]}' 2>/dev/null"
    check "similar names and a FIFO of the pattern survive" bash -c "ls ${keep[*]} '$G.tmp.FiFo00' >/dev/null && test -p '$G.tmp.FiFo00'"
}

# Resuming a finished run: says the budget is reached, that budgets are totals and the command that adds more,
# exit 0, checkpoint and log untouched; a resumed run says where it resumes (text and JSON). --early-stop needs a
# validation split.
cli_train_budget() {
    local R="$W/budget.ckpt" L="$W/budget.csv" sum
    cr train data/fortunes.txt --hidden 8 --batch 2 --seq 8 --steps 30 --preview 0 --threads 1 -q -o "$R"
    expect "budget: a 30-step run" 0
    sum=$(cksum <"$R")
    : >"$L"
    cr train data/fortunes.txt --resume -o "$R" --threads 1 --log "$L"
    expect "budget: resuming a finished run" 0 "charrnn: '$R' is at step 30, its budget of 30 steps is reached: nothing to train. --steps, --epochs and --time are totals, not additions; to train 1000 more steps: $BIN train --resume -o $R --threads 1 --log $L --steps 1030 data/fortunes.txt"
    check "budget: one line, nothing else" test "$(wc -l <"$TMP/err")" -eq 1
    check "budget: the checkpoint is not rewritten, the log not written" test "$(cksum <"$R")" = "$sum" -a ! -s "$L"
    cr train data/fortunes.txt --resume -o "$R" --steps 20 --epochs 0.0001 --progress jsonl
    expect "budget: a smaller --steps is a total too" 0
    check "budget: as JSON" test "$(cat "$TMP/err")" = "{\"event\":\"budget_reached\",\"checkpoint\":\"$R\",\"step\":30,\"resume\":\"$BIN train --resume -o $R --progress jsonl --steps 1030 data/fortunes.txt\"}"
    cr train data/fortunes.txt --resume -o "$R" -q
    check "budget: -q says nothing" test $RC -eq 0 -a ! -s "$TMP/err"
    local hint
    hint=$("$BIN" train data/fortunes.txt --resume -o "$R" 2>&1 | sed -n 's/.*to train 1000 more steps: //p')
    eval "$hint -q --preview 0"
    check "budget: the printed command trains 1000 more steps" test $? -eq 0 -a "$("$BIN" info -m "$R" | sed -n 's/^steps: *\([0-9]*\).*/\1/p')" = 1030
    cr train data/fortunes.txt --resume -o "$R" --steps 1040 --eval-every 0 --preview 0
    expect "budget: resuming says where" 0
    check "budget: 'resuming at step 1030 of 1040 steps'" test "$(sed -n 2p "$TMP/err")" = "charrnn: resuming at step 1030 of 1040 steps"
    cr train data/fortunes.txt --resume -o "$R" --steps 1045 --time 1000 --eval-every 0 --progress jsonl
    check "budget: the resume event" grep -qE '^\{"event":"resume","step":1040,"epoch":[0-9.e-]+,"seconds":[0-9.e-]+,"steps":1045,"epochs":null,"time":1000\}$' "$TMP/err"
    check "budget: JSON lines" json_lines "$TMP/err"
    cr train data/fortunes.txt --val 0 --early-stop 3 -o "$W/never.ckpt"
    expect "--early-stop with --val 0" 2 "charrnn train: --early-stop needs validation: it cannot be combined with --val 0"
    cr train data/fortunes.txt --hidden 8 --batch 2 --seq 8 --steps 2 --val 0 --threads 1 -q -o "$W/v0.ckpt"
    cr train data/fortunes.txt --resume -o "$W/v0.ckpt" --early-stop 2
    expect "--early-stop resuming a --val 0 run" 2 "charrnn train: --early-stop needs validation: '$W/v0.ckpt' was trained with --val 0"
}

# the learning-rate schedule and averaged weights: an interrupted run resumes to the straight one's model (--steps
# and --epochs, averaging on and off); a resume that changes the budget says how the schedule is stretched
cli_train_schedule() {
    local sc=(--hidden 96 --batch 16 --seq 32 --eval-every 50 --preview 0 --threads 1 --warmup 20 --lr-floor 0.2)
    local k budget avg
    for k in 1 2; do
        if [ $k = 1 ]; then budget=(--steps 300); avg=(--lr-schedule cosine --ema 0.9)
        else budget=(--epochs 0.3); avg=(--lr-schedule linear --ema 0); fi
        cr train data/fortunes.txt "${sc[@]}" "${budget[@]}" "${avg[@]}" -q -o "$W/sch$k.ckpt"
        expect "schedule: straight ${budget[*]} ${avg[*]}" 0
        printf '%s\n' "train ${budget[*]} ${avg[*]} (SIGINT)" >>"$TMP/ran.log"
        "$BIN" train data/fortunes.txt "${sc[@]}" "${budget[@]}" "${avg[@]}" -o "$W/sci$k.ckpt" >"$W/sci.out" 2>"$W/sci.err" &
        local pid=$!
        until_seen "$W/sci.err" '^step 50: val'   # a validation: well inside the run, the handlers in place
        kill -INT $pid
        wait $pid
        check "schedule: ${budget[*]}: interrupted (exit 130)" test $? -eq 130
        cr train data/fortunes.txt --resume --eval-every 50 --threads 2 -q -o "$W/sci$k.ckpt"; expect "schedule: resumed" 0
        local n diff
        n=$(wc -c <"$W/sch$k.ckpt")
        diff=$(cmp -l "$W/sch$k.ckpt" "$W/sci$k.ckpt" 2>&1 | awk -v n="$n" '$1 < 105 || ($1 > 112 && $1 <= n - 4)' | wc -l)
        check "schedule: ${budget[*]} ${avg[*]}: resumed == straight, byte for byte but the training time" \
            test "$diff" -eq 0 -a "$(wc -c <"$W/sci$k.ckpt")" -eq "$n"
    done
    cr info -m "$W/sch1.ckpt"
    check "schedule: info shows it" grep -qx "schedule:    cosine to 0.2 of the peak, warm-up 20 steps; averaged weights (decay 0.9)" "$TMP/out"
    cr info -m "$W/sch2.ckpt"
    check "schedule: info shows it (no averaging)" grep -qx "schedule:    linear to 0.2 of the peak, warm-up 20 steps; no averaging" "$TMP/out"
    cr train data/fortunes.txt --hidden 8 --batch 2 --seq 8 --steps 30 --preview 0 --threads 1 -q --lr-schedule cosine \
        -o "$W/st.ckpt"
    cr train data/fortunes.txt --resume --steps 60 --eval-every 0 --preview 0 -o "$W/st.ckpt"
    expect "schedule: a resume that extends the budget" 0
    check "schedule: the stretch is said in one line" test "$(sed -n 3p "$TMP/err")" = "charrnn: the cosine schedule now ends at 60 steps, not 30 steps: the lr of step 31 becomes 0.00165 (was 0.0003), ending at 0.0003"
    cr train data/fortunes.txt --resume --steps 70 --eval-every 0 --preview 0 --progress jsonl -o "$W/st.ckpt"
    check "schedule: the JSON event" grep -qE '^\{"event":"schedule","schedule":"cosine","budget":"70 steps","was":"60 steps","step":61,"lr":[0-9.e-]+,"lr_was":[0-9.e-]+,"lr_end":0.0003[0-9]*\}$' "$TMP/err"
    cr train data/fortunes.txt --resume --steps 80 --lr-schedule linear -o "$W/st.ckpt"
    expect "schedule: fixed when resuming" 2 "charrnn train: --lr-schedule cannot change when resuming: the checkpoint fixes it"
    cr train data/fortunes.txt --lr-schedule step; expect "--lr-schedule step" 2 "charrnn train: invalid value 'step' for --lr-schedule (choose one of: constant, cosine, linear)"
    cr train data/fortunes.txt --lr-floor 1.5; expect "--lr-floor 1.5" 2 "charrnn train: invalid value '1.5' for --lr-floor: must be 0..1"
    cr train data/fortunes.txt --warmup -1; expect "--warmup -1" 2 "charrnn train: invalid value '-1' for --warmup: must be 0..1000000000000000"
    cr train data/fortunes.txt --ema 1; expect "--ema 1" 2 "charrnn train: invalid value '1' for --ema: must be 0..0.99999"
}

# A save that cannot work is refused before training (one line, exit 1, nothing created); a save that fails later
# does not stop the run, and its end puts the run in NAME.rescued.ckpt (never overwriting) in the current directory.
cli_train_savefail() {
    local g=(--hidden 8 --batch 2 --seq 8 --steps 2 --eval-every 1 --preview 0 --threads 1 -q) S="$W/savefail"
    mkdir -p "$S"
    cr train data/fortunes.txt "${g[@]}" -o "$S/nodir/x.ckpt"
    expect "save: a missing directory in -o is refused before training" 1 "charrnn: cannot write '$S/nodir/x.ckpt': No such file or directory; nothing was trained: choose another -o"
    check "save: nothing left behind" test -z "$(ls -A "$S")"
    touch "$S/file"
    cr train data/fortunes.txt "${g[@]}" -o "$S/file/x.ckpt"
    expect "save: a file used as a directory in -o" 1 "charrnn: cannot write '$S/file/x.ckpt': Not a directory; nothing was trained: choose another -o"
    cr train data/fortunes.txt "${g[@]}" -o "$S/x.ckpt" --log "$S/nodir/l.csv"
    expect "save: a --log in a missing directory" 1 "charrnn: cannot write '$S/nodir/l.csv': No such file or directory; nothing was trained: choose another --log"
    check "save: no checkpoint and no log created" test "$(ls -A "$S")" = file
    mkdir "$S/ro"
    if [ "$(id -u)" = 0 ] && mount --bind "$S/ro" "$S/ro" 2>/dev/null; then   # root writes anywhere but here
        if mount -o remount,bind,ro "$S/ro" 2>/dev/null; then
            cr train data/fortunes.txt "${g[@]}" -o "$S/ro/x.ckpt"
            expect "save: a read-only file system" 1 "charrnn: cannot write '$S/ro/x.ckpt': Read-only file system; nothing was trained: choose another -o"
            cr train data/fortunes.txt "${g[@]}" -o "$S/x.ckpt" --log "$S/ro/l.csv"
            expect "save: a --log on a read-only file system" 1 "charrnn: cannot write '$S/ro/l.csv': Read-only file system; nothing was trained: choose another --log"
        else
            echo "# (read-only bind mount not possible here: not checked)"
        fi
        umount "$S/ro"
    elif [ "$(id -u)" != 0 ]; then
        chmod 555 "$S/ro"
        cr train data/fortunes.txt "${g[@]}" -o "$S/ro/x.ckpt"
        expect "save: an unwritable directory" 1 "charrnn: cannot write '$S/ro/x.ckpt': Permission denied; nothing was trained: choose another -o"
        chmod 755 "$S/ro"
    fi
    check "save: nothing created in the refused directory" test -z "$(ls -A "$S/ro")"
    # later: the directory of -o goes away after the first save (renamed: atomic, unlike rm -r of a directory being
    # written); the run goes on, says so once, and at the interrupt saves the run in the current directory, beside a
    # rescued file of an earlier run that it must not overwrite
    mkdir "$S/d" "$S/cwd"
    echo keep >"$S/cwd/x.rescued.ckpt"
    printf '%s\n' "train (save fails mid-run)" >>"$TMP/ran.log"
    (cd "$S/cwd" && exec "$BIN" train "$ROOT/data/fortunes.txt" --hidden 8 --batch 2 --seq 8 --steps 1000000 \
        --eval-every 20 --preview 0 --threads 1 -o "$S/d/x.ckpt" >"$S/late.out" 2>"$S/late.err") &
    local pid=$!
    until_seen "$S/late.err" '; saved ' && mv "$S/d" "$S/d-gone"
    until_seen "$S/late.err" 'tries again at the next save$'
    kill -INT $pid
    wait $pid
    RC=$?
    check "save fails mid-run: exit 1 after the interrupt" test $RC -eq 1
    check "save fails mid-run: said once" test "$(grep -c 'training goes on' "$S/late.err")" -eq 1
    check "save fails mid-run: the validation lines say 'not saved'" grep -q '; not saved$' "$S/late.err"
    check "save fails mid-run: the last line names the rescued file" test "$(tail -n 1 "$S/late.err")" = "charrnn: cannot write '$S/d/x.ckpt': No such file or directory; the run is saved in 'x.rescued-2.ckpt' instead"
    check "save fails mid-run: the earlier rescued file is untouched" test "$(cat "$S/cwd/x.rescued.ckpt")" = keep
    cr info -m "$S/cwd/x.rescued-2.ckpt"
    check "save fails mid-run: the rescued run loads" grep -q '^steps: *[1-9]' "$TMP/out"
    cr train data/fortunes.txt --resume --steps 1 -q -o "$S/cwd/x.rescued-2.ckpt"
    check "save fails mid-run: the rescued run resumes" test $RC -eq 0
}

# SIGKILL at random moments of a tiny run that validates and saves every step: the checkpoint always loads, and
# the run, resumed after each kill until it reaches its step count, ends bit for bit where an uninterrupted run ends
cli_train_crash() {
    local k=(--hidden 16 --batch 2 --seq 8 --steps 100 --eval-every 1 --preview 0 --threads 1 -q) C="$W/crash.ckpt"
    head -c 4000 data/fortunes.txt >"$W/crash.txt"
    cr train "$W/crash.txt" "${k[@]}" -o "$W/whole.ckpt"; expect "crash: the uninterrupted run" 0
    local kills=0 loads=0 looks=0 runs=0
    while [ $runs -lt 40 ]; do
        runs=$((runs + 1))
        if [ -e "$C" ]; then
            looks=$((looks + 1))
            "$BIN" info -m "$C" >"$W/crash.info" 2>&1 && loads=$((loads + 1))
            grep -q "^steps: *100 " "$W/crash.info" && break
            "$BIN" train "$W/crash.txt" --resume --steps 100 --eval-every 1 --preview 0 --threads 1 -q -o "$C" 2>/dev/null &
        else
            "$BIN" train "$W/crash.txt" "${k[@]}" --force -o "$C" 2>/dev/null &
        fi
        local pid=$!
        if [ $runs -le 12 ]; then
            sleep "0.0$((RANDOM % 10))"   # (within the run: the whole run takes about 0.18 s on a fast machine)
            kill -KILL $pid 2>/dev/null && kills=$((kills + 1))
        fi
        wait $pid 2>/dev/null
    done
    printf '%s\n' "train --force --resume (SIGKILL crash loop)" >>"$TMP/ran.log"
    check "crash: SIGKILL x$kills, the checkpoint loaded every time ($loads of $looks looks)" test $loads -eq $looks -a $kills -gt 0
    check "crash: the resumed run reached step 100" grep -q "^steps: *100 " "$W/crash.info"
    # bit for bit: every byte but the training time (offset 104..111) and the CRC that covers it
    local size diff
    size=$(wc -c <"$C")
    diff=$(cmp -l "$W/whole.ckpt" "$C" 2>&1 | awk -v n="$size" '$1 < 105 || ($1 > 112 && $1 <= n - 4)' | wc -l)
    check "crash: the same size as the uninterrupted run's" test "$size" -eq "$(wc -c <"$W/whole.ckpt")"
    check "crash: parameters, moments and state equal the uninterrupted run's bit for bit ($diff bytes differ)" test "$diff" -eq 0
    check "crash: no temporary left behind" bash -c "! ls '$W' | grep -q '^crash.*\.tmp\.'"
}

# tty_progress: the progress line fits a 60-column terminal (a pty from script(1)), dropping fields; it follows a
# resize (SIGWINCH) to 45 columns; a wide terminal gets every field.
tty_progress() {
    # segs FILE: the redrawn progress lines (between CR+erase-line and the next CR or newline); widths FILE: their widths
    segs() { tr -d '\n' <"$1" | sed 's/\r\x1b\[K/\n/g' | tr -d '\r' | grep '^step [0-9]*[/ ]'; }
    widths() { segs "$1" | awk '{ print length($0) }' | sort -un | tr '\n' ' '; }
    local run="$BIN train data/fortunes.txt --hidden 16 --batch 4 --seq 16 --steps 3000 --eval-every 1000 --preview 0 --threads 1 --force -o $W/tty.ckpt"
    script -qec "stty cols 60 rows 20; $run" /dev/null >"$W/tty60.out" 2>&1 </dev/null
    printf '%s\n' "train --steps --eval-every --preview --threads (tty)" >>"$TMP/ran.log"
    segs "$W/tty60.out" | grep -v ': val' >"$W/tty60.lines"
    check "60 columns: no progress line wider than 59 (widths $(widths "$W/tty60.out"))" test "$(awk '{ print length($0) }' "$W/tty60.lines" | sort -n | tail -n 1)" -le 59
    check "60 columns: the epoch is dropped first; step, loss and ETA stay" bash -c "grep -q '^step 2[0-9]*/3000  loss [0-9.]*  .*ETA' '$W/tty60.lines' && ! grep -q epoch '$W/tty60.lines'"
    check "60 columns: the opening line is wrapped at a space" bash -c "head -n 1 '$W/tty60.out' | grep -qx \$'charrnn: rnn 1 x 16, 106 symbols (UTF-8 characters), 3770\r'"
    script -qec "stty cols 200 rows 20; $run" /dev/null >"$W/tty200.out" 2>&1 </dev/null
    check "200 columns: every field" grep -qE 'step [0-9]+/3000  epoch [0-9.]+  loss [0-9.]+  val [0-9.-]+  lr [0-9.e-]+  [0-9]+ chars/s  ETA' "$W/tty200.out"
    script -qec "stty cols 120 rows 20; $BIN train data/fortunes.txt --hidden 16 --batch 4 --seq 16 --time 2 --eval-every 0 --preview 0 --threads 1 --force -o $W/tty.ckpt & sleep 1; stty cols 45; kill -WINCH \$!; wait" \
        /dev/null >"$W/ttyw.out" 2>&1 </dev/null
    printf '%s\n' "train --time (tty, SIGWINCH)" >>"$TMP/ran.log"
    segs "$W/ttyw.out" >"$W/ttyw.lines"
    check "resized to 45 columns: the later progress lines fit in 44 (widths $(widths "$W/ttyw.out"))" \
        bash -c "test \$(head -n 1 '$W/ttyw.lines' | awk '{ print length(\$0) }') -gt 44 && test \$(tail -n 1 '$W/ttyw.lines' | awk '{ print length(\$0) }') -le 44"
}

# --precision bf16: recorded in the checkpoint (info), fixed on --resume, followed by sample and score unless
# their --precision overrides it; every micro-kernel trains the same bf16 model bit for bit
cli_train_precision() {
    fixture small
    local P="$W/bf16.ckpt"
    cr train data/fortunes.txt "${small[@]}" --steps 30 --eval-every 0 --precision bf16 -o "$P"; expect "train --precision bf16" 0
    cr info -m "$P"; check "info shows bf16" grep -q "^precision: *bf16 " "$TMP/out"
    cr info -m "$M"; check "info: fp32 by default" grep -q "^precision: *fp32$" "$TMP/out"
    cr info --json -m "$P"; check "info --json: precision bf16" grep -q '"precision":"bf16"' "$TMP/out"
    cr train data/fortunes.txt --precision fp16 -o "$W/p16.ckpt"
    expect "--precision fp16" 2 "charrnn train: invalid value 'fp16' for --precision (choose one of: fp32, bf16)"
    cr train data/fortunes.txt --resume --precision fp32 -o "$P"
    expect "--precision with --resume" 2 "charrnn train: --precision cannot change when resuming: the checkpoint fixes it"
    cr train data/fortunes.txt --resume --steps 35 --eval-every 0 --threads 1 -q -o "$P"; expect "resume a bf16 run" 0
    cr info -m "$P"; check "a resumed bf16 run stays bf16" grep -q "^precision: *bf16 " "$TMP/out"
    printf '%s\n' "train --precision bf16 (CHARRNN_KERNEL=generic)" >>"$TMP/ran.log"
    CHARRNN_KERNEL=generic "$BIN" train data/fortunes.txt "${small[@]}" --steps 30 --eval-every 0 --precision bf16 \
        -o "$W/bf16g.ckpt" 2>"$TMP/err"
    CHARRNN_KERNEL=generic "$BIN" train data/fortunes.txt --resume --steps 35 --eval-every 0 --threads 1 -q -o "$W/bf16g.ckpt"
    head -c 3000 data/fortunes.txt >"$W/sc.txt"
    cr score -m "$P" --per-char "$W/sc.txt"; cp "$TMP/out" "$W/sc-bf16"
    cr score -m "$W/bf16g.ckpt" --per-char "$W/sc.txt"
    check "bf16: the generic kernel trains the same model (equal per-symbol scores)" cmp -s "$TMP/out" "$W/sc-bf16"
    cr score -m "$P" --per-char --precision bf16 "$W/sc.txt"; check "score --precision bf16 == the checkpoint's" cmp -s "$TMP/out" "$W/sc-bf16"
    cr score -m "$P" --per-char --precision fp32 "$W/sc.txt"; expect "score --precision fp32" 0
    check "score --precision fp32 overrides (other scores)" bash -c "! cmp -s '$TMP/out' '$W/sc-bf16'"
    cr score -m "$P" --precision half "$W/sc.txt"
    expect "score --precision half" 2 "charrnn score: invalid value 'half' for --precision (choose one of: fp32, bf16)"
    cr sample -m "$P" -n 300 --seed 4; expect "sample a bf16 model" 0
    cp "$TMP/out" "$W/sb"
    cr sample -m "$P" -n 300 --seed 4 --threads 1 --precision bf16; check "sample bf16: 1 thread, explicit bf16, same bytes" cmp -s "$TMP/out" "$W/sb"
    cr sample -m "$P" -n 300 --seed 4 --precision fp32; expect "sample --precision fp32" 0
    cr sample -m "$P" --precision; expect "sample --precision without a value" 2 "charrnn sample: option '--precision' needs a value (P)"
}

# same_run A B: checkpoints A and B are equal in every byte but the training time (offset 104..111) and the CRC
same_run() {
    local n
    n=$(stat -c %s "$1") || return 1
    [ "$n" = "$(stat -c %s "$2")" ] &&
        [ "$(cmp -l "$1" "$2" 2>&1 | awk -v n="$n" '$1 < 105 || ($1 > 112 && $1 <= n - 4)' | wc -l)" = 0 ]
}

# --shards K: the same bits for any --threads, resumed or straight; --resume keeps K; a batch K does not divide
cli_train_shards() {
    local o=(--cell lstm --layers 2 --hidden 24 --batch 8 --seq 16 --dropout 0.1 --eval-every 10 -q)
    cr train data/fortunes.txt "${o[@]}" --steps 20 --shards 4 --threads 1 -o "$W/sh1.ckpt"; expect "--shards 4" 0
    cr train data/fortunes.txt "${o[@]}" --steps 20 --shards 4 --threads 2 -o "$W/sh2.ckpt"
    check "--shards 4: 1 and 2 threads train the same model" same_run "$W/sh1.ckpt" "$W/sh2.ckpt"
    cr train data/fortunes.txt "${o[@]}" --steps 20 --threads 1 -o "$W/sh0.ckpt"
    if same_run "$W/sh0.ckpt" "$W/sh1.ckpt"; then bad "$LABEL --shards 4 and 1 train different bits"
    else ok "$LABEL --shards 4 and 1 train different bits"; fi
    cr train data/fortunes.txt "${o[@]}" --steps 10 --shards 4 --threads 1 -o "$W/sh3.ckpt"
    cr train data/fortunes.txt --resume --steps 20 --threads 2 -q -o "$W/sh3.ckpt"; expect "resume a --shards 4 run" 0
    check "--shards 4: resumed at step 10 = straight" same_run "$W/sh1.ckpt" "$W/sh3.ckpt"
    cr info -m "$W/sh3.ckpt"; check "info: resumable with --shards 4" grep -q '^resumable: *yes (.*; --shards 4)$' "$TMP/out"
    cr info --json -m "$W/sh3.ckpt"; check "info --json: shards 4" grep -q '"shards":4}$' "$TMP/out"
    cr train data/fortunes.txt --resume --shards 2 --steps 30 -o "$W/sh3.ckpt"
    expect "--shards with --resume" 2 "charrnn train: --shards cannot change when resuming: the checkpoint fixes it"
    cr train data/fortunes.txt "${o[@]}" --steps 20 --shards 3 -o "$W/sh4.ckpt"
    expect "--shards 3 --batch 8" 2 \
        "charrnn: --batch 8 is not divisible by --shards 3 (shards must be 1..65536 and divide the batch)"
}

# on a terminal, every message line is wrapped at spaces to the terminal's width (TIOCGWINSZ, else COLUMNS, else
# 80), continuation lines indented by 2; the resume hint's command is never split: it moves to a line of its own.
# Elsewhere the lines are unchanged (the exact messages of every other test).
cli_train_wrap() {
    command -v script >/dev/null 2>&1 || { echo "# skipped: cli_train_wrap (no script(1))"; return 0; }
    # msgs FILE: the message lines of a pty transcript (progress redraws and carriage returns taken out)
    msgs() { sed 's/\r\x1b\[K/\n/g' "$1" | tr -d '\r' | grep -v '^step [0-9]*/' | grep -v '^$'; }
    # joined FILE: msgs with each continuation line joined to its line by one space
    joined() { msgs "$1" | awk 'NR > 1 && /^  / { sub(/^  /, ""); printf " %s", $0; next } NR > 1 { print "" } { printf "%s", $0 } END { print "" }'; }
    # widest FILE: the widest message line of more than one word (a word longer than a line stays whole)
    widest() { msgs "$1" | awk '{ w = $0; sub(/^ +/, "", w) } index(w, " ") && length($0) > m { m = length($0) } END { print m + 0 }'; }
    local o="$W/a checkpoint with a long name for the wrap test.ckpt"
    local run="$BIN train data/fortunes.txt --hidden 16 --batch 4 --seq 16 --steps 300 --eval-every 100 --preview 0 --threads 1 --force"
    script -qec "stty cols 50 rows 20; $run -o '$o'" /dev/null >"$W/wrap50.out" 2>&1 </dev/null
    printf '%s\n' "train (tty, 50 columns)" >>"$TMP/ran.log"
    check "50 columns: every message line fits in 49 (widest $(widest "$W/wrap50.out"))" test "$(widest "$W/wrap50.out")" -le 49
    check "50 columns: lines are broken at spaces only (the done line joined back is whole)" \
        grep -qE "^done: 300 steps, epoch [0-9.]+, train loss [0-9.]+, val [0-9.]+ nats/char, [0-9]+ chars/s, [0-9.]+ s; saved $o\$" <(joined "$W/wrap50.out")
    msgs "$W/wrap50.out" >"$W/wrap50.msgs"
    joined "$W/wrap50.out" >"$W/wrap50.joined"
    check "50 columns: the validation summary is wrapped, whole when joined back" \
        bash -c "! grep -q '^validation: .*bits/char)\$' '$W/wrap50.msgs' && grep -qE '^validation: [0-9.]+ -> [0-9.]+ nats/char over 3 evaluations; best [0-9.]+ \([0-9.]+ bits/char\)\$' '$W/wrap50.joined'"
    script -qec "stty cols 0 rows 20; COLUMNS=40 $run -o '$o'" /dev/null >"$W/wrapc.out" 2>&1 </dev/null
    check "no size from the terminal: COLUMNS=40 (widest $(widest "$W/wrapc.out"))" test "$(widest "$W/wrapc.out")" -le 39
    script -qec "stty cols 0 rows 20; COLUMNS= $run -o '$o'" /dev/null >"$W/wrap80.out" 2>&1 </dev/null
    check "no size from the terminal, no COLUMNS: 80 (widest $(widest "$W/wrap80.out"))" test "$(widest "$W/wrap80.out")" -le 79 -a "$(widest "$W/wrap80.out")" -gt 49
    # the resume hint: a SIGTERM'd run on a pty and in a pipe; the command alone on its line, exactly the pipe's
    local slow="$BIN train data/fortunes.txt --hidden 64 --steps 1000000 --eval-every 0 --preview 0 --threads 1 --force"
    script -qec "stty cols 60 rows 20; $slow -o '$o' & sleep 1.5; kill -TERM \$!; wait" /dev/null >"$W/wrapint.out" 2>&1 </dev/null
    $slow -o "$o" 2>"$W/wrapint.err" & local pid=$!
    until_seen "$W/wrapint.err" ' threads?$' && sleep 0.5
    kill -TERM $pid; wait $pid
    local cmd
    cmd=$(sed -n 's/.*Resume with: //p' "$W/wrapint.err")
    check "the hint in a pipe: one line" test "$(grep -c 'interrupted' "$W/wrapint.err")" -eq 1 -a -n "$cmd"
    check "60 columns: the resume command whole on a line of its own" grep -qxF "  $cmd" <(msgs "$W/wrapint.out")
    check "60 columns: the interruption message wrapped before it" grep -q '^charrnn: interrupted at step [0-9]* (epoch [0-9.]*); saved$' <(msgs "$W/wrapint.out")
    # an error line
    script -qec "stty cols 40 rows 20; $BIN train '$W/no such directory/with a long name/corpus.txt' -o '$W/wraperr.ckpt'" /dev/null >"$W/wraperr.out" 2>&1 </dev/null
    check "40 columns: an error is wrapped (widest $(widest "$W/wraperr.out"))" test "$(widest "$W/wraperr.out")" -le 39 -a "$(msgs "$W/wraperr.out" | wc -l)" -gt 1
    check "40 columns: the error joined back is the pipe's" grep -qxF "charrnn: cannot open '$W/no such directory/with a long name/corpus.txt': No such file or directory" <(joined "$W/wraperr.out")
}

# --time: the progress line shows the time spent of the budget and a bar; the start-up estimate of the epochs
# --time buys is corrected once from the measured speed (CHARRNN_TEST_SIZE_RATE makes the assumed speed far off)
cli_train_time() {
    local t=(--hidden 16 --batch 4 --seq 16 --eval-every 0 --preview 0 --threads 1 --force)
    cr train data/fortunes.txt "${t[@]}" --time 1.5 -o "$W/time.ckpt"; expect "train --time 1.5" 0
    check "--time: the progress line shows time spent/total and a bar" \
        grep -qE '^step 1  time 0:00/0:02 \[-{10}\] [0-9]%  epoch 0\.00  loss ' "$TMP/err"
    cr train data/fortunes.txt "${t[@]}" --steps 30 -o "$W/time.ckpt"
    check "no --time: no time field" bash -c "grep -q '^step 1/30  epoch' '$TMP/err' && ! grep -q '  time ' '$TMP/err'"
    CHARRNN_TEST_SIZE_RATE=1e7 cr train data/fortunes.txt --batch 4 --seq 16 --eval-every 0 --preview 0 --threads 1 --force --time 1.5 -o "$W/time.ckpt"
    expect "--time with a far too slow assumed speed" 0
    check "the start-up estimate is tiny" grep -q "^charrnn: rnn 1 x 256, dropout 0 (sized for 597k training symbols and about 0.0 epochs in that time," "$TMP/err"
    check "the estimate is corrected once from the measured speed" \
        test "$(grep -cE '^charrnn: at the measured [0-9]+ chars/s, --time buys about [0-9.]+ epochs, not the 0\.0 estimated at the start$' "$TMP/err")" -eq 1
    local said got
    said=$(sed -n 's/.*--time buys about \([0-9.]*\) epochs.*/\1/p' "$TMP/err")
    got=$(sed -n 's/^done: [0-9]* steps, epoch \([0-9.]*\),.*/\1/p' "$TMP/err")
    check "the corrected estimate ($said) is within a factor 2 of the epochs reached ($got)" \
        awk -v a="$said" -v b="$got" 'BEGIN { exit !(a > 0 && b > 0 && a < 2 * b && b < 2 * a) }'
    CHARRNN_TEST_SIZE_RATE=1e7 cr train data/fortunes.txt --batch 4 --seq 16 --eval-every 0 --preview 0 --threads 1 --force --time 1.5 --progress jsonl -o "$W/time.ckpt"
    check "--progress jsonl: the estimate event" grep -qE '^\{"event":"estimate","chars_per_sec":[0-9.e+]+,"epochs":[0-9.e+-]+,"estimated_epochs":[0-9.e+-]+\}$' "$TMP/err"
    CHARRNN_TEST_SIZE_RATE=1e7 cr train data/fortunes.txt --layers 1 --hidden 16 --batch 4 --seq 16 --dropout 0 --eval-every 0 --preview 0 --threads 1 --force --time 1.5 -o "$W/time.ckpt"
    check "no sizing line, no estimate to correct" bash -c "! grep -q 'measured' '$TMP/err'"
}
