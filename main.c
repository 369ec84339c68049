/* main.c — the charrnn command line: subcommands, option parsing, file and stream I/O, progress, signals and
 * exit codes. The only part of charrnn that talks to the user.
 *
 * Exit codes: 0 success, 1 error (one line on stderr), 2 usage error, 130/143 training stopped by
 * SIGINT/SIGTERM after saving. stdout carries only generated text (sample), the report (info) or the SVG (plot).
 */
#define _POSIX_C_SOURCE 200809L
#include "rnn.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VERSION_STRING "charrnn 1.0"

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The default --threads: one per online CPU, 1..256. */
static int online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

/* One error line, "charrnn: ...", and exit code 1 for the caller to return. */
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("charrnn: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* ============================================================================================ options */
/* The options of train, sample and info are one table each: the parser reads it and --help prints it, so they
 * cannot drift (plot, in plot.c, takes only a file name). */
typedef enum { O_INT, O_U64, O_FLOAT, O_STR, O_FLAG, O_CHOICE } opt_kind;

typedef struct {
    const char *name;       /* long name without "--" */
    char shrt;              /* short letter or 0 */
    opt_kind kind;
    void *dst;              /* int*, uint64_t*, double*, const char**, int* (flag, choice index) */
    double min, max;        /* accepted range for numbers (inclusive; see min_open) */
    int min_open;           /* 1: min itself is not accepted */
    const char *const *choices;   /* O_CHOICE: NULL-terminated */
    const char *arg;        /* placeholder in --help */
    const char *help;
    int seen;               /* set by the parser when given */
} opt;

typedef struct {
    const char *name, *usage, *summary;
    opt *opts;
    int nopts;
} command;

static int opt_seen(const opt *o, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(o[i].name, name)) return o[i].seen;
    return 0;
}

static void print_help(const command *c) {
    printf("Usage: charrnn %s %s\n%s\n\nOptions:\n", c->name, c->usage, c->summary);
    for (int i = 0; i < c->nopts; i++) {
        const opt *o = &c->opts[i];
        char left[64];
        if (o->shrt) snprintf(left, sizeof left, "-%c, --%s%s%s", o->shrt, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        else snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-26s %s\n", left, o->help);
    }
    printf("  %-26s %s\n", "-h, --help", "show this help and exit");
}

static int usage_error(const command *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "charrnn %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'charrnn %s --help'.\n", c->name);
    va_end(ap);
    return 2;
}

/* Whole decimal number, nothing else: an optional sign, digits, no spaces, no trailing junk. Returns 0, -1 (not a
 * whole number) or 1 (beyond 64 bits). */
static int parse_whole(const char *s, long double *out) {
    if (!*s) return -1;
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    if (!*p) return -1;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p)) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s[0] == '-' || s[0] == '+' ? s + 1 : s, &end, 10);
    if (errno == ERANGE) return 1;   /* a whole number, but too large for any option */
    *out = s[0] == '-' ? -(long double)v : (long double)v;
    return 0;
}

