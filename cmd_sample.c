/* cmd_sample.c — `charrnn sample`: its options, the generator fed with the prime, the samples written in order
 * to standard output (text or JSON lines), with --stop, --lines, --line-starts and --count.
 * Must not know: the library's internals (it includes rnn.h only), any other command. */
#define _POSIX_C_SOURCE 200809L
#include "cmd.h"
#include "cli.h"
#include "out.h"
#include "rnn.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The options of one `sample` run: the values, and the table that parses them into those values. */
typedef struct {
    const char *model, *prime, *sep, *line_starts;
    uint64_t n, lines;
    draw_args d;
    int threads, count, jsonl, stop_exclude, raw, precision;
    opt_list stops;
    opt opts[17];
    command c;
} sample_args;

/* Bytes of one sample not written yet: all of a sample whose turn has not come; of the one being written, the
 * tail that may still turn out to start a stop string --stop-exclude drops. */
typedef struct { unsigned char *b; size_t n, cap; } pending;

/* Everything one run holds, freed by sample_end whatever happened. */
typedef struct {
    sample_args *a;
    rnn_model *m;
    rnn_gen *g;
    pending *text;      /* (count) */
    rnn_gen_out *out;   /* (count) the last step of each sample */
    int cur;            /* the sample being written: those before it are out */
    size_t hold;        /* bytes the written sample keeps back (--stop-exclude: the longest stop - 1) */
    int tty, last;      /* last: the last byte written (a terminal gets a final newline) */
    rnn_err err;
} sample_session;

/* Parses sample's options into a (defaults first), with the checks that need no model. 0, -1 (--help printed) or
 * 2 (usage error, reported). */
static int sample_parse(sample_args *a, int argc, char **argv) {
    *a = (sample_args){.model = "charrnn.ckpt", .sep = "\n", .n = 500, .d = {.temp = 1.0, .top_p = 1.0},
                       .threads = online_cpus(), .count = 1};
    const opt opts[] = {
        {"model", 'm', O_STR, &a->model, 0, 0, 0, NULL, "FILE", "checkpoint to sample from (default charrnn.ckpt)", 0},
        {"length", 'n', O_U64, &a->n, 0, 1e15, 0, NULL, "N", "generate exactly N symbols after the prime (default 500); with --stop, --lines or --line-starts at most N (default 10000)", 0},
        DRAW_ROWS(&a->d, "1"),
        {"prime", 0, O_STR, &a->prime, 0, 0, 0, NULL, "TEXT", "start from TEXT: it warms the state and is printed first", 0},
        {"stop", 0, O_LIST, &a->stops, 0, 0, 0, NULL, "STR", "end a sample right after it generates STR (printed); repeatable", 0},
        {"stop-exclude", 0, O_FLAG, &a->stop_exclude, 0, 0, 0, NULL, NULL, "leave the --stop string that ended a sample out", 0},
        {"lines", 0, O_U64, &a->lines, 1, 1e15, 0, NULL, "N", "end a sample after its N-th generated newline", 0},
        {"line-starts", 0, O_STR, &a->line_starts, 0, 0, 0, NULL, "TEXT", "generated line i begins with the i-th character of TEXT; ends after the last such line", 0},
        {"count", 0, O_INT, &a->count, 1, 4096, 0, NULL, "K", "draw K independent samples at once (batched); sample i is the same for any K (default 1)", 0},
        {"sep", 0, O_STR, &a->sep, 0, 0, 0, NULL, "STR", "written between samples (default a newline)", 0},
        {"jsonl", 0, O_FLAG, &a->jsonl, 0, 0, 0, NULL, NULL, "one JSON object {\"i\":N,\"text\":\"...\"} per line and sample", 0},
        {"raw", 0, O_FLAG, &a->raw, 0, 0, 0, NULL, NULL, "--bytes models: do not keep the output valid UTF-8", 0},
        SEED_ROW(&a->d, "text"),
        {"precision", 0, O_CHOICE, &a->precision, 0, 0, 0, rnn_precision_names(), "P", "fp32 or bf16 products (default: the checkpoint's)", 0},
        {"threads", 0, O_INT, &a->threads, 1, 256, 0, NULL, "N", "worker threads (default: online CPUs); the text does not depend on it", 0},
    };
    _Static_assert(sizeof opts / sizeof opts[0] == sizeof a->opts / sizeof a->opts[0], "sample_args.opts fits the table");
    memcpy(a->opts, opts, sizeof opts);
    a->c = (command){"sample", "[options]", "Generate text from a trained checkpoint, streamed to standard output.",
                     a->opts, (int)(sizeof opts / sizeof opts[0])};
    const char *pos[1];
    int npos, r = parse_args(&a->c, argc, argv, pos, 0, &npos);
    if (r) return r;
    const command *c = &a->c;
    for (int i = 0; i < a->stops.n; i++)
        if (!*a->stops.v[i]) return usage_error(c, "invalid value '' for --stop: must not be empty");
    if (a->stop_exclude && !a->stops.n) return usage_error(c, "--stop-exclude needs --stop");
    if (a->line_starts && !*a->line_starts) return usage_error(c, "invalid value '' for --line-starts: must not be empty");
    if (a->jsonl && opt_seen(a->opts, c->nopts, "sep")) return usage_error(c, "--sep and --jsonl cannot be used together");
    if (!opt_seen(a->opts, c->nopts, "length") && (a->stops.n || a->lines || a->line_starts)) a->n = 10000;
    draw_seed(&a->d, a->opts, c->nopts);
    return 0;
}

