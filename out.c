/* out.c — output formatting for the command line (see out.h): the JSON object writer, the terminal width and
 * shell quoting.
 * Must not know: any subcommand, the library. */
#define _DEFAULT_SOURCE   /* TIOCGWINSZ and SIGWINCH (not in strict POSIX.1-2008) */
#define _POSIX_C_SOURCE 200809L
#include "out.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void json_begin(json_obj *j, FILE *f) {
    j->f = f;
    j->n = 0;
    fputc('{', f);
}

/* The separator and "key": of the next member. */
static void key(json_obj *j, const char *k) {
    fprintf(j->f, "%s\"%s\":", j->n++ ? "," : "", k);
}

void json_char(FILE *f, uint32_t c, const unsigned char *raw, size_t k) {
    const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\t' ? "\\t" :
                      c == '\r' ? "\\r" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
    if (esc) fputs(esc, f);
    else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", (unsigned)c);
    else fwrite(raw, 1, k, f);
}

/* The length (2..4) of the strictly valid UTF-8 sequence at p (no overlong form, no surrogate, at most
 * U+10FFFF), or 0 if the lead byte p[0] (>= 0x80) does not start one. Reads no further than a NUL. */
static size_t utf8_seq(const unsigned char *p) {
    size_t k = p[0] >= 0xc2 && p[0] <= 0xdf   ? 2
               : p[0] >= 0xe0 && p[0] <= 0xef ? 3
               : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                              : 0;
    if (!k) return 0;
    unsigned lo = 0x80, hi = 0xbf;   /* the second byte's range */
    if (p[0] == 0xe0) lo = 0xa0;
    else if (p[0] == 0xed) hi = 0x9f;
    else if (p[0] == 0xf0) lo = 0x90;
    else if (p[0] == 0xf4) hi = 0x8f;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < k; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return k;
}

void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = *p < 0x80 ? 1 : utf8_seq(p);
        if (k) json_char(f, *p, p, k);   /* the code point matters only below 0x80: the escapes */
        else fputs("\\ufffd", f);       /* a byte of no valid sequence: U+REPLACEMENT CHARACTER */
        p += k ? k : 1;
    }
    fputc('"', f);
}

void put_symbol(FILE *f, const unsigned char *p, size_t n) {
    if (n > 1) { fwrite(p, 1, n, f); return; }
    switch (p[0]) {
    case '\t': fputs("\\t", f); return;
    case '\n': fputs("\\n", f); return;
    case '\r': fputs("\\r", f); return;
    case '\\': fputs("\\\\", f); return;
    default:
        if (p[0] < 0x20 || p[0] >= 0x7f) fprintf(f, "\\x%02x", p[0]);
        else fputc(p[0], f);
    }
}

void json_str(json_obj *j, const char *k, const char *v) {
    key(j, k);
    if (v) json_string(j->f, v);
    else fputs("null", j->f);
}

void json_num(json_obj *j, const char *k, double v) {
    key(j, k);
    if (!isfinite(v)) { fputs("null", j->f); return; }
    char buf[40];
    for (int prec = 6; prec <= 17; prec++) {   /* the shortest that reads back exactly */
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, j->f);
}

void json_float(json_obj *j, const char *k, float v) {
    key(j, k);
    if (!isfinite(v)) { fputs("null", j->f); return; }
    char buf[40];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    fputs(buf, j->f);
}

