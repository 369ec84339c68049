# tests/cli_mpi.sh — the mpi section: `make mpi` and training over several processes (mpirun -np 1, 2, 3 of
# ./charrnn-mpi) against the single-process ./charrnn with the same --shards: the same checkpoints for every cell
# and a bidirectional model, a resume on another process count, a killed rank, a signal to one rank, mismatched and
# unreadable corpora, a rank out of memory, shards the processes do not divide. Needs mpicc and mpirun (otherwise test.sh says in one line that it skipped).
# Every run is bounded by `timeout`.

MPI_TESTS=(cli_mpi_build cli_mpi_same cli_mpi_resume cli_mpi_kill cli_mpi_signal cli_mpi_corpus cli_mpi_shards
           cli_mpi_memory cli_mpi_time)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# mr NP ARGS...: mpirun -np NP ./charrnn-mpi ARGS (at most 120 s); RC as cr sets it, stderr in $TMP/err
mr() {
    local np=$1
    shift
    timeout 120 mpirun --oversubscribe -np "$np" "$MPIBIN" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
}

cli_mpi_build() {
    if make -s mpi >"$TMP/mpibuild.log" 2>&1 && ! grep -q warning "$TMP/mpibuild.log"; then
        ok "$LABEL make mpi builds ./charrnn-mpi warning-free"
    else
        bad "$LABEL make mpi: $(head -n 5 "$TMP/mpibuild.log")"
    fi
}

# the same checkpoint from ./charrnn --shards 6 and from 1, 2 and 3 processes: rnn, lstm (dropout), gru, bidirectional
cli_mpi_same() {
    local kind np o
    for kind in rnn lstm gru bidir; do
        o=(--cell "$kind" --layers 2 --hidden 24 --batch 12 --seq 16 --steps 12 --eval-every 6 --shards 6 --threads 1 -q)
        [ "$kind" = lstm ] && o+=(--dropout 0.2)
        [ "$kind" = bidir ] && o=(--cell gru --bidirectional --dropout 0.1 "${o[@]:2}")
        cr train data/fortunes.txt "${o[@]}" -o "$W/s-$kind.ckpt"
        for np in 1 2 3; do
            mr "$np" train data/fortunes.txt "${o[@]}" -o "$W/m$np-$kind.ckpt"
            check "$kind: mpirun -np $np trains the checkpoint one process trains (exit $RC)" \
                same_run "$W/s-$kind.ckpt" "$W/m$np-$kind.ckpt"
        done
        check "$kind: the same best checkpoint on 3 processes" same_run "$W/s-$kind.best.ckpt" "$W/m3-$kind.best.ckpt"
    done
    printf '%s\n' "charrnn-mpi train/sample without mpirun" >>"$TMP/ran.log"
    timeout 60 "$MPIBIN" train data/fortunes.txt "${o[@]}" -o "$W/direct.ckpt" 2>"$TMP/err"
    check "./charrnn-mpi without mpirun: one process, the same checkpoint" same_run "$W/s-bidir.ckpt" "$W/direct.ckpt"
    cr sample -m "$W/s-rnn.ckpt" -n 200 --seed 3; cp "$TMP/out" "$W/sample1"
    timeout 60 "$MPIBIN" sample -m "$W/s-rnn.ckpt" -n 200 --seed 3 >"$W/sample2" 2>"$TMP/err"
    check "./charrnn-mpi sample = ./charrnn sample" cmp -s "$W/sample1" "$W/sample2"
}

# 10 steps on 2 processes, resumed to 20 on 3 = 20 straight on one
cli_mpi_resume() {
    local o=(--cell lstm --layers 2 --hidden 24 --batch 12 --seq 16 --dropout 0.1 --eval-every 5 --shards 6 -q)
    cr train data/fortunes.txt "${o[@]}" --steps 20 --threads 2 -o "$W/r1.ckpt"
    mr 2 train data/fortunes.txt "${o[@]}" --steps 10 --threads 1 -o "$W/r2.ckpt"
    mr 3 train data/fortunes.txt --resume --steps 20 --threads 1 -q -o "$W/r2.ckpt"
    expect "resume on 3 processes a run of 2" 0
    check "2 then 3 processes = one process straight" same_run "$W/r1.ckpt" "$W/r2.ckpt"
}

# kill -9 of rank 1 mid-run: the job ends, rank 0's last checkpoint is intact and resumes
cli_mpi_kill() {
    local K="$W/kill.ckpt" p pid rc
    rm -f "$K"
    timeout 60 mpirun --oversubscribe -np 2 "$MPIBIN" train data/fortunes.txt --cell lstm --layers 1 --hidden 32 \
        --batch 8 --seq 16 --steps 1000000 --eval-every 5 --shards 2 --threads 1 -q -o "$K" 2>"$TMP/kerr" &
    pid=$!
    for _ in $(seq 200); do [ -f "$K" ] && break; sleep 0.1; done
    sleep 0.5
    for p in $(pgrep -f "charrnn-mpi train .*-o $K"); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && kill -9 "$p"
    done
    wait "$pid"
    rc=$?
    check "kill -9 of rank 1: the job ends, not by the timeout (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
    cr info -m "$K"; expect "rank 0's last checkpoint is intact" 0
    local step
    step=$(sed -n 's/^steps: *\([0-9]*\).*/\1/p' "$TMP/out")
    cr train data/fortunes.txt --resume --steps $((step + 5)) --threads 1 -q -o "$K"
    expect "and resumes (from step $step)" 0
}