static int parse_real(const char *s, double *out) {
    if (!*s || isspace((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* The upper bound as text: whole-number bounds beyond 1e15 exactly (2^64 - 1 for a full 64-bit seed). */
static const char *max_text(const opt *o) {
    static char buf[32];
    if (o->max >= 18446744073709551615.0) return "18446744073709551615";
    snprintf(buf, sizeof buf, "%.0f", o->max);
    return buf;
}

static int set_value(const command *c, opt *o, const char *shown, const char *v) {
    if (o->kind == O_STR) {
        *(const char **)o->dst = v;
        return 0;
    }
    if (o->kind == O_CHOICE) {
        for (int i = 0; o->choices[i]; i++)
            if (!strcmp(o->choices[i], v)) {
                *(int *)o->dst = i;
                return 0;
            }
        char list[128] = "";
        for (int i = 0; o->choices[i]; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, o->choices[i], sizeof list - strlen(list) - 1);
        }
        return usage_error(c, "invalid value '%s' for %s (choose one of: %s)", v, shown, list);
    }
    double d;
    if (o->kind == O_FLOAT) {
        if (parse_real(v, &d)) return usage_error(c, "invalid value '%s' for %s: not a number", v, shown);
    } else {
        long double w;
        int e = parse_whole(v, &w);
        if (e < 0) return usage_error(c, "invalid value '%s' for %s: not a whole number", v, shown);
        if (e > 0) return usage_error(c, "invalid value '%s' for %s: must be %.0f..%s", v, shown, o->min, max_text(o));
        if (o->kind == O_U64 && w >= o->min && w <= o->max) {   /* exact: a seed may use all 64 bits */
            *(uint64_t *)o->dst = strtoull(v[0] == '+' ? v + 1 : v, NULL, 10);
            return 0;
        }
        d = (double)w;
    }
    if (d < o->min || d > o->max || (o->min_open && d == o->min)) {
        if (o->min_open) return usage_error(c, "invalid value '%s' for %s: must be > %g and <= %g", v, shown, o->min, o->max);
        if (o->max >= 1e15) return usage_error(c, "invalid value '%s' for %s: must be %.0f..%s", v, shown, o->min, max_text(o));
        return usage_error(c, "invalid value '%s' for %s: must be %g..%g", v, shown, o->min, o->max);
    }
    if (o->kind == O_INT) *(int *)o->dst = (int)d;
    else if (o->kind == O_U64) *(uint64_t *)o->dst = (uint64_t)d;
    else *(double *)o->dst = d;
    return 0;
}

/* Parses argv[0..argc) (after the subcommand name) against c's table. Positionals go to pos[] (up to maxpos).
 * Returns 0, 2 (usage error, reported) or -1 (--help was printed: exit 0). */
static int parse_args(const command *c, int argc, char **argv, const char **pos, int maxpos, int *npos) {
    *npos = 0;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
            if (*npos >= maxpos) return usage_error(c, "unexpected argument '%s'", a);
            pos[(*npos)++] = a;
            continue;
        }
        if (!strcmp(a, "--")) { only_pos = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { print_help(c); return -1; }
        opt *o = NULL;
        const char *val = NULL;
        char shown[64];
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            for (int k = 0; k < c->nopts; k++)
                if (strlen(c->opts[k].name) == len && !strncmp(c->opts[k].name, a + 2, len)) o = &c->opts[k];
            if (!o) return usage_error(c, "unknown option '%.*s'", (int)(len + 2), a);
            snprintf(shown, sizeof shown, "--%s", o->name);
            if (eq) {
                if (o->kind == O_FLAG) return usage_error(c, "option '%s' takes no value", shown);
                val = eq + 1;
            }
        } else {
            for (int k = 0; k < c->nopts; k++)
                if (c->opts[k].shrt && c->opts[k].shrt == a[1]) o = &c->opts[k];
            if (!o) return usage_error(c, "unknown option '-%c'", a[1]);
            snprintf(shown, sizeof shown, "-%c", o->shrt);
            if (a[2]) {
                if (o->kind == O_FLAG) return usage_error(c, "option '%s' takes no value", shown);
                val = a + 2;
            }
        }
        o->seen = 1;
        if (o->kind == O_FLAG) { *(int *)o->dst = 1; continue; }
        if (!val) {
            if (i + 1 >= argc) return usage_error(c, "option '%s' needs a value (%s)", shown, o->arg);
            val = argv[++i];
        }
        int r = set_value(c, o, shown, val);
        if (r) return r;
    }
    return 0;
}

/* ============================================================================================ files */
/* Reads a whole file ("-" = stdin) into a malloc'd buffer the caller frees. Returns 0 or 1 (reported). */
static int read_all(const char *path, unsigned char **out, size_t *len) {
    int is_stdin = !strcmp(path, "-");
    const char *name = is_stdin ? "standard input" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return fail("cannot open '%s': %s", name, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!is_stdin) fclose(f);
        return fail("cannot read '%s': %s", name, strerror(EISDIR));
    }
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            if (!is_stdin) fclose(f);
            return fail("cannot read '%s': out of memory", name);
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f), e = errno;
    if (!is_stdin) fclose(f);
    if (bad) {
        free(buf);
        return fail("cannot read '%s': %s", name, strerror(e ? e : EIO));
    }
    *out = buf;
    *len = n;
    return 0;
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