void json_u64(json_obj *j, const char *k, uint64_t v) {
    key(j, k);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_bool(json_obj *j, const char *k, int v) {
    key(j, k);
    fputs(v ? "true" : "false", j->f);
}

void json_end(json_obj *j) { fputs("}\n", j->f); }

/* ---------------------------------------------------------------------------------------- events */
/* Whether e has no value: null set, a NaN number, a NULL string or a false BOOL (its text is then `none`). */
static int ev_null(const ev_field *e) {
    return e->null || ((e->kind == EV_NUM || e->kind == EV_FLOAT) && isnan(e->v.d)) ||
           (e->kind == EV_STR && !e->v.s) || (e->kind == EV_BOOL && !e->v.b);
}

void ev_json(FILE *f, const char *name, const ev_field *e, int n) {
    json_obj j;
    json_begin(&j, f);
    json_str(&j, "event", name);
    for (int i = 0; i < n; i++) {
        if (!e[i].key) continue;
        if (e[i].null) json_str(&j, e[i].key, NULL);
        else if (e[i].kind == EV_U64) json_u64(&j, e[i].key, e[i].v.u);
        else if (e[i].kind == EV_NUM) json_num(&j, e[i].key, e[i].v.d);
        else if (e[i].kind == EV_FLOAT) json_float(&j, e[i].key, (float)e[i].v.d);
        else if (e[i].kind == EV_STR) json_str(&j, e[i].key, e[i].v.s);
        else json_bool(&j, e[i].key, e[i].v.b);
    }
    json_end(&j);
}

size_t ev_text(char *buf, size_t size, const ev_field *e, int n, unsigned skip) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len + 1 < size; i++) {
        const ev_field *x = &e[i];
        if (!x->text || (skip >> i & 1)) continue;
        char *p = buf + len;
        size_t room = size - len;
        if (ev_null(x) && (x->none || x->kind == EV_BOOL)) snprintf(p, room, "%s", x->none ? x->none : "");
        else if (x->shown) snprintf(p, room, x->text, x->shown);
        else if (x->kind == EV_U64) snprintf(p, room, x->text, (unsigned long long)x->v.u);
        else if (x->kind == EV_STR) snprintf(p, room, x->text, x->v.s);
        else if (x->kind == EV_BOOL) snprintf(p, room, "%s", x->text);
        else snprintf(p, room, x->text, x->v.d);
        len += strlen(p);
    }
    return len;
}

/* ---------------------------------------------------------------------------------------- terminal */
static volatile sig_atomic_t resized = 1;   /* 1: read the width at the next term_cols */

#ifdef SIGWINCH
static void on_winch(int sig) {
    (void)sig;
    resized = 1;
}
#endif

void term_watch_resize(void) {
#ifdef SIGWINCH
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_winch;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGWINCH, &sa, NULL);
#endif
}

/* The width when the terminal does not say: COLUMNS if it is a number of 1..9999, else 80. */
static int fallback_cols(void) {
    const char *e = getenv("COLUMNS");
    char *end;
    long c = e && *e ? strtol(e, &end, 10) : 0;
    return c >= 1 && c <= 9999 && !*end ? (int)c : 80;
}

int term_cols(int fd) {
    static int cols;
    if (resized) {
        resized = 0;
        struct winsize ws;
        if (!isatty(fd)) cols = 0;
        else cols = ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : fallback_cols();
    }
    return cols;
}

/* The columns of s[0..n): its UTF-8 characters (continuation bytes take none). */
static int text_cols(const char *s, size_t n) {
    int c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

void print_wrapped(FILE *f, const char *s, const char *whole, int cols, int indent) {
    int width = cols - 1, col = 0;
    if (cols <= 0 || width <= indent + 8) {   /* unknown or absurdly narrow: one line */
        fprintf(f, "%s\n", s);
        return;
    }
    /* pieces are the words between single spaces, and `whole` to the end: lines break only between pieces */
    for (int first = 1; first || *s; first = 0) {
        const char *e = s;
        if (s == whole) e = s + strlen(s);
        else
            while (*e && *e != ' ' && e != whole) e++;
        int len = text_cols(s, (size_t)(e - s));
        if (col > indent && col + 1 + len > width) {   /* the piece does not fit: a new, indented line */
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (!first) {
            fputc(' ', f);
            col++;
        }
        fwrite(s, 1, (size_t)(e - s), f);
        col += len;
        s = *e == ' ' ? e + 1 : e;
    }
    fputc('\n', f);
}

/* ---------------------------------------------------------------------------------------- shell */
void shell_word(FILE *f, const char *s) {
    int safe = *s != 0;
    for (const char *p = s; *p && safe; p++)
        safe = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               strchr("_-./,:=+@%", *p);
    if (safe) { fputs(s, f); return; }
    fputc('\'', f);
    for (const char *p = s; *p; p++) {
        if (*p == '\'') fputs("'\\''", f);
        else fputc(*p, f);
    }
    fputc('\'', f);
}
