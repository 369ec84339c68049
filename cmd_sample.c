/* cmd_sample.c — `charrnn sample`: its options, the generator fed with the prime, the samples written in
 * order to standard output (text or JSON lines), with --stop, --lines, --line-starts and --count. Must not
 * know: the library's internals (it includes rnn.h only), any other command. */
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

/* The --length default when a sample can end otherwise (--stop, --lines, --line-starts): a bound, not a
 * length. */
#define BOUNDED_LENGTH 10000

/* The options of one `sample` run: the values, and the table that parses them into those values. */
typedef struct {
    const char *model, *prime, *sep, *line_starts;
    uint64_t n, lines;
    draw_args d;
    int threads, count, jsonl, stop_exclude, raw, precision;
    opt_list stops;
    command c;   /* the table, in cmd_sample's frame */
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

/* A warning for each --stop string holding a backslash escape (\n, \t, \r) written literally: charrnn takes
 * STR as it is, so '\n' is two characters and rarely what was meant. */
static void warn_escapes(const sample_args *a) {
    for (int i = 0; i < a->stops.n; i++) {
        const char *p = a->stops.v[i];
        while ((p = strchr(p, '\\')) && p[1] != 'n' && p[1] != 't' && p[1] != 'r') p++;
        if (p)
            say("charrnn: warning: --stop '%s' holds a backslash and '%c', not a control character: "
                    "in bash, $'\\%c' is one",
                    a->stops.v[i], p[1], p[1]);
    }
}

/* The checks of sample's parsed options that need no model, and the defaults that depend on other options. 0
 * or 2 (usage error, reported). */
static int sample_check(sample_args *a) {
    const command *c = &a->c;
    for (int i = 0; i < a->stops.n; i++)
        if (!*a->stops.v[i]) return usage_error(c, "invalid value '' for --stop: must not be empty");
    if (a->stop_exclude && !a->stops.n) return usage_error(c, "--stop-exclude needs --stop");
    if (a->line_starts && !*a->line_starts)
        return usage_error(c, "invalid value '' for --line-starts: must not be empty");
    if (a->jsonl && opt_seen(c, "sep")) return usage_error(c, "--sep and --jsonl cannot be used together");
    if (!opt_seen(c, "length") && (a->stops.n || a->lines || a->line_starts)) a->n = BOUNDED_LENGTH;
    draw_seed(&a->d, c);
    return 0;
}

/* The model, the generator (a --line-starts symbol outside the vocabulary is a usage error), the prime fed
 * and put at the head of every sample. 0, 1 or 2 after reporting. */
static int sample_open(sample_session *s) {
    sample_args *a = s->a;
    if (default_model_missing(a->model)) return 1;
    if (rnn_load(a->model, &s->m, NULL, s->err)) return fail("%s", s->err);
    if (opt_seen(&a->c, "precision") && rnn_model_set_precision(s->m, a->precision, s->err))
        return fail("%s", s->err);
    rnn_gen_opts o = {.temperature = (float)a->d.temp, .top_k = a->d.top_k, .top_p = (float)a->d.top_p,
                      .raw = a->raw, .length = a->n, .stops = a->stops.v, .nstops = a->stops.n,
                      .lines = a->lines, .line_starts = a->line_starts};
    if (rnn_gen_check(s->m, &o, s->err)) return usage_error(&a->c, "--line-starts: %s", s->err);
    for (int i = 0; i < a->stops.n; i++)
        if (a->stop_exclude && strlen(a->stops.v[i]) > s->hold + 1) s->hold = strlen(a->stops.v[i]) - 1;
    s->text = calloc((size_t)a->count, sizeof *s->text);
    s->out = calloc((size_t)a->count, sizeof *s->out);
    if (!s->text || !s->out || !(s->g = rnn_gen_new(s->m, a->count, a->d.seed, a->threads, &o, s->err)))
        return fail("%s", s->text && s->out ? s->err : "out of memory");
    size_t len = a->prime ? strlen(a->prime) : 0, unknown;
    if (rnn_gen_prime(s->g, (const unsigned char *)a->prime, len, &unknown, s->err))
        return fail("%s", s->err);
    if (unknown)
        say("charrnn: warning: %zu symbol%s of --prime %s not in the model's vocabulary and %s skipped",
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

/* s[0..n) (any bytes, NULs too) as the body of a JSON string: each character as out.c's json_char writes it,
 * each byte that is not part of valid UTF-8 as \ufffd (U+FFFD), since JSON text is UTF-8. (out.c must not
 * know the library's decoder, hence the decoding here.) */
static void json_sample_text(FILE *f, const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = rnn_utf8_next(s + i, n - i, &cp);
        if (cp >= RNN_RAWBYTE) fputs("\\ufffd", f);
        else json_char(f, cp, s + i, (size_t)k);
        i += (size_t)k;
    }
}

/* Writes what can be written, in sample order: the sample being written up to its held-back tail, and when it
 * has ended its last bytes and the separator (or its JSON line), then the next one. */
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
            if (o->nbytes && o->status == RNN_GEN_STOP && a->stop_exclude)
                s->text[i].n -= strlen(a->stops.v[o->stop]);
        }
        sample_emit(s);
        if (s->tty) fflush(stdout);
    } while (running && !ferror(stdout));
    return 0;
}

