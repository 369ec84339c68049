/* cmd_train.c — `charrnn train`: its options, the sizing rule, the model (new, fine-tuned or resumed), the
 * loop with progress (text or JSON lines), validation, checkpoints, the CSV log, signals and the resume hint;
 * over several processes (dist.h), what they agree on: a status after loading and starting, the corpus, a stop
 * signal and rank 0's step time each step; rank 0 alone writes and reports.
 * Must not know: the library's internals (it includes rnn.h only), any other command. */
#define _POSIX_C_SOURCE 200809L
#include "cmd.h"
#include "cli.h"
#include "dist.h"
#include "out.h"
#include "rnn.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *cmd_argv0 = "charrnn";

/* This process writes the checkpoints, the log and the progress: the only one, or rank 0 of several. */
static int save_here = 1;

/* The step budget of a run given none (no --steps, --epochs or --time); STR(DEFAULT_STEPS) is its --help
 * text. */
#define DEFAULT_STEPS 2000
/* The defaults of --lr-schedule, --lr-floor, --warmup and --ema, measured per step (docs/quality.md "The
 * learning-rate schedule and averaged weights"): at the default lr, the averaged weights of a constant lr beat
 * every decaying schedule (fortunes rnn 1.8036 against 1.8458 constant and 1.9179 cosine to 0.1; C headers
 * 0.5417 against 0.6202 and 0.6186), and a warm-up only cost (Adam's bias correction already starts gently). */