/* The model, the generator (a --line-starts symbol outside the vocabulary is a usage error), the prime fed and
 * put at the head of every sample. 0, 1 or 2 after reporting. */
static int sample_open(sample_session *s) {
    sample_args *a = s->a;
    if (rnn_load(a->model, &s->m, NULL, s->err)) return fail("%s", s->err);
    if (opt_seen(a->opts, a->c.nopts, "precision") && rnn_model_set_precision(s->m, a->precision, s->err))
        return fail("%s", s->err);
    rnn_gen_opts o = {.temperature = (float)a->d.temp, .top_k = a->d.top_k, .top_p = (float)a->d.top_p, .raw = a->raw,
                      .length = a->n, .stops = a->stops.v, .nstops = a->stops.n, .lines = a->lines,
                      .line_starts = a->line_starts};
    if (rnn_gen_check(s->m, &o, s->err)) return usage_error(&a->c, "--line-starts: %s", s->err);
    for (int i = 0; i < a->stops.n; i++)
        if (a->stop_exclude && strlen(a->stops.v[i]) > s->hold + 1) s->hold = strlen(a->stops.v[i]) - 1;
    s->text = calloc((size_t)a->count, sizeof *s->text);
    s->out = calloc((size_t)a->count, sizeof *s->out);
    if (!s->text || !s->out || !(s->g = rnn_gen_new(s->m, a->count, a->d.seed, a->threads, &o, s->err)))
        return fail("%s", s->text && s->out ? s->err : "out of memory");
    size_t len = a->prime ? strlen(a->prime) : 0, unknown;
    if (rnn_gen_prime(s->g, (const unsigned char *)a->prime, len, &unknown, s->err)) return fail("%s", s->err);
    if (unknown)
        fprintf(stderr, "charrnn: warning: %zu symbol%s of --prime %s not in the model's vocabulary and %s skipped\n",
                unknown, unknown == 1 ? "" : "s", unknown == 1 ? "is" : "are", unknown == 1 ? "was" : "were");
    for (int i = 0; i < a->count; i++)
        if (len && !(s->text[i].b = malloc(s->text[i].cap = len))) return fail("out of memory");
        else if (len) memcpy(s->text[i].b, a->prime, s->text[i].n = len);
    return 0;
}

/* Appends n bytes to p. 0, or -1 when out of memory. */
static int pending_add(pending *p, const unsigned char *b, size_t n) {
    if (!n) return 0;   /* nothing to add (and p->b may still be NULL) */
    if (p->n + n > p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        while (cap < p->n + n) cap *= 2;
        unsigned char *nb = realloc(p->b, cap);
        if (!nb) return -1;
        p->b = nb;
        p->cap = cap;
    }
    memcpy(p->b + p->n, b, n);
    p->n += n;
    return 0;
}