/* ============================================================================================ train */
static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) {
    if (stop_signal) {   /* second signal: abort at once; the last checkpoint on disk is intact (atomic saves) */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
}

static const char *const cell_names[] = {"rnn", "lstm", "gru", NULL};
static const char *const optim_names[] = {"adam", "adagrad", "sgd", NULL};

static void fmt_eta(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) { snprintf(buf, n, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* Writes a preview sample of n symbols to stderr (temperature 0.8, fixed seed). */
static void preview(const rnn_model *m, int n) {
    rnn_err err;
    rnn_sampler *s = rnn_sampler_new(m, 42, 1, err);
    if (!s) return;
    fputs("  | ", stderr);
    for (int i = 0; i < n; i++) {
        int32_t id = rnn_sampler_next(s, 0.8f, 0, 1.0f);
        unsigned char b[4];
        int k = rnn_symbol_bytes(rnn_model_vocab(m), id, b);
        for (int j = 0; j < k; j++) {
            fputc(b[j], stderr);
            if (b[j] == '\n') fputs("  | ", stderr);
        }
        rnn_sampler_feed(s, id);
    }
    fputc('\n', stderr);
    rnn_sampler_free(s);
}

/* What one training run tracks beyond the model's own progress. */
typedef struct {
    rnn_model *m;
    rnn_trainer *t;
    const char *out, *bpath;
    FILE *logf;
    int quiet, tty, preview;
    double t_loop, ema, first_val;   /* this run's training-loop seconds, smoothed loss, first validation */
    uint64_t run_chars, start_step, best_step, nevals;
} run_state;

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

static void show_progress(run_state *r, const rnn_budget *bud) {
    rnn_progress *p = rnn_model_progress(r->m);
    rnn_train_info info;
    rnn_trainer_info(r->t, &info);
    double done = (double)(p->step - r->start_step), eta = NAN;
    if (bud->steps && done > 0) eta = (double)(bud->steps - p->step) * r->t_loop / done;
    if (bud->epochs > 0 && done > 0) {
        double e = (bud->epochs - info.epoch) * info.steps_per_epoch * r->t_loop / done;
        eta = isnan(eta) || e < eta ? e : eta;
    }
    if (bud->seconds > 0 && (isnan(eta) || bud->seconds - p->seconds < eta)) eta = bud->seconds - p->seconds;
    char etab[32], vb[32] = "-", total[32] = "";
    fmt_eta(etab, sizeof etab, eta);
    if (!isnan(p->last_val)) snprintf(vb, sizeof vb, "%.4f", p->last_val);
    if (bud->steps) snprintf(total, sizeof total, "/%llu", (unsigned long long)bud->steps);
    fprintf(stderr, "%sstep %llu%s  epoch %.2f  loss %.4f  val %s  %.0f chars/s  ETA %s%s", r->tty ? "\r\033[K" : "",
            (unsigned long long)p->step, total, info.epoch, r->ema, vb, run_rate(r), etab, r->tty ? "" : "\n");
    fflush(stderr);
}

/* Validates (if there is a validation split), saves the best-by-validation model when it improved, saves the
 * resumable checkpoint, reports and logs. Returns 0, or 1 after printing a save error. */
static int evaluate(run_state *r, rnn_err err) {
    rnn_progress *p = rnn_model_progress(r->m);
    float before = p->best_val;
    if (r->tty && !r->quiet) fputs("\r\033[K", stderr);   /* whatever follows starts on a clean line */
    double v = rnn_validate(r->t);
    int best = 0;
    if (!isnan(v)) {
        r->nevals++;
        if (isnan(r->first_val)) r->first_val = v;
        best = isnan(before) || p->best_val < before;   /* strictly better than any earlier validation */
        if (best) {
            r->best_step = p->step;
            if (rnn_save(r->bpath, r->m, NULL, err)) return fail("%s", err);
        }
    }
    if (rnn_save(r->out, r->m, r->t, err)) return fail("%s", err);
    if (!r->quiet) {
        if (!isnan(v))
            fprintf(stderr, "step %llu: val %.4f nats/char (%.3f bits/char)%s; saved %s\n", (unsigned long long)p->step,
                    v, v / log(2.0), best ? ", best so far" : "", r->out);
        if (r->preview > 0) preview(r->m, r->preview);
    }
    if (r->logf) log_row(r, v);
    return 0;
}

static int cmd_train(int argc, char **argv) {
    rnn_config cfg;
    rnn_config_default(&cfg);
    int cell = cfg.cell, layers = cfg.layers, hidden = cfg.hidden, batch = cfg.batch, seq = cfg.seq,
        optim = cfg.optim, bytes = 0, resume = 0, quiet = 0, preview_n = 160;
    double lr = cfg.lr, lr_decay = cfg.lr_decay, clip = cfg.clip, dropout = cfg.dropout, val = cfg.val_frac,
           forget_bias = cfg.forget_bias, seconds = 0, epochs = 0;
    uint64_t seed = cfg.seed, steps = 0, eval_every = 500;
    int threads = online_cpus();
    const char *out = "charrnn.ckpt", *logpath = NULL;
    opt opts[] = {
        {"output", 'o', O_STR, &out, 0, 0, 0, NULL, "FILE", "checkpoint to write (default charrnn.ckpt); the best-by-validation model also goes to FILE's .best.ckpt", 0},
        {"cell", 0, O_CHOICE, &cell, 0, 0, 0, cell_names, "KIND", "rnn (tanh, default), lstm or gru", 0},
        {"layers", 0, O_INT, &layers, 1, RNN_MAX_LAYERS, 0, NULL, "N", "stacked layers (default 1; 2 for lstm and gru)", 0},
        {"hidden", 0, O_INT, &hidden, 1, RNN_MAX_HIDDEN, 0, NULL, "N", "hidden units per layer (default 256; 512 for lstm and gru)", 0},
        {"batch", 0, O_INT, &batch, 1, 65536, 0, NULL, "B", "parallel streams per step (default 32)", 0},
        {"seq", 0, O_INT, &seq, 1, 65536, 0, NULL, "T", "truncated-BPTT length in symbols (default 64)", 0},
        {"optim", 0, O_CHOICE, &optim, 0, 0, 0, optim_names, "NAME", "adam (default), adagrad or sgd", 0},
        {"lr", 0, O_FLOAT, &lr, 0, 100, 1, NULL, "X", "learning rate (default 0.002)", 0},
        {"lr-decay", 0, O_FLOAT, &lr_decay, 0, 1, 1, NULL, "X", "multiply the learning rate by X after each epoch (default 1)", 0},
        {"clip", 0, O_FLOAT, &clip, 0, 1e6, 0, NULL, "X", "clip the gradient's global norm to X; 0 = off (default 5)", 0},
        {"dropout", 0, O_FLOAT, &dropout, 0, 0.99, 0, NULL, "P", "dropout between layers while training (default 0; 0.25 for lstm and gru)", 0},
        {"forget-bias", 0, O_FLOAT, &forget_bias, -100, 100, 0, NULL, "X", "lstm: initial forget-gate bias (default 0, as PyTorch; 1 is a common choice)", 0},
        {"val", 0, O_FLOAT, &val, 0, 0.9, 0, NULL, "F", "hold out the last F of the corpus for validation (default 0.1)", 0},
        {"steps", 0, O_U64, &steps, 1, 1e15, 0, NULL, "N", "stop after N steps in total (default 2000 if no budget is given)", 0},
        {"epochs", 0, O_FLOAT, &epochs, 0, 1e9, 1, NULL, "N", "stop after N passes over the training text in total", 0},
        {"time", 0, O_FLOAT, &seconds, 0, 1e9, 1, NULL, "SECONDS", "stop after this much training time in total", 0},
        {"eval-every", 0, O_U64, &eval_every, 0, 1e15, 0, NULL, "N", "validate and save every N steps; 0 = only at the end (default 500)", 0},
        {"bytes", 0, O_FLAG, &bytes, 0, 0, 0, NULL, NULL, "symbols are bytes, not UTF-8 characters", 0},
        {"seed", 0, O_U64, &seed, 0, 18446744073709551615.0, 0, NULL, "N", "random seed for initialisation and dropout (default 1234)", 0},
        {"threads", 0, O_INT, &threads, 1, 256, 0, NULL, "N", "worker threads (default: online CPUs); results do not depend on it", 0},
        {"resume", 0, O_FLAG, &resume, 0, 0, 0, NULL, NULL, "continue the run saved in the -o checkpoint exactly where it stopped", 0},
        {"log", 0, O_STR, &logpath, 0, 0, 0, NULL, "FILE", "append metrics as CSV (step,seconds,train_loss,val_loss,lr,chars_per_sec)", 0},
        {"preview", 0, O_INT, &preview_n, 0, 100000, 0, NULL, "N", "print an N-symbol sample to stderr at each validation; 0 = off (default 160)", 0},
        {"quiet", 'q', O_FLAG, &quiet, 0, 0, 0, NULL, NULL, "print nothing but errors", 0},
    };
    command c = {"train", "[options] CORPUS",
                 "Train a character-level RNN on the text file CORPUS ('-' reads standard input) and save it.",
                 opts, (int)(sizeof opts / sizeof opts[0])};
    const char *pos[1];
    int npos, r = parse_args(&c, argc, argv, pos, 1, &npos);
    if (r) return r < 0 ? 0 : r;
    if (npos != 1) return usage_error(&c, "expected one CORPUS file");
    const char *corpus = pos[0];

    rnn_err err;
    rnn_model *m = NULL;
    rnn_resume *rs = NULL;
    rnn_trainer *t = NULL;
    unsigned char *text = NULL;
    int32_t *ids = NULL;
    FILE *logf = NULL;
    char *bpath = best_path(out);
    int rc = 1;
    if (!bpath) return fail("out of memory");

    if (resume) {
        /* The checkpoint fixes the model and the data order; only the budget, lr and runtime knobs may change. */
        for (int i = 0; i < c.nopts; i++) {
            const char *n = opts[i].name;
            if (opts[i].seen && strcmp(n, "output") && strcmp(n, "steps") && strcmp(n, "epochs") && strcmp(n, "time") &&
                strcmp(n, "eval-every") && strcmp(n, "threads") && strcmp(n, "resume") && strcmp(n, "log") &&
                strcmp(n, "preview") && strcmp(n, "quiet") && strcmp(n, "lr")) {
                free(bpath);
                return usage_error(&c, "--%s cannot change when resuming: the checkpoint fixes it", n);
            }
        }
        if (rnn_load(out, &m, &rs, err)) { fail("%s", err); goto done; }
        if (!rs) { fail("'%s' holds no training state to resume", out); goto done; }
    } else {
        if (cell != RNN_CELL_RNN) {   /* gated cells: the setting measured for 10 minutes on 2 cores (README) */
            if (!opt_seen(opts, c.nopts, "layers")) layers = 2;
            if (!opt_seen(opts, c.nopts, "hidden")) hidden = 512;
            if (!opt_seen(opts, c.nopts, "dropout") && layers > 1) dropout = 0.25;
        }
        cfg = (rnn_config){.cell = cell, .layers = layers, .hidden = hidden, .batch = batch, .seq = seq,
                           .optim = optim, .lr = (float)lr, .lr_decay = (float)lr_decay, .clip = (float)clip,
                           .dropout = (float)dropout, .val_frac = (float)val, .forget_bias = (float)forget_bias,
                           .seed = seed};
        if (rnn_config_check(&cfg, err)) { free(bpath); return usage_error(&c, "%s", err); }
    }

    if (!resume && dropout > 0 && layers == 1 && !quiet)
        fprintf(stderr, "charrnn: warning: --dropout acts between layers; with --layers 1 it does nothing\n");
    size_t len = 0;
    if (read_all(corpus, &text, &len)) goto done;
    const char *cname = strcmp(corpus, "-") ? corpus : "standard input";
    if (len == 0) { fail("'%s' is empty", cname); goto done; }
    if (!m) {
        rnn_vocab v;
        if (rnn_vocab_build(&v, text, len, bytes ? RNN_UNIT_BYTE : RNN_UNIT_CHAR, err)) { fail("%s", err); goto done; }
        m = rnn_model_new(&cfg, &v, err);
        rnn_vocab_free(&v);
        if (!m) { fail("%s", err); goto done; }
    }
    ids = malloc(sizeof(int32_t) * len);
    if (!ids) { fail("out of memory"); goto done; }
    size_t unknown, n = rnn_encode(rnn_model_vocab(m), text, len, ids, &unknown);
    if (unknown) {
        fail("'%s' has %zu symbols that are not in the checkpoint's vocabulary: not the corpus it was trained on", cname, unknown);
        goto done;
    }
    free(text);
    text = NULL;
    t = rnn_trainer_new(m, ids, n, threads, rs, err);
    if (!t) { fail("%s: %s", cname, err); goto done; }
    rnn_budget *bud = rnn_trainer_budget(t);
    if (steps || epochs > 0 || seconds > 0)   /* a budget given now replaces the stored one whole */
        *bud = (rnn_budget){steps, epochs, seconds};
    if (!bud->steps && !(bud->epochs > 0) && !(bud->seconds > 0)) bud->steps = 2000;
    if (resume && opt_seen(opts, c.nopts, "lr")) rnn_trainer_set_lr(t, (float)lr);   /* e.g. after divergence */
    if (logpath) {
        logf = fopen(logpath, "a");
        if (!logf) { fail("cannot open '%s': %s", logpath, strerror(errno)); goto done; }
        if (ftell(logf) == 0) fprintf(logf, "step,seconds,train_loss,val_loss,lr,chars_per_sec\n");
    }

    const rnn_config *mc = rnn_model_config(m);
    rnn_progress *prog = rnn_model_progress(m);
    rnn_train_info info;
    rnn_trainer_info(t, &info);
    if (!quiet)
        fprintf(stderr, "charrnn: %s %d x %d, %d symbols (%s), %zu parameters; %zu training + %zu validation symbols; "
                "%llu steps per epoch; %d thread%s\n", rnn_cell_name(mc->cell), mc->layers, mc->hidden,
                rnn_model_vocab(m)->size, rnn_model_vocab(m)->unit == RNN_UNIT_BYTE ? "bytes" : "UTF-8 characters",
                rnn_model_nparams(m), info.n_train, info.n_val, (unsigned long long)info.steps_per_epoch, threads,
                threads == 1 ? "" : "s");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;   /* a save in progress is not cut short by EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    run_state rs_ = {.m = m, .t = t, .out = out, .bpath = bpath, .logf = logf, .quiet = quiet, .tty = isatty(2),
                     .preview = preview_n, .ema = NAN, .first_val = NAN, .start_step = prog->step};
    run_state *run = &rs_;
    int diverged = 0;
    double last_show = 0, last_log = 0;
    for (;;) {
        rnn_trainer_info(t, &info);
        if ((bud->steps && prog->step >= bud->steps) || (bud->epochs > 0 && info.epoch >= bud->epochs) ||
            (bud->seconds > 0 && prog->seconds >= bud->seconds) || stop_signal)
            break;
        double t0 = now_sec();
        double loss = rnn_train_step(t);
        double dt = now_sec() - t0;
        run->t_loop += dt;
        prog->seconds += dt;
        if (!isfinite(loss)) { diverged = 1; break; }
        run->run_chars += (uint64_t)mc->batch * mc->seq;
        run->ema = isnan(run->ema) ? loss : 0.98 * run->ema + 0.02 * loss;
        int eval_now = eval_every && prog->step % eval_every == 0;
        double tnow = now_sec();
        if (!quiet && (eval_now || tnow - last_show >= (run->tty ? 0.25 : 5.0))) {
            show_progress(run, bud);
            last_show = tnow;
        }
        if (eval_now) {
            if (evaluate(run, err)) goto done;
        } else if (logf && tnow - last_log >= 5.0) {
            log_row(run, NAN);
            last_log = tnow;
        }
    }
    if (run->tty && !quiet) fputs("\r\033[K", stderr);
    if (diverged) {
        fail("training diverged at step %llu (non-finite loss or gradient); nothing from that step was applied. "
             "'%s' keeps the last saved state: resume it with a lower --lr, or restart with a lower --lr or --clip",
             (unsigned long long)prog->step + 1, out);
        goto done;
    }
    if (stop_signal) {   /* interrupted: save at once; a full validation can take long on big models */
        if (rnn_save(out, m, t, err)) { fail("%s", err); goto done; }
    } else if (!eval_every || prog->step % eval_every != 0 || prog->step == run->start_step) {
        if (evaluate(run, err)) goto done;   /* the end of the run was not just validated and saved */
    }
    rnn_trainer_info(t, &info);
    if (stop_signal) {
        fprintf(stderr, "charrnn: interrupted at step %llu (epoch %.2f); saved '%s'. Resume with: charrnn train --resume -o %s %s\n",
                (unsigned long long)prog->step, info.epoch, out, out, corpus);
        rc = stop_signal == SIGINT ? 130 : 143;
        goto done;
    }
    if (!quiet) {
        if (run->nevals)
            fprintf(stderr, "validation: %.4f -> %.4f nats/char over %llu evaluation%s; best %.4f (%.3f bits/char)%s\n",
                    run->first_val, prog->last_val, (unsigned long long)run->nevals, run->nevals == 1 ? "" : "s",
                    prog->best_val, prog->best_val / log(2.0), run->best_step ? "" : ", from an earlier run");
        char vb[32] = "-";
        if (!isnan(prog->last_val)) snprintf(vb, sizeof vb, "%.4f nats/char", prog->last_val);
        fprintf(stderr, "done: %llu steps, epoch %.2f, train loss %.4f, val %s, %.0f chars/s, %.1f s; saved %s\n",
                (unsigned long long)prog->step, info.epoch, run->ema, vb, run->t_loop > 0 ? run->run_chars / run->t_loop : 0,
                run->t_loop, out);
    }
    rc = 0;
done:
    if (logf && (ferror(logf) | fclose(logf)) != 0 && rc == 0) rc = fail("cannot write '%s': %s", logpath, strerror(errno));
    rnn_trainer_free(t);
    rnn_resume_free(rs);
    rnn_model_free(m);
    free(ids);
    free(text);
    free(bpath);
    return rc;
}

/* ============================================================================================ sample */
static int cmd_sample(int argc, char **argv) {
    const char *model = "charrnn.ckpt", *prime = NULL;
    uint64_t n = 500, seed = 0;
    double temp = 1.0, top_p = 1.0;
    int top_k = 0, threads = online_cpus();
    opt opts[] = {
        {"model", 'm', O_STR, &model, 0, 0, 0, NULL, "FILE", "checkpoint to sample from (default charrnn.ckpt)", 0},
        {"length", 'n', O_U64, &n, 0, 1e15, 0, NULL, "N", "generate exactly N symbols after the prime (default 500)", 0},
        {"temperature", 't', O_FLOAT, &temp, 0, 100, 0, NULL, "X", "sharpen (<1) or flatten (>1) the distribution; 0 = always the likeliest (default 1)", 0},
        {"top-k", 0, O_INT, &top_k, 0, RNN_MAX_VOCAB, 0, NULL, "K", "draw only from the K likeliest symbols; 0 = all (default)", 0},
        {"top-p", 0, O_FLOAT, &top_p, 0, 1, 1, NULL, "P", "draw only from the likeliest symbols holding P of the mass (default 1)", 0},
        {"prime", 0, O_STR, &prime, 0, 0, 0, NULL, "TEXT", "start from TEXT: it warms the state and is printed first", 0},
        {"seed", 0, O_U64, &seed, 0, 18446744073709551615.0, 0, NULL, "N", "random seed: the same seed gives the same text (default: from the clock)", 0},
        {"threads", 0, O_INT, &threads, 1, 256, 0, NULL, "N", "worker threads (default: online CPUs); the text does not depend on it", 0},
    };
    command c = {"sample", "[options]", "Generate text from a trained checkpoint, streamed to standard output.", opts,
                 (int)(sizeof opts / sizeof opts[0])};
    const char *pos[1];
    int npos, r = parse_args(&c, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!opt_seen(opts, c.nopts, "seed")) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    }
    rnn_err err;
    rnn_model *m;
    if (rnn_load(model, &m, NULL, err)) return fail("%s", err);
    const rnn_vocab *v = rnn_model_vocab(m);
    rnn_sampler *s = rnn_sampler_new(m, seed, threads, err);
    if (!s) {
        rnn_model_free(m);
        return fail("%s", err);
    }
    int tty = isatty(1);
    if (!tty) setvbuf(stdout, NULL, _IOLBF, 0);   /* line by line into pipes: streams, yet few writes */
    if (prime && *prime) {
        size_t len = strlen(prime), unknown;
        int32_t *ids = malloc(sizeof(int32_t) * len);
        if (!ids) {
            rnn_sampler_free(s);
            rnn_model_free(m);
            return fail("out of memory");
        }
        size_t k = rnn_encode(v, (const unsigned char *)prime, len, ids, &unknown);
        if (unknown)
            fprintf(stderr, "charrnn: warning: %zu symbol%s of --prime %s not in the model's vocabulary and %s skipped\n",
                    unknown, unknown == 1 ? "" : "s", unknown == 1 ? "is" : "are", unknown == 1 ? "was" : "were");
        for (size_t i = 0; i < k; i++) rnn_sampler_feed(s, ids[i]);
        free(ids);
        fwrite(prime, 1, len, stdout);
    }
    for (uint64_t i = 0; i < n && !ferror(stdout); i++) {
        int32_t id = rnn_sampler_next(s, (float)temp, top_k, (float)top_p);
        unsigned char b[4];
        fwrite(b, 1, (size_t)rnn_symbol_bytes(v, id, b), stdout);
        if (tty) fflush(stdout);
        if (i + 1 < n) rnn_sampler_feed(s, id);
    }
    rnn_sampler_free(s);
    rnn_model_free(m);
    if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
        return fail("cannot write output: %s", strerror(errno ? errno : EIO));
    return 0;
}

/* ============================================================================================ info */
static int cmd_info(int argc, char **argv) {
    const char *model = "charrnn.ckpt";
    opt opts[] = {
        {"model", 'm', O_STR, &model, 0, 0, 0, NULL, "FILE", "checkpoint to describe (default charrnn.ckpt)", 0},
    };
    command c = {"info", "[options]", "Describe a checkpoint: model, vocabulary, training so far.", opts, 1};
    const char *pos[1];
    int npos, r = parse_args(&c, argc, argv, pos, 0, &npos);
    if (r) return r < 0 ? 0 : r;
    rnn_err err;
    rnn_model *m;
    rnn_resume *rs;
    if (rnn_load(model, &m, &rs, err)) return fail("%s", err);
    const rnn_config *k = rnn_model_config(m);
    const rnn_vocab *v = rnn_model_vocab(m);
    rnn_progress *p = rnn_model_progress(m);
    printf("checkpoint:  %s\n", model);
    printf("cell:        %s\nlayers:      %d\nhidden:      %d\n", rnn_cell_name(k->cell), k->layers, k->hidden);
    printf("vocabulary:  %d %s\n", v->size, v->unit == RNN_UNIT_BYTE ? "bytes" : "UTF-8 characters");
    printf("parameters:  %zu\n", rnn_model_nparams(m));
    printf("training:    batch %d, seq %d, %s lr %g (decay %g), clip %g, dropout %g, val %g, seed %llu\n", k->batch,
           k->seq, optim_names[k->optim], k->lr, k->lr_decay, k->clip, k->dropout, k->val_frac,
           (unsigned long long)k->seed);
    if (k->cell == RNN_CELL_LSTM) printf("init:        forget-gate bias %g\n", k->forget_bias);
    printf("steps:       %llu (%llu characters, %.1f s)\n", (unsigned long long)p->step, (unsigned long long)p->chars,
           p->seconds);
    if (isnan(p->last_val)) printf("val loss:    none\n");
    else printf("val loss:    %.4f nats/char (%.3f bits/char); best %.4f\n", p->last_val, p->last_val / log(2.0), p->best_val);
    if (rs) printf("resumable:   yes (learning rate now %g)\n", rnn_resume_lr(rs));
    else printf("resumable:   no (weights only)\n");
    rnn_resume_free(rs);
    rnn_model_free(m);
    if (fflush(stdout) != 0 || ferror(stdout)) return fail("cannot write output: %s", strerror(errno ? errno : EIO));
    return 0;
}

/* ============================================================================================ main */
static void print_usage(FILE *f) {
    fprintf(f,
            "Usage: charrnn COMMAND [options]\n"
            "A character-level recurrent neural network: learn the style of a text file, then write more of it.\n\n"
            "Commands:\n"
            "  train CORPUS   learn from a text file and save a checkpoint (charrnn.ckpt)\n"
            "  sample         generate text from a checkpoint to standard output\n"
            "  info           describe a checkpoint\n"
            "  plot LOG       draw a --log CSV's loss curves as SVG on standard output\n\n"
            "Run 'charrnn COMMAND --help' for a command's options. Exit status: 0 ok, 1 error, 2 usage error,\n"
            "130/143 training interrupted by SIGINT/SIGTERM (after saving).\n");
}

int cmd_plot(int argc, char **argv);

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        print_usage(stdout);
        return fflush(stdout) ? 1 : 0;
    }
    if (!strcmp(cmd, "--version")) {
        puts(VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "sample")) return cmd_sample(argc - 2, argv + 2);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc - 2, argv + 2);
    fprintf(stderr, "charrnn: unknown command '%s'\n", cmd);
    print_usage(stderr);
    return 2;
}