#define DEFAULT_SCHEDULE RNN_SCHED_CONSTANT
#define DEFAULT_FLOOR 0.1
#define DEFAULT_WARMUP 0
#define DEFAULT_EMA 0.99

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "x.ckpt" -> "x.best.ckpt"; anything else -> "x.best". Caller frees. */
static char *best_path(const char *out) {
    size_t n = strlen(out);
    char *p = malloc(n + 8);
    if (!p) return NULL;
    if (n > 5 && !strcmp(out + n - 5, ".ckpt")) snprintf(p, n + 8, "%.*s.best.ckpt", (int)(n - 5), out);
    else snprintf(p, n + 8, "%s.best", out);
    return p;
}

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) {
    /* second signal: abort at once; the last checkpoint on disk is intact (atomic saves) */
    if (stop_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
}

static const char *const progress_names[] = {"text", "jsonl", NULL};

static void fmt_eta(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) { snprintf(buf, n, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* Writes a preview sample of n symbols to stderr as one line (temperature 0.8, fixed seed, the generator's start
 * and UTF-8 rules as `sample`'s): each character as put_symbol writes it, so a newline shows as \n, a tab as \t
 * and no control character reaches the terminal to move the progress display. */
static void preview(const rnn_model *m, int n) {
    rnn_err err;
    rnn_gen_opts o = {.temperature = 0.8f, .top_p = 1.0f, .length = (uint64_t)n};
    rnn_gen *g = rnn_gen_new(m, 1, 42, 1, &o, err);
    unsigned char *buf = malloc((size_t)n * 4 + 16);
    size_t len = 0;
    rnn_gen_out st;
    int running;
    if (!g || !buf) goto out;
    do {   /* at most n symbols of up to 4 bytes, and a byte model's last character's end */
        running = rnn_gen_step(g, &st);
        memcpy(buf + len, st.bytes, (size_t)st.nbytes);
        len += (size_t)st.nbytes;
    } while (running);
    fputs("  | ", stderr);
    for (size_t i = 0; i < len;) {   /* character by character: valid UTF-8 stays whole, other bytes \xHH */
        uint32_t sym;
        int k = rnn_utf8_next(buf + i, len - i, &sym);
        put_symbol(stderr, buf + i, (size_t)k);
        i += (size_t)k;
    }
    fputc('\n', stderr);
out:
    rnn_gen_free(g);
    free(buf);
}

/* What one training run tracks beyond the model's own progress. */
typedef struct {
    rnn_model *m;
    rnn_trainer *t;
    const char *out, *bpath;
    FILE *logf;
    int quiet, tty, preview, jsonl;   /* jsonl: --progress jsonl, one JSON object per line instead of text */
    double t_loop, ema, first_val;   /* this run's training-loop seconds, smoothed loss, first validation */
    uint64_t run_chars, start_step, best_step, nevals;
    uint64_t stale;                  /* validations since the best one (counted in this run) */
    int warned;                      /* the "has not improved" line was printed */
    int unsaved;                     /* the last save of -o failed: the run's state is on no disk yet */
    int save_warned;                 /* the "cannot write ... training goes on" line was printed */
    double est_epochs;               /* the start-up estimate of the epochs --time buys, until checked; else NaN */
} run_state;

/* Validations without improvement after which training says, once, that the model may be overfitting. */
#define STALE_WARN 3

static double run_rate(const run_state *r) { return r->t_loop > 0 ? r->run_chars / r->t_loop : 0; }

/* One CSV row; val NaN leaves the val_loss column empty. */
static void log_row(run_state *r, double val) {
    rnn_progress *p = rnn_model_progress(r->m);
    rnn_train_info info;
    rnn_trainer_info(r->t, &info);
    fprintf(r->logf, "%llu,%.3f,", (unsigned long long)p->step, p->seconds);
    if (!isnan(r->ema)) fprintf(r->logf, "%.5f", r->ema);   /* empty before the run's first step */
    fputc(',', r->logf);
    if (!isnan(val)) fprintf(r->logf, "%.5f", val);
    fprintf(r->logf, ",%.6g,%.0f\n", info.lr, run_rate(r));
}

/* The seconds left until the first budget is reached, NaN if unknown yet. */
static double run_eta(const run_state *r, const rnn_budget *bud, const rnn_train_info *info) {
    const rnn_progress *p = rnn_model_progress(r->m);
    double done = (double)(p->step - r->start_step), eta = NAN;
    if (bud->steps && done > 0) eta = (double)(bud->steps - p->step) * r->t_loop / done;
    if (bud->epochs > 0 && done > 0) {
        double e = (bud->epochs - info->epoch) * info->steps_per_epoch * r->t_loop / done;
        eta = isnan(eta) || e < eta ? e : eta;
    }
    if (bud->seconds > 0 && (isnan(eta) || bud->seconds - p->seconds < eta)) eta = bud->seconds - p->seconds;
    return eta;
}

/* A message line[0..len) that ends with the shell command cmd: said with the command never split (say_line). */
static void say_command(const char *line, size_t len, const char *cmd) {
    size_t n = strlen(cmd);
    say_line(line, len >= n && !strcmp(line + len - n, cmd) ? line + len - n : NULL);
}

/* One event of a run on stderr (every event but the progress line, which fits the terminal: show_progress):
 * with json the JSON object `name` (--progress jsonl); else its text, `prefix` and then the fields' text, as
 * one line through say_line, or through say_command when the line ends with the shell command `cmd` (NULL:
 * none). Text beyond 9,000 bytes is cut. */
static void say_event(int json, const char *name, const ev_field *e, int n, const char *prefix, const char *cmd) {
    if (json) {
        ev_json(stderr, name, e, n);
        return;
    }
    char line[9000];
    size_t p = strlen(prefix) < 64 ? strlen(prefix) : 0;
    memcpy(line, prefix, p);
    size_t len = p + ev_text(line + p, sizeof line - p, e, n, 0);
    if (cmd) say_command(line, len, cmd);
    else say_line(line, NULL);
}
#define SAY_EVENT(json, name, e, prefix, cmd) say_event(json, name, e, (int)(sizeof e / sizeof *e), prefix, cmd)

/* With a --time budget, the training time spent and the budget, "0:12/1:00", into tb, and a bar of 10 and the
 * percentage, "[##--------] 20%", into bar. */
static void time_text(const rnn_progress *p, const rnn_budget *bud, char *tb, size_t tn, char *bar, size_t bn) {
    char a[32], b[32];
    double f = bud->seconds > 0 ? fmin(fmax(p->seconds / bud->seconds, 0), 1) : 0;
    fmt_eta(a, sizeof a, p->seconds);
    fmt_eta(b, sizeof b, bud->seconds);
    snprintf(tb, tn, "%s/%s", a, b);
    int k = (int)(f * 10);
    snprintf(bar, bn, "[%.*s%.*s] %d%%", k, "##########", 10 - k, "----------", (int)(f * 100));
}

/* The progress event: step, budget, the time budget spent (with --time; text only), epoch, smoothed loss, last
 * validation loss, the next step's learning rate, rate, ETA. As text the fields are joined by two spaces; on a
 * terminal too narrow for the line they are dropped in the order of `drop` (the time bar first, then the epoch,
 * the last validation loss (its own line shows it), the lr, the rate, the ETA, the time spent; the step and
 * the loss stay). */
static void show_progress(run_state *r, const rnn_budget *bud) {
    const rnn_progress *p = rnn_model_progress(r->m);
    rnn_train_info info;
    rnn_trainer_info(r->t, &info);
    double eta = run_eta(r, bud, &info);
    char etab[32], line[320], timeb[64], barb[32];
    fmt_eta(etab, sizeof etab, eta);
    time_text(p, bud, timeb, sizeof timeb, barb, sizeof barb);
    int timed = bud->seconds > 0;
    ev_field e[] = {
        EV_U64("step", "step %llu", p->step),
        {.key = "steps", .text = "/%llu", .none = "", .kind = EV_U64, .null = !bud->steps, .v.u = bud->steps},
        {.text = "  time %s", .none = "", .kind = EV_STR, .null = !timed, .v.s = timeb},
        {.text = " %s", .none = "", .kind = EV_STR, .null = !timed, .v.s = barb},
        EV_NUM("epoch", "  epoch %.2f", info.epoch),
        EV_NUM("loss", "  loss %.4f", r->ema),
        {.key = "val_loss", .text = "  val %.4f", .none = "  val -", .kind = EV_FLOAT, .v.d = p->last_val},
        EV_FLOAT("lr", "  lr %.3g", info.lr),
        EV_NUM("chars_per_sec", "  %.0f chars/s", run_rate(r)),
        {.key = "eta_seconds", .text = "  ETA %s", .shown = etab, .kind = EV_NUM, .v.d = eta},
    };
    enum { NE = sizeof e / sizeof *e };
    static const int drop[] = {3, 4, 6, 7, 8, 9, 2};   /* bar, epoch, val_loss, lr, rate, ETA, time */
    if (r->jsonl) {
        ev_json(stderr, "progress", e, NE);
    } else {   /* on a terminal: \r and erase-line, fitted to cols - 1 columns (the cursor never wraps) */
        unsigned skip = 0;
        int cols = r->tty ? term_cols(2) : 0;
        size_t len = ev_text(line, sizeof line, e, NE, skip);
        for (int d = 0; cols > 0 && len >= (size_t)cols && d < (int)(sizeof drop / sizeof *drop); d++)
            len = ev_text(line, sizeof line, e, NE, skip |= 1u << drop[d]);
        if (cols > 1 && len >= (size_t)cols) line[cols - 1] = 0;   /* a very narrow terminal: cut */
        fprintf(stderr, "%s%s%s", r->tty ? "\r\033[K" : "", line, r->tty ? "" : "\n");
    }
    fflush(stderr);
}

/* The start-up estimate of the epochs a --time budget buys (size_model's, from an assumed speed), checked once
 * the run has trained for a second (or 5% of the budget) and at least 3 steps: if the measured speed gives
 * more than 1.5 times as many or fewer than 1/1.5, says the corrected estimate once (JSON event `estimate`). */
static void check_estimate(run_state *r, const rnn_budget *bud) {
    const rnn_progress *p = rnn_model_progress(r->m);
    if (isnan(r->est_epochs) || p->step - r->start_step < 3 || r->t_loop < fmin(1.0, 0.05 * bud->seconds))
        return;
    rnn_train_info info;
    rnn_trainer_info(r->t, &info);
    const rnn_config *c = rnn_model_config(r->m);
    double per_epoch = (double)info.steps_per_epoch * c->batch * c->seq, was = r->est_epochs;
    double now = info.epoch + fmax(bud->seconds - p->seconds, 0) * run_rate(r) / per_epoch;
    r->est_epochs = NAN;   /* once */
    if (r->quiet || (now <= 1.5 * was && now >= was / 1.5)) return;
    ev_field e[] = {
        EV_NUM("chars_per_sec", "charrnn: at the measured %.0f chars/s", run_rate(r)),
        EV_NUM("epochs", ", --time buys about %.2f epochs", now),
        EV_NUM("estimated_epochs", ", not the %.1f estimated at the start", was),
    };
    if (r->tty && !r->jsonl) fputs("\r\033[K", stderr);   /* over the progress line */
    SAY_EVENT(r->jsonl, "estimate", e, "", NULL);
}

/* A save of `path` that failed with err: said once per run (training goes on; the next save tries again, and
 * the end of the run saves the state elsewhere if -o still cannot be written: rescue_save). */
static void save_failed(run_state *r, const char *err) {
    if (r->save_warned) return;
    r->save_warned = 1;
    say("charrnn: %s; training goes on and tries again at the next save", err);
}

/* Validates (if there is a validation split), saves the best-by-validation model when it improved, saves the
 * resumable checkpoint, reports and logs. A failed save does not stop the run (save_failed); r->unsaved says
 * whether -o now holds this state. */
static void evaluate(run_state *r, rnn_err err) {
    rnn_progress *p = rnn_model_progress(r->m);
    float before = p->best_val;
    /* whatever follows starts on a clean line */
    if (r->tty && !r->quiet && !r->jsonl) fputs("\r\033[K", stderr);
    double v = rnn_validate(r->t);
    int best = 0;
    if (!isnan(v)) {
        r->nevals++;
        if (isnan(r->first_val)) r->first_val = v;
        best = isnan(before) || p->best_val < before;   /* strictly better than any earlier validation */
        r->stale = best ? 0 : r->stale + 1;
        if (best) {
            r->best_step = p->step;
            if (save_here && rnn_save(r->bpath, r->m, NULL, err)) save_failed(r, err);
        }
    }
    r->unsaved = save_here && rnn_save(r->out, r->m, r->t, err) != 0;
    if (r->unsaved) save_failed(r, err);
    ev_field e[] = {
        EV_U64("step", "step %llu", p->step),
        EV_NUM("val_loss", ": val %.4f nats/char", v),
        EV_NUM("val_bits", " (%.3f bits/char)", v / log(2.0)),
        EV_BOOL("best", ", best so far", best),
        {.key = "saved", .text = "; saved %s", .none = "; not saved", .kind = EV_STR,
         .v.s = r->unsaved ? NULL : r->out},
    };
    if (!r->quiet) {
        if (r->jsonl || !isnan(v)) SAY_EVENT(r->jsonl, "validation", e, "", NULL);   /* no split: no line */
        if (!r->jsonl && r->preview > 0) preview(r->m, r->preview);
    }
    if (r->stale >= STALE_WARN && !r->warned && !r->quiet) {   /* once per run */
        r->warned = 1;
        char at[48] = " from an earlier run";
        if (r->best_step) snprintf(at, sizeof at, " at step %llu", (unsigned long long)r->best_step);
        say("charrnn: validation has not improved for %llu evaluations (best %.4f%s); the model may be "
                "overfitting — %s holds the best",
                (unsigned long long)r->stale, p->best_val, at, r->bpath);
    }
    if (r->logf) log_row(r, v);
}

/* The options of one `train` run: the values, and the table that parses them into those values. */
typedef struct {
    int cell, layers, hidden, batch, seq, optim, bytes, resume, force, quiet, preview_n, threads, progress,
            bidir;
    int precision, schedule, shards;
    double lr, lr_decay, clip, dropout, val, forget_bias, seconds, epochs, lr_floor, ema;
    uint64_t seed, steps, eval_every, early_stop, warmup;
    const char *out, *logpath, *corpus, *init;
    command c;   /* the table, in cmd_train's frame */
} train_args;

/* Everything one run holds, freed by train_end whatever happened. */
typedef struct {
    train_args *a;
    rnn_model *m;
    rnn_resume *rs;
    rnn_trainer *t;
    unsigned char *text;
    int32_t *ids;
    FILE *logf;
    char *bpath;
    const char *cname;       /* the corpus as named in messages (input_name), in cname_buf */
    char cname_buf[4200];
    char sized[256];         /* what the sizing rule chose and why, for the start-up line; "" if nothing */
    rnn_dist dist;           /* this process's place in the run (dist.h) */
    uint64_t corpus[2];      /* the corpus's length in bytes and CRC-32, compared across processes */
    int stop;                /* the stop signal all processes agreed on (several processes) */
    double time_epochs;      /* the epochs it said --time buys; NaN if it said none */
    run_state run;
    rnn_err err;
} train_session;

/* The model's config from the options, or with --resume the check that only the options the table marks as
 * changeable (R_CHANGE, R_REPEAT: the budget, lr and run-time knobs) were given: the checkpoint fixes the
 * rest. 0 or 2 (usage error, reported). */
static int train_config(train_args *a, rnn_config *cfg) {
    const command *c = &a->c;
    if (a->resume && a->init)
        return usage_error(c,
                           "--init starts a new run from another model; it cannot be combined with --resume");
    if (a->resume && a->force)
        return usage_error(c, "--resume continues the checkpoint and --force starts over: give one");
    if (a->early_stop && !a->resume && a->val == 0)
        return usage_error(c, "--early-stop needs validation: it cannot be combined with --val 0");
    if (a->resume) {
        for (int i = 0; i < c->nopts; i++)
            if (c->opts[i].seen && c->opts[i].resume == R_FIXED)
                return usage_error(c, "--%s cannot change when resuming: the checkpoint fixes it",
                                   c->opts[i].name);
        return 0;
    }
    *cfg = (rnn_config){.cell = a->cell, .layers = a->layers, .hidden = a->hidden, .batch = a->batch,
                        .seq = a->seq, .optim = a->optim, .lr = (float)a->lr, .lr_decay = (float)a->lr_decay,
                        .clip = (float)a->clip, .dropout = (float)a->dropout, .val_frac = (float)a->val,
                        .forget_bias = (float)a->forget_bias, .seed = a->seed, .bidir = a->bidir,
                        .precision = a->precision};
    rnn_err err;
    if (rnn_config_check(cfg, err)) return usage_error(c, "%s", err);
    return 0;
}

/* The sizing rule: the defaults of --layers, --hidden and --dropout for a corpus of n_train training symbols
 * and V distinct symbols when the budget is about `epochs` passes (INFINITY: no step or epoch limit) and
 * `seconds` (0: no --time), whichever ends first. Candidates, from the smallest to the cell's fixed default
 * (which caps them); P is the parameter count at this V:
 *
 *   cell       candidates (layers x hidden)                  pick
 *   rnn        1x64  1x128  1x256                            the largest with P <= 2N, else the smallest
 *   lstm, gru  1x64  1x128  2x128  2x256  2x384  2x512       (candidates that disagree with a given
 *                                                             --layers/--hidden are skipped)
 *   dropout    0 with 1 layer or a budget under 3 epochs; else 0.5 if P > N and the budget is 10 epochs or
 * more, 0.25 if P > N/4, else 0 (rule: docs/commands.md "train", "Sizes chosen for the corpus"; measured:
 * docs/quality.md "Dropout follows the budget")
 *
 * A --time budget is turned into epochs at an assumed SIZE_RATE / P training characters per second, so that
 * the choice depends on the command line only, not on this machine's speed or --threads. Only the fields the
 * user did not give (given[0..2]: layers, hidden, dropout) are changed. Writes what was chosen and why into
 * why[0..n) ("" if the user gave all three). Returns the epochs the --time budget buys as estimated and said
 * there, NaN if it said none (the run corrects it from the measured speed: check_estimate). */
/* parameter-characters per second: lstm 2x384 (1.9M) trains 7,000 chars/s on 2 AVX2 cores (machine B); on 2
 * AVX-512 cores (machine A) 26,000 (5.2e10), lstm 2x128 150,000 (4.0e10), rnn 1x256 381,000 (4.6e10). Kept at
 * the slower machine's: a run sized on a fast one gets less dropout than it could, and the run corrects the
 * estimate it printed from the measured speed (check_estimate). */
#define SIZE_RATE 1.3e10
static double size_model(train_args *a, const int given[3], size_t n_train, int V, double epochs,
                         double seconds, char *why, size_t n) {
    static const int cand[][2] = {{1, 64}, {1, 128}, {2, 128}, {2, 256}, {2, 384}, {2, 512}};
    why[0] = 0;
    if (given[0] && given[1] && given[2]) return NAN;
    int ncand = a->cell == RNN_CELL_RNN ? 0 : 6, pick = -1;
    static const int rnn_cand[][2] = {{1, 64}, {1, 128}, {1, 256}};
    const int (*list)[2] = ncand ? cand : rnn_cand;
    if (!ncand) ncand = 3;
    double N = (double)n_train;
    rnn_config c;
    rnn_config_default(&c);
    c.cell = a->cell;
    c.bidir = a->bidir;   /* a bidirectional model has two stacks: it is sized by its own count */
    for (int i = 0; i < ncand; i++) {
        if ((given[0] && list[i][0] != a->layers) || (given[1] && list[i][1] != a->hidden)) continue;
        c.layers = list[i][0];
        c.hidden = list[i][1];
        if (pick < 0 || (double)rnn_param_count(&c, V) <= 2 * N) pick = i;
    }
    /* given hidden off the list */
    if (!given[0]) a->layers = pick >= 0 ? list[pick][0] : a->cell == RNN_CELL_RNN ? 1 : 2;
    if (!given[1]) a->hidden = pick >= 0 ? list[pick][1] : a->hidden;
    c.layers = a->layers;
    c.hidden = a->hidden;
    double P = (double)rnn_param_count(&c, V);
    /* the epochs --time buys, estimated */
    const char *hook = getenv("CHARRNN_TEST_SIZE_RATE");   /* tests only (tests/README.md): another rate */
    double rate = hook && strtod(hook, NULL) > 0 ? strtod(hook, NULL) : SIZE_RATE;
    double in_time = seconds > 0 ? seconds * rate / P / N : INFINITY;
    int by_time = in_time < epochs;
    if (by_time) epochs = in_time;
    if (!given[2])
        a->dropout = a->layers < 2 || epochs < 3 ? 0 : P > N && epochs >= 10 ? 0.5 : P > N / 4 ? 0.25 : 0;
    char budget[64] = "", shape[48] = "";
    if (isfinite(epochs))
        snprintf(budget, sizeof budget, " and about %.1f epochs%s", epochs, by_time ? " in that time" : "");
    if (!given[0] || !given[1])
        snprintf(shape, sizeof shape, "%s %d x %d, ", rnn_cell_name(a->cell), a->layers, a->hidden);
    snprintf(why, n, "%sdropout %g (sized for %.0fk training symbols%s, %.2fM parameters; give %s to choose)",
             shape, a->dropout, N / 1000, budget, P / 1e6,
             given[0] && given[1] ? "--dropout" : "--hidden/--layers/--dropout");
    return by_time ? epochs : NAN;
}

/* With --init: the base model, whose cell and shape the run takes (a --cell, --layers or --hidden that
 * disagrees is a usage error, a unit that disagrees an error). *base is the caller's. 0, 1 or 2 after
 * reporting. */
static int load_base(train_session *s, rnn_model **base) {
    train_args *a = s->a;
    if (rnn_load(a->init, base, NULL, s->err)) return fail("--init: %s", s->err);
    const rnn_config *b = rnn_model_config(*base);
    const command *c = &a->c;
    if ((opt_seen(c, "cell") && a->cell != b->cell) || (opt_seen(c, "layers") && a->layers != b->layers) ||
        (opt_seen(c, "hidden") && a->hidden != b->hidden))
        return usage_error(
                &a->c,
                "--init '%s' is %s %d x %d: --cell, --layers and --hidden must agree with it or be left out",
                a->init, rnn_cell_name(b->cell), b->layers, b->hidden);
    if (rnn_model_vocab(*base)->unit != (a->bytes ? RNN_UNIT_BYTE : RNN_UNIT_CHAR))
        return fail("--init '%s' reads %s, but this run reads %s%s", a->init,
                    rnn_model_vocab(*base)->unit == RNN_UNIT_BYTE ? "bytes (--bytes)" : "UTF-8 characters",
                    a->bytes ? "bytes (--bytes)" : "UTF-8 characters",
                    a->bytes ? ": leave out --bytes" : ": give --bytes");
    a->cell = b->cell;
    a->layers = b->layers;
    a->hidden = b->hidden;
    if (!opt_seen(&a->c, "bidirectional")) a->bidir = b->bidir;   /* given: rnn_model_extend checks it */
    return 0;
}

/* A new model for the corpus text[0..len): sized by size_model where the user left sizes out, or with --init
 * the base extended to the corpus's vocabulary. 0, 1 or 2 after reporting. */
static int new_model(train_session *s, rnn_config *cfg, size_t len) {
    train_args *a = s->a;
    rnn_model *base = NULL;
    rnn_vocab v, merged;
    if (rnn_vocab_build(&v, s->text, len, a->bytes ? RNN_UNIT_BYTE : RNN_UNIT_CHAR, s->err))
        return fail("%s", s->err);
    int r = a->init ? load_base(s, &base) : 0;
    if (!r && base) {
        r = rnn_vocab_merge(&merged, rnn_model_vocab(base), &v, NULL, s->err) ? fail("%s", s->err) : 0;
        rnn_vocab_free(&v);
        v = merged;
    }
    if (!r) {
        const command *c = &a->c;
        int given[3] = {base || opt_seen(c, "layers"), base || opt_seen(c, "hidden"), opt_seen(c, "dropout")};
        double n_train = (double)rnn_encode(&v, s->text, len, s->ids, NULL) * (1 - a->val), epochs = INFINITY;
        /* the budget in passes: the first limit reached (2000 steps if none) */
        if (a->epochs > 0) epochs = a->epochs;
        if (a->steps || (!(a->epochs > 0) && !(a->seconds > 0)))
            epochs =
                    fmin(epochs, (double)(a->steps ? a->steps : DEFAULT_STEPS) * a->batch * a->seq / n_train);
        s->time_epochs =
                size_model(a, given, (size_t)n_train, v.size, epochs, a->seconds, s->sized, sizeof s->sized);
        cfg->cell = a->cell;
        cfg->layers = a->layers;
        cfg->hidden = a->hidden;
        cfg->dropout = (float)a->dropout;
        cfg->bidir = a->bidir;
        s->m = base ? rnn_model_extend(base, a->init, cfg, &v, s->err) : rnn_model_new(cfg, &v, s->err);
        if (!s->m) r = fail("%s", s->err);
    }
    if (!r && a->dropout > 0 && a->layers == 1 && !a->quiet)
        say("charrnn: warning: --dropout acts between layers; with --layers 1 it does nothing");
    rnn_vocab_free(&v);
    rnn_model_free(base);
    return r;
}

/* Whether the --log file can be appended to: opened for appending (O_CREAT | O_EXCL first, so that a file this
 * check creates is removed again and a run that fails before training leaves none). Anything but a regular
 * file (a FIFO, /dev/stdout, a pipe from the shell) is left to the real open: opening it now could block or
 * end its reader's input. 0 or an errno value. */
static int probe_log(const char *path) {
    struct stat st;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY, 0644), made = fd >= 0;
    if (fd < 0 && errno == EEXIST && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) return 0;
    if (fd < 0 && errno == EEXIST) fd = open(path, O_WRONLY | O_APPEND | O_NOCTTY);
    if (fd < 0) return errno;
    close(fd);
    if (made) unlink(path);
    return 0;
}

/* Before any work: both checkpoint paths (-o and its .best) must be files rnn_save may replace; a fresh run
 * (no --resume) without --force refuses either one that exists at all (whatever it holds: a path that is
 * taken is never another run's to lose); every save the run will make (both paths, the --log) is tried, so
 * that a typo in -o is refused before training rather than after it; then the stale temporaries of
 * interrupted saves of both are removed. 0 or 1. */
static int train_guard(train_session *s) {
    const train_args *a = s->a;
    const char *paths[2] = {a->out, s->bpath};
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (rnn_save_check(paths[i], s->err)) return fail("%s", s->err);
        if (!a->resume && !a->force && lstat(paths[i], &st) == 0)
            return fail(
                    "'%s' already exists: --resume continues it, --force starts over, or choose another -o",
                    paths[i]);
    }
    for (int i = 0; i < 2; i++) {   /* the saves this run will make, tried now rather than after training */
        if (rnn_save_probe(paths[i], s->err)) return fail("%s; nothing was trained: choose another -o", s->err);
    }
    int e = a->logpath ? probe_log(a->logpath) : 0;
    if (e)
        return fail("cannot write '%s': %s; nothing was trained: choose another --log", a->logpath,
                    strerror(e));
    for (int i = 0; i < 2; i++) {
        int k = rnn_save_clean(paths[i]);
        if (k && !a->quiet)
            say("charrnn: removed %d stale temporary file%s of '%s'", k, k == 1 ? "" : "s",
                    paths[i]);
    }
    return 0;
}

/* The model (loaded with --resume, else new on the corpus's vocabulary) and the corpus as symbol ids in
 * s->ids. 0, or 1 or 2 after reporting. *n gets the symbol count. */
static int train_load(train_session *s, rnn_config *cfg, size_t *n) {
    train_args *a = s->a;
    if (save_here && train_guard(s)) return 1;
    if (a->resume) {
        if (rnn_load(a->out, &s->m, &s->rs, s->err)) return fail("%s", s->err);
        if (!s->rs) return fail("'%s' holds no training state to resume", a->out);
        if (a->early_stop && rnn_model_config(s->m)->val_frac == 0)
            return usage_error(&a->c, "--early-stop needs validation: '%s' was trained with --val 0", a->out);
    }
    size_t len = 0;
    if (read_all(a->corpus, &s->text, &len)) return 1;
    s->cname = input_name(a->corpus, s->cname_buf, sizeof s->cname_buf);
    if (len == 0) return fail("%s is empty", s->cname);
    s->ids = malloc(sizeof(int32_t) * len);
    if (!s->ids) return fail("out of memory");
    int r;
    if (!s->m && (r = new_model(s, cfg, len))) return r;
    size_t unknown;
    *n = rnn_encode(rnn_model_vocab(s->m), s->text, len, s->ids, &unknown);
    if (unknown)
        return fail("%s has %zu symbols that are not in the checkpoint's vocabulary: not the corpus it was "
                    "trained on",
                    s->cname, unknown);
    s->corpus[0] = len;
    s->corpus[1] = rnn_crc32(0, s->text, len);
    free(s->text);
    s->text = NULL;
    return 0;
}

/* Whether the run's budget is reached: its step count, its epochs or its training time. */
static int budget_reached(const train_session *s) {
    const rnn_budget *bud = rnn_trainer_budget(s->t);
    const rnn_progress *prog = rnn_model_progress(s->m);
    rnn_train_info info;
    rnn_trainer_info(s->t, &info);
    return (bud->steps && prog->step >= bud->steps) || (bud->epochs > 0 && info.epoch >= bud->epochs) ||
           (bud->seconds > 0 && prog->seconds >= bud->seconds);
}

/* The opening line on stderr: the model, the data, the threads (a JSON object with --progress jsonl). */
static void train_opening(train_session *s) {
    const rnn_model *m = s->m;
    const rnn_config *mc = rnn_model_config(m);
    const rnn_vocab *v = rnn_model_vocab(m);
    rnn_train_info info;
    rnn_trainer_info(s->t, &info);
    const char *unit = v->unit == RNN_UNIT_BYTE ? "bytes" : "UTF-8 characters";
    int threads = s->a->threads;
    char nthreads[32];
    snprintf(nthreads, sizeof nthreads, "%d thread%s", threads, threads == 1 ? "" : "s");
    ev_field e[] = {
        EV_BOOL(NULL, "bidirectional ", mc->bidir),   /* text only: the JSON start event has no direction */
        EV_STR("cell", "%s", rnn_cell_name(mc->cell)),
        EV_U64("layers", " %llu", (uint64_t)mc->layers),
        EV_U64("hidden", " x %llu", (uint64_t)mc->hidden),
        EV_U64("vocabulary", ", %llu symbols", (uint64_t)v->size),
        EV_STR("unit", " (%s)", unit),
        EV_U64("parameters", ", %llu parameters", rnn_model_nparams(m)),
        EV_U64("train_symbols", "; %llu training", info.n_train),
        EV_U64("val_symbols", " + %llu validation symbols", info.n_val),
        EV_U64("steps_per_epoch", "; %llu steps per epoch; ", info.steps_per_epoch),
        {.key = "eval_every", .text = "validating every %llu steps; ", .none = "", .kind = EV_U64,
         .null = !info.n_val || !s->a->eval_every, .v.u = s->a->eval_every},
        {.key = "threads", .text = "%s", .shown = nthreads, .kind = EV_U64, .v.u = (uint64_t)threads},
    };
    SAY_EVENT(s->a->progress == 1, "start", e, "charrnn: ", NULL);
    if (s->a->progress == 1) return;
    const rnn_origin *o = rnn_model_origin(m);
    if (o && !s->a->resume)
        say("charrnn: fine-tuning '%s' (%llu steps, %d symbols; %d new symbol%s from %s)",
                o->name, (unsigned long long)o->step, o->vocab_size, v->size - o->vocab_size,
                v->size - o->vocab_size == 1 ? "" : "s", s->cname);
    if (s->sized[0]) say("charrnn: %s", s->sized);
}

/* The budget's limits as text after "of" (e.g. "2000 steps", "2000 steps or 3 epochs"), into buf. */
static const char *budget_text(const rnn_budget *bud, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = 0;
    if (bud->steps) len += (size_t)snprintf(buf + len, n - len, "%llu steps", (unsigned long long)bud->steps);
    if (bud->epochs > 0 && len < n)
        len += (size_t)snprintf(buf + len, n - len, "%s%g epochs", len ? " or " : "", bud->epochs);
    if (bud->seconds > 0 && len < n)
        snprintf(buf + len, n - len, "%s%g s of training", len ? " or " : "", bud->seconds);
    return buf;
}

/* With --resume: where the run resumes and where it ends, "charrnn: resuming at step N of M" (the budget's
 * limits as budget_text writes them), or the JSON event `resume`. */
static void resume_line(train_session *s) {
    const rnn_progress *p = rnn_model_progress(s->m);
    const rnn_budget *bud = rnn_trainer_budget(s->t);
    rnn_train_info info;
    rnn_trainer_info(s->t, &info);
    char of[128];
    ev_field e[] = {
        EV_U64("step", "charrnn: resuming at step %llu", p->step),
        {.key = "epoch", .text = NULL, .kind = EV_NUM, .v.d = info.epoch},
        {.key = "seconds", .text = NULL, .kind = EV_NUM, .v.d = p->seconds},
        {.key = "steps", .text = NULL, .kind = EV_U64, .null = !bud->steps, .v.u = bud->steps},
        {.key = "epochs", .text = NULL, .kind = EV_NUM, .null = !(bud->epochs > 0), .v.d = bud->epochs},
        {.key = "time", .text = NULL, .kind = EV_NUM, .null = !(bud->seconds > 0), .v.d = bud->seconds},
        {.key = NULL, .text = " of %s", .shown = budget_text(bud, of, sizeof of), .kind = EV_STR},
    };
    SAY_EVENT(s->a->progress == 1, "resume", e, "", NULL);
}

/* With --resume and a budget that differs from the checkpoint's (`was`) under a decaying schedule: says how the
 * schedule is stretched (or shrunk) over the new total, "charrnn: the cosine schedule now ends at 4000 steps, not
 * 2000 steps: the lr of step 2001 becomes 0.00165 (was 0.0003), ending at 0.0003", or the JSON event
 * `schedule`. lr_was: the next step's lr under the old budget. */
static void stretch_line(train_session *s, const rnn_budget *was, float lr_was) {
    const rnn_budget *bud = rnn_trainer_budget(s->t);
    rnn_schedule sc;
    rnn_trainer_schedule(s->t, &sc);
    if (sc.kind == RNN_SCHED_CONSTANT ||
        (was->steps == bud->steps && was->epochs == bud->epochs && was->seconds == bud->seconds))
        return;
    rnn_train_info info;
    rnn_trainer_info(s->t, &info);
    char from[128], to[128];
    ev_field e[] = {
        EV_STR("schedule", "charrnn: the %s schedule", rnn_schedule_names()[sc.kind]),
        EV_STR("budget", " now ends at %s", budget_text(bud, to, sizeof to)),
        EV_STR("was", ", not %s", budget_text(was, from, sizeof from)),
        EV_U64("step", ": the lr of step %llu", rnn_model_progress(s->m)->step + 1),
        EV_FLOAT("lr", " becomes %.3g", info.lr),
        EV_FLOAT("lr_was", " (was %.3g)", lr_was),
        EV_FLOAT("lr_end", ", ending at %.3g", info.peak * sc.floor),
    };
    SAY_EVENT(s->a->progress == 1, "schedule", e, "", NULL);
}

/* Whether a run starts its output bias at the unigram (rnn_trainer_fit_output_bias), after rnn_trainer_new.
 * Only a fresh gated model (--init keeps the bias it has learned): the LSTM and GRU reach 0.12-0.19 nats/char
 * lower validation loss at 250 to 1000 steps from it (lstm 2x256, tinyshakespeare), the tanh RNN learns
 * slower from it (+0.06 at 2000 steps on data/fortunes.txt). Not for an LSTM on a corpus with fewer than
 * UNIGRAM_MIN training symbols per vocabulary entry, whose symbols are mostly rare (data/tang.txt: 10 per
 * entry, 79% of them seen under 10 times): there the LSTM memorises sooner from the unigram start and its
 * best validation loss is worse (lstm 1x64, three seeds: 5.08 against 4.87 from the zero bias); the GRU's is
 * not (4.87 against 4.89). docs/quality.md "The unigram start on a small corpus". */
#define UNIGRAM_MIN 100
static int unigram_start(const train_session *s) {
    const train_args *a = s->a;
    int cell = rnn_model_config(s->m)->cell;
    if (a->resume || a->init || cell == RNN_CELL_RNN) return 0;
    rnn_train_info info;
    rnn_trainer_info(s->t, &info);
    return cell != RNN_CELL_LSTM || info.n_train >= (size_t)UNIGRAM_MIN * (size_t)rnn_model_vocab(s->m)->size;
}

/* The trainer, its budget and lr, the log file, the opening line and the signal handlers. 0, 1 after
 * reporting, or -1 with --resume when the budget is already reached (nothing said, opened or written yet). */
static int train_start(train_session *s, size_t n) {
    train_args *a = s->a;
    s->t = rnn_trainer_new(s->m, s->ids, n, a->threads, s->rs, s->err);
    if (!s->t) return fail("%s: %s", s->cname, s->err);
    rnn_schedule sc = {.kind = a->schedule, .warmup = a->warmup, .floor = (float)a->lr_floor,
                       .ema = (float)a->ema};
    if (!a->resume && rnn_trainer_set_schedule(s->t, &sc, s->err)) return fail("%s", s->err);
    if (rnn_trainer_set_shards(s->t, a->resume ? rnn_trainer_shards(s->t) : a->shards, &s->dist, s->err)) {
        fail("%s", s->err);
        return 2;
    }
    if (unigram_start(s)) rnn_trainer_fit_output_bias(s->t);
    rnn_budget *bud = rnn_trainer_budget(s->t), was = *bud;
    rnn_train_info before;
    rnn_trainer_info(s->t, &before);
    if (a->steps || a->epochs > 0 || a->seconds > 0)   /* a budget given now replaces the stored one whole */
        *bud = (rnn_budget){a->steps, a->epochs, a->seconds};
    if (!bud->steps && !(bud->epochs > 0) && !(bud->seconds > 0)) bud->steps = DEFAULT_STEPS;
    /* e.g. after divergence */
    if (a->resume && opt_seen(&a->c, "lr")) rnn_trainer_set_lr(s->t, (float)a->lr);
    if (a->resume && budget_reached(s)) return -1;   /* nothing to train: resume_nothing says so */
    if (a->logpath) {
        s->logf = fopen(a->logpath, "a");
        if (!s->logf) return fail("cannot open '%s': %s", a->logpath, strerror(errno));
        if (ftell(s->logf) == 0) fprintf(s->logf, "step,seconds,train_loss,val_loss,lr,chars_per_sec\n");
    }
    rnn_train_info info;
    rnn_trainer_info(s->t, &info);
    if (!opt_seen(&a->c, "eval-every") && info.steps_per_epoch < a->eval_every)
        /* validate at least once per epoch: small corpora overfit fast */
        a->eval_every = info.steps_per_epoch;
    if (!a->quiet) train_opening(s);
    if (!a->quiet && a->resume) resume_line(s);
    if (!a->quiet && a->resume) stretch_line(s, &was, before.lr);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;   /* a save in progress is not cut short by EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (isatty(2)) term_watch_resize();
    s->run = (run_state){.m = s->m, .t = s->t, .out = a->out, .bpath = s->bpath, .logf = s->logf,
                         .quiet = a->quiet, .tty = isatty(2), .preview = a->preview_n,
                         .jsonl = a->progress == 1, .ema = NAN, .first_val = NAN,
                         .start_step = rnn_model_progress(s->m)->step, .est_epochs = s->time_epochs};
    if (s->logf) log_row(&s->run, NAN);   /* empty train_loss: a run starts here (plot breaks the curve) */
    return 0;
}

/* Several processes, before the first step and after each: a signal on any process stops all of them after the
 * same step (s->stop, and stop_signal for the report), and rank 0's step time *dt is every process's (--time and
 * the schedule's progress agree). -1: the exchange failed. */
static int step_agree(train_session *s, double *dt) {
    int P = s->dist.size;
    if (P == 1) return 0;
    double mine[2] = {dt ? *dt : 0, (double)stop_signal}, all[2 * 64];
    double *a = P <= 64 ? all : malloc(sizeof(double) * 2 * (size_t)P);
    if (!a || dist_allgather(mine, sizeof mine, a)) return -1;
    if (dt) *dt = a[0];
    for (int q = 0; q < P && !s->stop; q++) s->stop = (int)a[2 * q + 1];
    if (s->stop && !stop_signal) stop_signal = s->stop;
    if (a != all) free(a);
    return 0;
}

/* Steps until the budget is reached, --early-stop fires or a signal asks to stop, with progress, validation
 * and log rows on the way. 0, 2 (a step diverged: not reported yet), 3 (stopped early) or 4 (the processes
 * could not exchange: not reported yet). */
static int train_loop(train_session *s) {
    run_state *run = &s->run;
    const rnn_config *mc = rnn_model_config(s->m);
    rnn_progress *prog = rnn_model_progress(s->m);
    const rnn_budget *bud = rnn_trainer_budget(s->t);
    uint64_t eval_every = s->a->eval_every;
    double last_show = 0, last_log = 0;
    if (step_agree(s, NULL)) return 4;
    for (;;) {
        if (budget_reached(s) || (s->dist.size > 1 ? s->stop : stop_signal)) return 0;
        double t0 = now_sec();
        double loss = rnn_train_step(s->t);
        double dt = now_sec() - t0;
        if (step_agree(s, &dt)) return 4;
        run->t_loop += dt;
        prog->seconds += dt;
        if (!isfinite(loss)) return 2;
        run->run_chars += (uint64_t)mc->batch * mc->seq;
        run->ema = isnan(run->ema) ? loss : 0.98 * run->ema + 0.02 * loss;
        check_estimate(run, bud);
        int eval_now = eval_every && prog->step % eval_every == 0;
        double tnow = now_sec();
        if (!run->quiet && (eval_now || tnow - last_show >= (run->tty && !run->jsonl ? 0.25 : 5.0))) {
            show_progress(run, bud);
            last_show = tnow;
        }
        if (eval_now) {
            evaluate(run, s->err);
            if (s->a->early_stop && run->stale >= s->a->early_stop) return 3;
        } else if (s->logf && tnow - last_log >= 5.0) {
            log_row(run, NAN);
            last_log = tnow;
        }
    }
}

/* The command that resumes this run, as a shell reads it: argv[0] as invoked, every word shell-quoted, the
 * options a resume would otherwise lose (given, and R_REPEAT in the table: the checkpoint does not keep
 * them), then `extra` (NULL: none; written as it is, e.g. " --steps 3000") before the corpus. Caller frees;
 * NULL if out of memory. */
static char *resume_command(const train_args *a, const char *extra) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    shell_word(f, cmd_argv0);
    fputs(" train --resume -o ", f);
    shell_word(f, a->out);
    for (int i = 0; i < a->c.nopts; i++) {   /* in table order */
        const opt *o = &a->c.opts[i];
        if (o->resume != R_REPEAT || !o->seen) continue;
        fprintf(f, " --%s", o->name);
        char num[32];
        const char *v = NULL;
        if (o->kind == O_STR) v = *(const char *const *)o->dst;
        else if (o->kind == O_CHOICE) v = o->choices[*(const int *)o->dst];
        else if (o->kind == O_INT) snprintf(num, sizeof num, "%d", *(const int *)o->dst), v = num;
        else if (o->kind == O_U64)
            snprintf(num, sizeof num, "%llu", (unsigned long long)*(const uint64_t *)o->dst), v = num;
        if (v) {
            fputc(' ', f);
            shell_word(f, v);
        }
    }
    if (extra) fputs(extra, f);
    fputs(a->corpus[0] == '-' && a->corpus[1] ? " -- " : " ", f);   /* a corpus named like an option */
    shell_word(f, a->corpus);
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The end of an interrupted run (already saved): the message with the resume command. Returns 130 or 143. */
static int train_interrupted(train_session *s) {
    rnn_progress *prog = rnn_model_progress(s->m);
    rnn_train_info info;
    rnn_trainer_info(s->t, &info);
    char *cmd = resume_command(s->a, NULL);
    ev_field e[] = {
        EV_U64("step", "charrnn: interrupted at step %llu", prog->step),
        EV_NUM("epoch", " (epoch %.2f)", info.epoch),
        EV_STR("saved", "; saved '%s'", s->a->out),
        /* resume: NULL (out of memory) gives the short form */
        {.key = "resume", .text = ". Resume with: %s", .none = ". Resume with: charrnn train --resume",
         .kind = EV_STR, .v.s = cmd},
    };
    SAY_EVENT(s->run.jsonl && !s->a->quiet, "interrupted", e, "", cmd ? cmd : "charrnn train --resume");
    free(cmd);
    return stop_signal == SIGINT ? 130 : 143;
}

/* `train --resume` on a checkpoint whose budget is reached: says so, that the budget options are totals, and
 * the command that trains 1000 more steps (the JSON event `budget_reached` with --progress jsonl); the
 * checkpoint is not rewritten. Returns 0. */
static int resume_nothing(train_session *s) {
    const rnn_progress *p = rnn_model_progress(s->m);
    char of[128], more[48], *cmd;
    budget_text(rnn_trainer_budget(s->t), of, sizeof of);
    snprintf(more, sizeof more, " --steps %llu", (unsigned long long)p->step + 1000);
    cmd = resume_command(s->a, more);
    const char *shown = cmd ? cmd : "charrnn train --resume";   /* NULL: out of memory */
    ev_field e[] = {
        EV_STR("checkpoint", "charrnn: '%s'", s->a->out),
        EV_U64("step", " is at step %llu", p->step),
        {.key = NULL, .text = ", its budget of %s is reached: nothing to train", .shown = of, .kind = EV_STR},
        EV_STR(NULL, ". --steps, --epochs and --time are totals, not additions; to train 1000 more steps: %s",
               shown),
        EV_STR("resume", NULL, shown),
    };
    if (!s->a->quiet) SAY_EVENT(s->a->progress == 1, "budget_reached", e, "", shown);
    free(cmd);
    return 0;
}

/* The end of a finished run: the validation summary and the done line (one JSON object with --progress
 * jsonl). */
static void train_summary(train_session *s, int early) {
    run_state *run = &s->run;
    rnn_progress *prog = rnn_model_progress(s->m);
    rnn_train_info info;
    rnn_trainer_info(s->t, &info);
    ev_field e[] = {
        EV_U64("steps", "done: %llu steps", prog->step),
        EV_NUM("epoch", ", epoch %.2f", info.epoch),
        EV_NUM("loss", ", train loss %.4f", run->ema),
        {.key = "val_loss", .text = ", val %.4f nats/char", .none = ", val -", .kind = EV_FLOAT,
         .v.d = prog->last_val},
        EV_FLOAT("best_val_loss", NULL, prog->best_val),   /* JSON only: the "validation:" line has it */
        EV_U64("evaluations", NULL, run->nevals),           /* JSON only: likewise */
        EV_NUM("chars_per_sec", ", %.0f chars/s", run_rate(run)),
        EV_NUM("seconds", ", %.1f s", run->t_loop),
        EV_STR("saved", "; saved %s", s->a->out),
        EV_BOOL("stopped_early", NULL, early),              /* JSON only: the "stopped early:" line */
    };
    const char *earlier = run->best_step ? "" : ", from an earlier run";
    if (!run->jsonl && run->nevals == 1)   /* the validation summary before the done line */
        say("validation: 1 evaluation, %.4f nats/char; best %.4f (%.3f bits/char)%s",
                prog->last_val, prog->best_val, prog->best_val / log(2.0), earlier);
    else if (!run->jsonl && run->nevals)
        say("validation: %.4f -> %.4f nats/char over %llu evaluations; best %.4f (%.3f bits/char)%s",
                run->first_val, prog->last_val, (unsigned long long)run->nevals, prog->best_val,
                prog->best_val / log(2.0), earlier);
    SAY_EVENT(run->jsonl, "done", e, "", NULL);
    if (run->jsonl) return;
    if (early)
        say("stopped early: validation did not improve for %llu evaluations (--early-stop %llu); the "
                "best model (val %.4f) is in %s",
                (unsigned long long)run->stale, (unsigned long long)s->a->early_stop, prog->best_val,
                s->bpath);
}

/* Saves the run (the model and its training state) to a new file named after -o, "NAME.rescued.ckpt" (then
 * "NAME.rescued-2.ckpt" ... while taken: nothing is overwritten), in the current directory, else in $TMPDIR
 * (/tmp if unset), when -o cannot be written at the end of a run; err holds why -o failed. Says where in one
 * line. Returns 1 (the exit code: the run is not where it was asked to be). */
static int rescue_save(train_session *s, const char *why) {
    const char *base = strrchr(s->a->out, '/') ? strrchr(s->a->out, '/') + 1 : s->a->out;
    size_t bl = strlen(base);
    if (bl > 5 && !strcmp(base + bl - 5, ".ckpt")) bl -= 5;
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *dirs[2] = {NULL, tmpdir};
    char path[4400], e2[RNN_ERRLEN];
    for (int d = 0; d < 2; d++)
        for (int k = 1; k < 100; k++) {
            char nth[16] = "";
            if (k > 1) snprintf(nth, sizeof nth, "-%d", k);
            snprintf(path, sizeof path, "%s%s%.*s.rescued%s.ckpt", dirs[d] ? dirs[d] : "", dirs[d] ? "/" : "",
                     (int)bl, bl ? base : "charrnn", nth);
            int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY, 0644);   /* claimed: never overwrites */
            if (fd < 0 && errno == EEXIST) continue;
            if (fd < 0) break;   /* this directory cannot take it: the next one */
            close(fd);
            if (rnn_save(path, s->m, s->t, e2) == 0)
                return fail("%s; the run is saved in '%s' instead", why, path);
            unlink(path);
            break;
        }
    return fail("%s; nor could the run be saved in the current directory or '%s': it is lost", why, tmpdir);
}

/* After the loop (status as train_loop's): the divergence message, or the final save (and validation, unless
 * the last step was just validated), then the interruption message or the summary. If -o cannot be written
 * then, the run goes to rescue_save. Returns the exit code. */
static int train_report(train_session *s, int status) {
    train_args *a = s->a;
    run_state *run = &s->run;
    rnn_progress *prog = rnn_model_progress(s->m);
    if (run->tty && !a->quiet && !run->jsonl) fputs("\r\033[K", stderr);
    if (status == 4) return fail("the processes of the run could not exchange their step");
    if (status == 2)
        return fail("training diverged at step %llu (non-finite loss or gradient); nothing from that step "
                    "was applied. '%s' keeps the last saved state: resume it with a lower --lr, or restart "
                    "with a lower --lr or --clip",
                    (unsigned long long)prog->step + 1, a->out);
    if (stop_signal) {   /* interrupted: save at once; a full validation can take long on big models */
        if (s->logf) log_row(run, NAN);   /* the last row: the plot reaches the interruption */
        if (!save_here) return stop_signal == SIGINT ? 130 : 143;   /* rank 0 saves and says so */
        if (rnn_save(a->out, s->m, s->t, s->err)) return rescue_save(s, s->err);
        return train_interrupted(s);
    }
    if (status != 3 && (!a->eval_every || prog->step % a->eval_every != 0 || prog->step == run->start_step))
        evaluate(run, s->err);   /* the end of the run was not just validated and saved */
    if (run->unsaved) return rescue_save(s, s->err);
    if (!a->quiet) train_summary(s, status == 3);
    return 0;
}

/* Closes the log (a failed write turns success into an error) and frees the session. Returns the exit
 * code. */
static int train_end(train_session *s, int rc) {
    if (s->logf && (ferror(s->logf) | fclose(s->logf)) != 0 && rc == 0)
        rc = fail("cannot write '%s': %s", s->a->logpath, strerror(errno));
    rnn_trainer_free(s->t);
    rnn_resume_free(s->rs);
    rnn_model_free(s->m);
    free(s->ids);
    free(s->text);
    free(s->bpath);
    return rc;
}

/* Several processes (rank 0 names rank 1 ... in its lines, each its own in fail's): whether every one reached
 * this point with status 0 (else the first failure's status; the failing process said why), and with `corpus`
 * whether every one read the same corpus as rank 0 (else each process names each rank that differs, exit 1).
 * One process: r. */
static int dist_agree(train_session *s, int r, int corpus) {
    int P = s->dist.size;
    if (P == 1) return r;
    uint64_t mine[3] = {(uint64_t)(r < 0 ? 100 : r), s->corpus[0], s->corpus[1]}, *all = calloc(3 * (size_t)P, 8);
    if (!all || dist_allgather(mine, sizeof mine, all)) {
        free(all);
        return fail("out of memory");
    }
    int rc = 0;
    for (int q = 0; q < P && !rc; q++)
        if (all[3 * q]) rc = all[3 * q] == 100 ? -1 : (int)all[3 * q];
    for (int q = 0; q < P && rc && !r && s->dist.rank == 0; q++)
        if (all[3 * q] && all[3 * q] != 100) fail("stopping: rank %d failed (its line says why)", q);
    for (int q = 1; q < P && corpus && !rc; q++)
        if (all[3 * q + 1] != all[1] || all[3 * q + 2] != all[2])
            r = fail("rank %d read a different corpus (%llu bytes, CRC-32 %08llx; rank 0: %llu bytes, %08llx): "
                     "every process must read the same bytes", q, (unsigned long long)all[3 * q + 1],
                     (unsigned long long)all[3 * q + 2], (unsigned long long)all[1], (unsigned long long)all[2]);
    free(all);
    return rc ? rc : r;
}

/* One run on parsed options: configure, join the processes, load, start, loop, report. Returns the exit code. */
static int train_run(train_args *a) {
    train_session s = {.a = a, .bpath = best_path(a->out), .time_epochs = NAN};
    if (!s.bpath) return fail("out of memory");
    rnn_config cfg;
    rnn_config_default(&cfg);   /* replaced by train_config, or unused with --resume */
    int r = train_config(a, &cfg);
    if (r || cli_args_only) return train_end(&s, r);
    if (dist_begin(&s.dist, s.err)) return train_end(&s, fail("%s", s.err));
    char prefix[32];
    snprintf(prefix, sizeof prefix, "rank %d: ", s.dist.rank);
    if (s.dist.size > 1) cli_fail_prefix = prefix;
    if (s.dist.rank > 0) {   /* rank 0 alone writes and reports */
        save_here = 0;
        a->quiet = 1;
        a->logpath = NULL;
    }
    size_t n = 0;
    r = dist_agree(&s, train_load(&s, &cfg, &n), 1);
    if (!r) r = dist_agree(&s, train_start(&s, n), 0);
    if (r < 0) r = resume_nothing(&s);
    else if (!r) r = train_report(&s, train_loop(&s));
    r = train_end(&s, r);
    dist_end(0);
    cli_fail_prefix = "";
    return r;
}

/* `charrnn train`: the defaults and the option table (in this frame for the whole run), parse, run. */
int cmd_train(int argc, char **argv) {
    rnn_config d;
    rnn_config_default(&d);
    train_args a = {.cell = d.cell, .layers = d.layers, .hidden = d.hidden, .batch = d.batch, .seq = d.seq,
                    .optim = d.optim, .preview_n = 160, .threads = online_cpus(), .lr = d.lr,
                    .lr_decay = d.lr_decay, .clip = d.clip, .dropout = d.dropout, .val = d.val_frac,
                    .forget_bias = d.forget_bias, .seed = d.seed, .eval_every = 500, .out = "charrnn.ckpt",
                    .schedule = DEFAULT_SCHEDULE, .warmup = DEFAULT_WARMUP, .lr_floor = DEFAULT_FLOOR,
                    .ema = DEFAULT_EMA, .shards = 1};
    opt opts[] = {
        OPT_STR("output", 'o', &a.out, "FILE",
                "checkpoint to write (default {default}); the best-by-validation "
                "model also goes to FILE's .best.ckpt",
                .resume = R_CHANGE),
        OPT_CHOICE("cell", 0, &a.cell, cell_names, "KIND", "{choices}; rnn is tanh"),
        OPT_FLAG("bidirectional", 0, &a.bidir,
                 "a forward and a backward RNN: predicts each symbol from both sides "
                 "(for fill; cannot sample)"),
        OPT_INT("layers", 0, &a.layers, 1, RNN_MAX_LAYERS, "N", "stacked layers (default: {default})",
                .computed = "sized to the corpus, up to 1 for rnn, 2 for lstm and gru"),
        OPT_INT("hidden", 0, &a.hidden, 1, RNN_MAX_HIDDEN, "N",
                "hidden units per layer (default: {default})",
                .computed = "sized to the corpus, up to 256 for rnn, 512 for lstm and gru"),
        OPT_INT("batch", 0, &a.batch, 1, 65536, "B", "parallel streams per step (default {default})"),
        OPT_INT("seq", 0, &a.seq, 1, 65536, "T", "truncated-BPTT length in symbols (default {default})"),
        OPT_CHOICE("optim", 0, &a.optim, optim_names, "NAME", "{choices}"),
        OPT_FLOAT_ABOVE("lr", 0, &a.lr, 0, 100, "X", "learning rate (default {default})",
                        .resume = R_CHANGE),
        OPT_FLOAT_ABOVE("lr-decay", 0, &a.lr_decay, 0, 1, "X",
                        "multiply the learning rate by X after each epoch (default {default})"),
        OPT_CHOICE("lr-schedule", 0, &a.schedule, rnn_schedule_names(), "KIND",
                   "{choices}: the learning rate over the budget, from --lr to --lr-floor at its end"),
        OPT_FLOAT("lr-floor", 0, &a.lr_floor, 0, 1, "F",
                  "cosine, linear: end at F times --lr (default {default})"),
        OPT_U64("warmup", 0, &a.warmup, 0, 1e15, "N",
                "raise the learning rate linearly over the first N steps (default {default})"),
        OPT_FLOAT("ema", 0, &a.ema, 0, 0.99999, "D",
                  "validate and save the weights' moving average, decay D per step; 0 = off (default {default})"),
        OPT_FLOAT("clip", 0, &a.clip, 0, 1e6, "X",
                  "clip the gradient's global norm to X; 0 = off (default {default})"),
        OPT_FLOAT("dropout", 0, &a.dropout, 0, 0.99, "P",
                  "dropout between layers while training (default: {default})",
                  .computed = "sized to the corpus, 0 to 0.5"),
        OPT_FLOAT("forget-bias", 0, &a.forget_bias, -100, 100, "X",
                  "lstm: initial forget-gate bias (default {default}, as PyTorch; 1 is a common choice)"),
        OPT_FLOAT("val", 0, &a.val, 0, 0.9, "F",
                  "hold out the last F of the corpus for validation (default {default})"),
        OPT_U64("steps", 0, &a.steps, 1, 1e15, "N", "stop after N steps in total (default {default})",
                .computed = STR(DEFAULT_STEPS) " if no budget is given", .resume = R_CHANGE),
        OPT_FLOAT_ABOVE("epochs", 0, &a.epochs, 0, 1e9, "N",
                        "stop after N passes over the training text in total", .resume = R_CHANGE),
        OPT_FLOAT_ABOVE("time", 0, &a.seconds, 0, 1e9, "SECONDS",
                        "stop after this much training time in total", .resume = R_CHANGE),
        OPT_U64("early-stop", 0, &a.early_stop, 1, 1e15, "N",
                "stop when N validations in a row have not improved on the best (default: {default})",
                .computed = "never", .resume = R_CHANGE),
        OPT_FLAG("bytes", 0, &a.bytes, "symbols are bytes, not UTF-8 characters"),
        OPT_SEED("seed", &a.seed, "random seed for initialisation and dropout (default {default})"),
        OPT_CHOICE("precision", 0, &a.precision, rnn_precision_names(), "P",
                   "{choices}: matrix products on bfloat16 inputs, FP32 sums (recorded in the checkpoint)"),
        OPT_INT("shards", 0, &a.shards, 1, 65536, "K",
                "gradient shards per step, summed in a fixed order: the same model on 1 or N processes "
                "(default {default})"),
        OPT_INT("threads", 0, &a.threads, 1, 256, "N",
                "worker threads (default: {default}); results do not depend on it",
                .computed = "online CPUs", .resume = R_REPEAT),
        OPT_FLAG("resume", 0, &a.resume,
                 "continue the run saved in the -o checkpoint exactly where it stopped",
                 .resume = R_CHANGE),
        OPT_STR("init", 0, &a.init, "FILE",
                "fine-tune: start from FILE's weights (its cell and shape), adding CORPUS's new symbols"),
        OPT_FLAG("force", 0, &a.force,
                 "start over even if the -o checkpoint or its .best.ckpt exists (replaced at the first "
                 "save)"),
        OPT_STR("log", 0, &a.logpath, "FILE",
                "append metrics as CSV (step,seconds,train_loss,val_loss,lr,chars_per_sec)",
                .resume = R_REPEAT),
        OPT_U64("eval-every", 0, &a.eval_every, 0, 1e15, "N",
                "validate and save every N steps; 0 = only at the end "
                "(default {default}, or once per epoch if an epoch is shorter)",
                .resume = R_REPEAT),
        OPT_INT("preview", 0, &a.preview_n, 0, 100000, "N",
                "print an N-symbol sample to stderr at each validation; 0 = off (default {default})",
                .resume = R_REPEAT),
        OPT_CHOICE("progress", 0, &a.progress, progress_names, "FORMAT",
                   "{choices}: one JSON object per progress, validation, start and end line",
                   .resume = R_REPEAT),
        OPT_FLAG("quiet", 'q', &a.quiet, "print nothing but errors", .resume = R_REPEAT),
    };
    a.c = COMMAND("train", "[options] CORPUS",
                  "Train a character-level RNN on the text file CORPUS ('-' reads standard input) and save "
                  "it.", opts);
    const char *pos[1];
    int npos, r = parse_args(&a.c, argc, argv, pos, 1, &npos);
    if (r) return r < 0 ? 0 : r;
    if (npos != 1) return usage_error(&a.c, "expected one CORPUS file");
    a.corpus = pos[0];
    return train_run(&a);
}