/* s[0..n) (any bytes, NULs too) as the body of a JSON string: each character as out.c's json_char writes it, each
 * byte that is not part of valid UTF-8 as \ufffd (U+FFFD), since JSON text is UTF-8. (out.c must not know the
 * library's decoder, hence the decoding here.) */
static void json_sample_text(FILE *f, const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = rnn_utf8_next(s + i, n - i, &cp);
        if (cp >= RNN_RAWBYTE) fputs("\\ufffd", f);
        else json_char(f, cp, s + i, (size_t)k);
        i += (size_t)k;
    }
}

/* Writes what can be written, in sample order: the sample being written up to its held-back tail, and when it has
 * ended its last bytes and the separator (or its JSON line), then the next one. */
static void sample_emit(sample_session *s) {
    const sample_args *a = s->a;
    while (s->cur < a->count) {
        pending *t = &s->text[s->cur];
        int ended = s->out[s->cur].status != RNN_GEN_RUNNING;
        if (!a->jsonl) {
            size_t w = ended ? t->n : t->n > s->hold ? t->n - s->hold : 0;
            if (w) {   /* t->b is NULL until the sample has bytes */
                fwrite(t->b, 1, w, stdout);
                s->last = t->b[w - 1];
                memmove(t->b, t->b + w, t->n - w);
                t->n -= w;
            }
        }
        if (!ended) return;
        if (a->jsonl) {
            printf("{\"i\":%d,\"text\":\"", s->cur);
            json_sample_text(stdout, t->b, t->n);
            fputs("\"}\n", stdout);
            s->last = '\n';
        } else if (s->cur + 1 < a->count && *a->sep) {
            fputs(a->sep, stdout);
            s->last = (unsigned char)a->sep[strlen(a->sep) - 1];
        }
        free(t->b);
        *t = (pending){0};
        s->cur++;
    }
}

/* Steps every sample until all have ended (or stdout fails), writing as it goes. 0, or 1 after reporting. */
static int sample_loop(sample_session *s) {
    const sample_args *a = s->a;
    int running;
    do {
        running = rnn_gen_step(s->g, s->out);
        for (int i = 0; i < a->count; i++) {
            rnn_gen_out *o = &s->out[i];
            if (pending_add(&s->text[i], o->bytes, (size_t)o->nbytes)) return fail("out of memory");
            if (o->nbytes && o->status == RNN_GEN_STOP && a->stop_exclude) s->text[i].n -= strlen(a->stops.v[o->stop]);
        }
        sample_emit(s);
        if (s->tty) fflush(stdout);
    } while (running && !ferror(stdout));
    return 0;
}

/* Frees the session; a failed write turns success into an error. Returns the exit code. */
static int sample_end(sample_session *s, int rc) {
    if (s->text)
        for (int i = 0; i < s->a->count; i++) free(s->text[i].b);
    free(s->text);
    free(s->out);
    rnn_gen_free(s->g);
    rnn_model_free(s->m);
    if (rc) return rc;
    if (s->tty && s->last != '\n') putchar('\n');   /* the prompt starts on its own line; a pipe gets the bytes */
    if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
        return fail("cannot write output: %s", strerror(errno ? errno : EIO));
    return 0;
}

/* `charrnn sample`: parse, open (model, generator, prime), loop, end. */
int cmd_sample(int argc, char **argv) {
    sample_args a;
    int r = sample_parse(&a, argc, argv);
    if (r || cli_args_only) return r < 0 ? 0 : r;
    sample_session s = {.a = &a, .tty = isatty(1), .last = '\n'};
    if (!s.tty) setvbuf(stdout, NULL, _IOLBF, 0);   /* line by line into pipes: streams, yet few writes */
    r = sample_open(&s);
    if (!r) r = sample_loop(&s);
    return sample_end(&s, r);
}