# a rank with another corpus, or none it can read: one line naming the rank, exit 1, no hang
cli_mpi_corpus() {
    local o=(--cell lstm --layers 1 --hidden 16 --batch 8 --seq 16 --steps 10 --shards 2 --threads 1 -q)
    head -c 50000 data/fortunes.txt >"$W/other.txt"
    timeout 60 mpirun --oversubscribe -np 1 "$MPIBIN" train "${o[@]}" -o "$W/c.ckpt" data/fortunes.txt : \
        -np 1 "$MPIBIN" train "${o[@]}" -o "$W/c.ckpt" "$W/other.txt" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    check "another corpus on rank 1: exit 1 (exit $RC)" test "$RC" = 1
    check "every rank says rank 1 read a different corpus" test "$(grep -c \
        '^charrnn: rank [01]: rank 1 read a different corpus (50000 bytes, CRC-32 [0-9a-f]*; rank 0: ' "$TMP/err")" = 2
    timeout 60 mpirun --oversubscribe -np 1 "$MPIBIN" train "${o[@]}" -o "$W/c.ckpt" data/fortunes.txt : \
        -np 1 "$MPIBIN" train "${o[@]}" -o "$W/c.ckpt" "$W/missing.txt" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    check "rank 1 cannot read its corpus: exit 1 (exit $RC)" test "$RC" = 1
    check "rank 1 names itself" grep -qx "charrnn: rank 1: cannot open '$W/missing.txt': No such file or directory" \
        "$TMP/err"
}

# shards the processes do not divide, a batch the shards do not divide: one line per rank, exit 2, no hang
cli_mpi_shards() {
    local o=(--cell rnn --hidden 16 --seq 16 --steps 10 --threads 1 -q)
    mr 3 train data/fortunes.txt "${o[@]}" --batch 8 --shards 4 -o "$W/d.ckpt"
    check "--shards 4 on 3 processes: exit 2 (exit $RC)" test "$RC" = 2
    check "--shards 4 on 3 processes: each rank says so" test "$(grep -c \
        '^charrnn: rank [012]: --shards 4 is not divisible by the 3 processes (each must own whole shards)$' "$TMP/err")" = 3
    mr 2 train data/fortunes.txt "${o[@]}" --batch 10 --shards 4 -o "$W/d.ckpt"
    check "--batch 10 --shards 4 on 2 processes: exit 2 (exit $RC)" test "$RC" = 2
    check "--batch 10 --shards 4: each rank says so" test "$(grep -c \
        '^charrnn: rank [01]: --batch 10 is not divisible by --shards 4' "$TMP/err")" = 2
    mr 2 train data/fortunes.txt "${o[@]}" --batch 8 -o "$W/d.ckpt"
    check "no --shards on 2 processes: exit 2 (exit $RC)" test "$RC" = 2
}

# SIGINT to rank 1 alone: every process stops after the same step, rank 0 saves, the job exits 130
cli_mpi_signal() {
    local S="$W/sig.ckpt" p pid rc
    rm -f "$S"
    timeout 60 mpirun --oversubscribe -np 2 "$MPIBIN" train data/fortunes.txt --cell lstm --layers 1 --hidden 32 \
        --batch 8 --seq 16 --steps 1000000 --eval-every 20 --shards 2 --threads 1 -o "$S" 2>"$TMP/serr" &
    pid=$!
    for _ in $(seq 200); do [ -f "$S" ] && break; sleep 0.1; done
    for p in $(pgrep -f "charrnn-mpi train .*-o $S"); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && kill -INT "$p"
    done
    wait "$pid"
    rc=$?
    check "SIGINT to rank 1: the job exits 130 (exit $rc)" test "$rc" = 130
    local step
    step=$(sed -n "s/^charrnn: interrupted at step \([0-9]*\) .*saved '.*/\1/p" "$TMP/serr")
    cr info -m "$S"
    check "rank 0 saved the step it says it stopped at ($step)" grep -q "^steps: *$step " "$TMP/out"
}

# rank 1 out of memory (ulimit -v): one line naming it, exit 1, no hang
cli_mpi_memory() {
    local o=(--cell lstm --layers 2 --hidden 2048 --batch 8 --seq 16 --steps 1 --shards 2 --threads 1 -q -o "$W/mem.ckpt")
    timeout 120 mpirun --oversubscribe -np 1 "$MPIBIN" train "${o[@]}" data/fortunes.txt : -np 1 sh -c \
        "ulimit -v 800000; exec '$MPIBIN' train ${o[*]} data/fortunes.txt" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    check "rank 1 out of memory: exit 1 (exit $RC)" test "$RC" = 1
    check "rank 1 says it ran out of memory" grep -q "^charrnn: rank 1: .*out of memory$" "$TMP/err"
    check "rank 0 says rank 1 failed" grep -qx "charrnn: rank 0: stopping: rank 1 failed (its line says why)" "$TMP/err"
}

# --time on 2 processes: rank 0's clock ends every process after the same step (no hang), exit 0
cli_mpi_time() {
    mr 2 train data/fortunes.txt --cell lstm --hidden 32 --batch 8 --seq 16 --time 1 --eval-every 0 --shards 2 \
        --threads 1 -q -o "$W/time.ckpt"
    expect "--time 1 on 2 processes" 0
    cr info -m "$W/time.ckpt"; check "the checkpoint has 1 s of training" grep -qE '^steps: .*, 1\.[0-9] s\)$' "$TMP/out"
}
