/* cli.c — the generic part of the command line: the option parser that reads a subcommand's table (see
 * cli.h), its --help printer, the error and usage-error reports, and the helpers several subcommands share
 * (reading a whole file or standard input, the default thread count). The same table is parsed and printed,
 * so --help and the parser cannot drift.
 * Must not know: any subcommand, the library. It only prints to stderr (errors) and stdout (--help). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "out.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_args_only = 0;

void say_line(const char *s, const char *whole) { print_wrapped(stderr, s, whole, term_cols(2), 2); }

/* prefix and the printf format as one line through say_line (out of memory: written unwrapped). */
static void say_v(const char *prefix, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    size_t pl = strlen(prefix);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *buf = n >= 0 ? malloc(pl + (size_t)n + 1) : NULL;
    if (buf) {
        memcpy(buf, prefix, pl);
        vsnprintf(buf + pl, (size_t)n + 1, fmt, ap2);
        say_line(buf, NULL);
    } else {
        fputs(prefix, stderr);
        vfprintf(stderr, fmt, ap2);
        fputc('\n', stderr);
    }
    free(buf);
    va_end(ap2);
}

void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    say_v("", fmt, ap);
    va_end(ap);
}

/* One error line, "charrnn: ...", and exit code 1 for the caller to return. */
const char *cli_fail_prefix = "";

int fail(const char *fmt, ...) {
    char line[16384];   /* formatted first: the lines of several processes sharing stderr do not interleave */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    say("charrnn: %s%s", cli_fail_prefix, line);   /* one fprintf on unbuffered stderr: one write in a pipe */
    return 1;
}

void (*cli_describe)(const command *c) = NULL;

int opt_seen(const command *c, const char *name) {
    for (int i = 0; i < c->nopts; i++)
        if (!strcmp(c->opts[i].name, name)) return c->opts[i].seen;
    return 0;
}

/* The default of o as text into buf (n bytes): its `computed` text, else the value parse_args found in
 * *dst. */
static const char *default_text(const opt *o, char *buf, size_t n) {
    if (o->computed) return o->computed;
    switch (o->kind) {
    case O_INT: snprintf(buf, n, "%d", o->def.i); break;
    case O_U64: snprintf(buf, n, "%llu", (unsigned long long)o->def.u); break;
    case O_FLOAT: snprintf(buf, n, "%g", o->def.d); break;
    case O_STR: snprintf(buf, n, "%s", o->def.s ? o->def.s : ""); break;
    case O_CHOICE: snprintf(buf, n, "%s", o->choices[o->def.i]); break;
    default: snprintf(buf, n, "-"); break;   /* flags and lists have no default to show */
    }
    return buf;
}

/* o's choices as "a, b or c", the default one followed by " (default)" unless o->computed names another. */
static void choices_text(const opt *o, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; o->choices[i] && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s%s", i == 0 ? "" : o->choices[i + 1] ? ", " : " or ",
                                o->choices[i], !o->computed && i == o->def.i ? " (default)" : "");
}

const char *opt_help(const opt *o, char *buf, size_t n) {
    static const char *const keys[] = {"{default}", "{choices}"};
    size_t len = 0;
    buf[0] = 0;
    for (const char *s = o->help; *s && len + 1 < n;) {
        int k = !strncmp(s, keys[0], strlen(keys[0])) ? 0 : !strncmp(s, keys[1], strlen(keys[1])) ? 1 : -1;
        char part[256];
        const char *t = part;
        if (k == 0) t = default_text(o, part, sizeof part);
        else if (k == 1) choices_text(o, part, sizeof part);
        else snprintf(part, sizeof part, "%c", *s);
        snprintf(buf + len, n - len, "%s", t);
        len += strlen(buf + len);
        s += k < 0 ? 1 : strlen(keys[k]);
    }
    return buf;
}