/* Frees the session (main checks standard output). Returns rc. */
static int sample_end(sample_session *s, int rc) {
    if (s->text)
        for (int i = 0; i < s->a->count; i++) free(s->text[i].b);
    free(s->text);
    free(s->out);
    rnn_gen_free(s->g);
    rnn_model_free(s->m);
    /* the prompt starts on its own line; a pipe gets the bytes */
    if (!rc && s->tty && s->last != '\n') putchar('\n');
    return rc;
}

/* `charrnn sample`: the defaults and the option table (in this frame for the whole run), parse, check, open
 * (model, generator, prime), loop, end. */
int cmd_sample(int argc, char **argv) {
    sample_args a = {.model = DEFAULT_MODEL, .sep = "\n", .n = 500, .d = {.temp = 1.0, .top_p = 1.0},
                     .threads = online_cpus(), .count = 1};
    opt opts[] = {
        OPT_STR("model", 'm', &a.model, "FILE", "checkpoint to sample from (default {default})"),
        OPT_U64("length", 'n', &a.n, 0, 1e15, "N",
                "generate exactly N symbols after the prime (default {default}); "
                "with --stop, --lines or --line-starts at most N (default " STR(BOUNDED_LENGTH) ")"),
        DRAW_ROWS(&a.d),
        OPT_STR("prime", 0, &a.prime, "TEXT", "start from TEXT: it warms the state and is printed first"),
        OPT_LIST("stop", 0, &a.stops, "STR",
                 "end a sample right after it generates STR (printed); repeatable; a newline is $'\\n' in "
                 "bash, not '\\n'"),
        OPT_FLAG("stop-exclude", 0, &a.stop_exclude, "leave the --stop string that ended a sample out"),
        OPT_U64("lines", 0, &a.lines, 1, 1e15, "N", "end a sample after its N-th generated newline"),
        OPT_STR("line-starts", 0, &a.line_starts, "TEXT",
                "generated line i begins with the i-th character of TEXT; ends after the last such line"),
        OPT_INT("count", 0, &a.count, 1, 4096, "K",
                "draw K independent samples at once (batched); sample i is the "
                "same for any K (default {default})"),
        OPT_STR("sep", 0, &a.sep, "STR", "written between samples (default {default})",
                .computed = "a newline"),
        OPT_FLAG("jsonl", 0, &a.jsonl, "one JSON object {\"i\":N,\"text\":\"...\"} per line and sample"),
        OPT_FLAG("raw", 0, &a.raw, "--bytes models: do not keep the output valid UTF-8"),
        SEED_ROW(&a.d, "text"),
        RUN_ROWS(&a.precision, &a.threads, "the text does"),
    };
    a.c = COMMAND("sample", "[options]",
                  "Generate text from a trained checkpoint, streamed to standard output.", opts);
    const char *pos[1];
    int npos, r = parse_args(&a.c, argc, argv, pos, 0, &npos);
    if (!r) r = sample_check(&a);
    if (r || cli_args_only) return r < 0 ? 0 : r;
    warn_escapes(&a);
    sample_session s = {.a = &a, .tty = isatty(1), .last = '\n'};
    if (!s.tty) setvbuf(stdout, NULL, _IOLBF, 0);   /* line by line into pipes: streams, yet few writes */
    r = sample_open(&s);
    if (!r) r = sample_loop(&s);
    return sample_end(&s, r);
}