void print_help(const command *c) {
    printf("Usage: charrnn %s %s\n%s\n\nOptions:\n", c->name, c->usage, c->summary);
    for (int i = 0; i < c->nopts; i++) {
        const opt *o = &c->opts[i];
        char left[64];
        if (o->shrt)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->shrt, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        else snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        char help[512];
        printf("  %-26s %s\n", left, opt_help(o, help, sizeof help));
    }
    printf("  %-26s %s\n", "-h, --help", "show this help and exit");
}

int usage_error(const command *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "charrnn %s: ", c->name);
    say_v(prefix, fmt, ap);
    fprintf(stderr, "Try 'charrnn %s --help'.\n", c->name);
    va_end(ap);
    return 2;
}

/* Whole decimal number, nothing else: an optional sign, digits, no spaces, no trailing junk. Returns 0, -1
 * (not a whole number) or 1 (beyond 64 bits). */
int parse_whole(const char *s, long double *out) {
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

int parse_real(const char *s, double *out) {
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

int set_value(const command *c, opt *o, const char *shown, const char *v) {
    if (o->kind == O_STR) {
        *(const char **)o->dst = v;
        return 0;
    }
    if (o->kind == O_LIST) {
        opt_list *l = o->dst;
        if (l->n == OPT_LIST_MAX)
            return usage_error(c, "too many %s options (at most %d)", shown, OPT_LIST_MAX);
        l->v[l->n++] = v;
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
        if (e > 0)
            return usage_error(c, "invalid value '%s' for %s: must be %.0f..%s", v, shown, o->min,
                               max_text(o));
        if (o->kind == O_U64 && w >= o->min && w <= o->max) {   /* exact: a seed may use all 64 bits */
            *(uint64_t *)o->dst = strtoull(v[0] == '+' ? v + 1 : v, NULL, 10);
            return 0;
        }
        d = (double)w;
    }
    if (d < o->min || d > o->max || (o->min_open && d == o->min)) {
        if (o->min_open)
            return usage_error(c, "invalid value '%s' for %s: must be > %g and <= %g", v, shown, o->min,
                               o->max);
        if (o->max >= 1e15)
            return usage_error(c, "invalid value '%s' for %s: must be %.0f..%s", v, shown, o->min,
                               max_text(o));
        return usage_error(c, "invalid value '%s' for %s: must be %g..%g", v, shown, o->min, o->max);
    }
    if (o->kind == O_INT) *(int *)o->dst = (int)d;
    else if (o->kind == O_U64) *(uint64_t *)o->dst = (uint64_t)d;
    else *(double *)o->dst = d;
    return 0;
}

/* The optimal string alignment distance (edits: insert, delete, substitute, swap two neighbours) between
 * a[0..n) and b, capped at 9 (names longer than 63 bytes count as far). */
static int edit_distance(const char *a, size_t n, const char *b) {
    size_t m = strlen(b);
    if (n > 63 || m > 63) return 9;
    int d[64][64];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m] > 9 ? 9 : d[n][m];
}

const char *closest_name(const char *s, size_t n, const char *const *names, int count) {
    const char *best = NULL;
    int nprefix = 0, bestd = n < 6 ? 1 : 2, tie = 0;
    for (int i = 0; i < count; i++)
        if (n && strlen(names[i]) > n && !strncmp(names[i], s, n)) nprefix++, best = names[i];
    if (nprefix) return nprefix == 1 ? best : NULL;
    for (int i = 0; i < count; i++) {
        int d = edit_distance(s, n, names[i]);
        if (d < bestd || (d == bestd && !best)) tie = 0, bestd = d, best = names[i];
        else if (d == bestd) tie = 1;
    }
    return tie ? NULL : best;
}

/* The usage error for the unknown long option a (its name a[2..2+len)): with "; did you mean '--NAME'?" when
 * one of c's options is close (closest_name). Returns 2. */
static int unknown_option(const command *c, const char *a, size_t len) {
    const char *names[256];
    int n = 0;
    for (int k = 0; k < c->nopts && n < 255; k++) names[n++] = c->opts[k].name;
    names[n++] = "help";
    const char *near = closest_name(a + 2, len, names, n);
    if (near) return usage_error(c, "unknown option '%.*s'; did you mean '--%s'?", (int)(len + 2), a, near);
    return usage_error(c, "unknown option '%.*s'", (int)(len + 2), a);
}

/* Whether the table has -m/--model (a command that reads a checkpoint and takes no FILE). */
static int names_model_with_m(const command *c) {
    for (int k = 0; k < c->nopts; k++)
        if (c->opts[k].shrt == 'm' && !strcmp(c->opts[k].name, "model")) return 1;
    return 0;
}

/* The usage error for the positional argument a that c does not take: with a hint to -m when the command
 * reads its checkpoint with -m and a looks like one (an existing file, or a name ending in .ckpt).
 * Returns 2. */
static int unexpected_argument(const command *c, const char *a) {
    struct stat st;
    size_t n = strlen(a);
    int ckpt_like = (n > 5 && !strcmp(a + n - 5, ".ckpt")) || (stat(a, &st) == 0 && S_ISREG(st.st_mode));
    if (ckpt_like && names_model_with_m(c))
        return usage_error(c, "unexpected argument '%s': a checkpoint is named with -m (use -m %s)", a, a);
    return usage_error(c, "unexpected argument '%s'", a);
}

/* Parses argv[0..argc) (after the subcommand name) against c's table. Positionals go to pos[] (up to maxpos).
 * Returns 0, 2 (usage error, reported) or -1 (--help was printed: exit 0). */
int parse_args(const command *c, int argc, char **argv, const char **pos, int maxpos, int *npos) {
    *npos = 0;
    for (int i = 0; i < c->nopts; i++) {   /* the defaults, before any value is parsed (--help shows them) */
        opt *o = &c->opts[i];
        if (o->kind == O_INT || o->kind == O_CHOICE || o->kind == O_FLAG) o->def.i = *(const int *)o->dst;
        else if (o->kind == O_U64) o->def.u = *(const uint64_t *)o->dst;
        else if (o->kind == O_FLOAT) o->def.d = *(const double *)o->dst;
        else if (o->kind == O_STR) o->def.s = *(const char *const *)o->dst;
    }
    if (cli_describe) {
        cli_describe(c);
        return -1;
    }
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
            if (*npos >= maxpos) return unexpected_argument(c, a);
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
            if (!o) return unknown_option(c, a, len);
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

/* ============================================================================================ shared
 * helpers */
/* The default --threads: one per online CPU, 1..256. */
int online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

const char *input_name(const char *path, char *buf, size_t n) {
    if (!strcmp(path, "-")) snprintf(buf, n, "standard input");
    else snprintf(buf, n, "'%s'", path);
    return buf;
}

int finish_stdout(int rc) {
    int bad = fflush(stdout) != 0 || ferror(stdout), e = errno;   /* a write error's errno is still there */
    /* a stdout that was never open (EBADF) and took no write is not an error; cli_args_only (the option
     * fuzzer runs many commands in one process) keeps it open */
    if (!bad && !cli_args_only && fclose(stdout) != 0 && errno != EBADF) bad = 1, e = errno;
    if (!bad) return rc;
    fail("cannot write output: %s", strerror(e ? e : EIO));
    return rc ? rc : 1;
}

/* Reads a whole file ("-" = stdin) into a malloc'd buffer the caller frees. Returns 0 or 1 (reported). */
int read_all(const char *path, unsigned char **out, size_t *len) {
    int is_stdin = !strcmp(path, "-");
    char nb[4200];
    const char *name = input_name(path, nb, sizeof nb);
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return fail("cannot open %s: %s", name, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!is_stdin) fclose(f);
        return fail("cannot read %s: %s", name, strerror(EISDIR));
    }
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            if (!is_stdin) fclose(f);
            return fail("cannot read %s: out of memory", name);
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *grown = realloc(buf, cap * 2);
        if (!grown) free(buf);
        buf = grown;
        cap *= 2;
    }
    int bad = ferror(f), e = errno;
    if (!is_stdin) fclose(f);
    if (bad) {
        free(buf);
        return fail("cannot read %s: %s", name, strerror(e ? e : EIO));
    }
    *out = buf;
    *len = n;
    return 0;
}
