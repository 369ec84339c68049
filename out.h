/* out.h — output formatting for the command line: a one-line JSON object writer (info --json, train
 * --progress jsonl) and the one JSON and symbol escaper, the terminal's width (TIOCGWINSZ, re-read after
 * SIGWINCH), wrapping and shell quoting (the resume hint).
 * Must not know: any subcommand, the library. It writes only to the FILE it is given. */
#ifndef OUT_H
#define OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One JSON object on one line: json_begin, then one call per member, then json_end (writes "}\n"). Keys are
 * written as given (plain ASCII); strings are escaped. Non-finite numbers are written as null. */
typedef struct { FILE *f; int n; } json_obj;
void json_begin(json_obj *j, FILE *f);
void json_str(json_obj *j, const char *key, const char *v);   /* v NULL: null */
void json_num(json_obj *j, const char *key, double v);        /* the shortest text that reads back as v */
/* the shortest text that reads back as the float v */
void json_float(json_obj *j, const char *key, float v);
void json_u64(json_obj *j, const char *key, uint64_t v);
void json_bool(json_obj *j, const char *key, int v);
void json_end(json_obj *j);
/* s as a JSON string literal (quotes included): each character as json_char writes it (valid UTF-8 stays as it
 * is); each byte that is not part of a strictly valid UTF-8 sequence (a name that is not UTF-8) becomes
 * \ufffd, U+FFFD, so that the output is always UTF-8 and so JSON. */
void json_string(FILE *f, const char *s);
/* One character of a JSON string's body, c its code point and raw[0..k) its bytes: '"' and '\' escaped, the
 * control characters U+0000..U+001F as \n \t \r \b \f or \u00XX, DEL as \u007f, anything else as raw. The one
 * escaper of JSON text (json_string; sample --jsonl, which decodes UTF-8 itself). */
void json_char(FILE *f, uint32_t c, const unsigned char *raw, size_t k);

/* One event of a run (train's start, progress, validation, interruption, end): its fields, each declared once
 * with its JSON member and its text form, so that both writers (ev_json for --progress jsonl, ev_text for the
 * text lines) read the same list and a field cannot reach one form and miss the other. A field in one form
 * only says so where it is declared (key NULL: text only; text NULL: JSON only). */
typedef enum { EV_U64, EV_NUM, EV_FLOAT, EV_STR, EV_BOOL } ev_kind;
typedef struct {
    const char *key;    /* JSON member name; NULL: the text only */
    /* text form: a printf format with one conversion of the value (U64 %llu, NUM and FLOAT a double, STR
     * %s); a BOOL's text is written when it is true. NULL: JSON only */
    const char *text;
    const char *none;   /* text form of a null value (null set, NaN, NULL string, false BOOL); NULL: `text` */
    const char *shown;  /* if set, the value as the text shows it (the one %s of `text`) */
    ev_kind kind;
    int null;           /* JSON null (NUM and FLOAT: also when NaN; STR: also when NULL) */
    union { uint64_t u; double d; const char *s; int b; } v;   /* FLOAT: a float's value in d */
} ev_field;
#define EV_U64(k, t, val) {.key = (k), .text = (t), .kind = EV_U64, .v.u = (val)}
#define EV_NUM(k, t, val) {.key = (k), .text = (t), .kind = EV_NUM, .v.d = (val)}
#define EV_FLOAT(k, t, val) {.key = (k), .text = (t), .kind = EV_FLOAT, .v.d = (val)}
#define EV_STR(k, t, val) {.key = (k), .text = (t), .kind = EV_STR, .v.s = (val)}
#define EV_BOOL(k, t, val) {.key = (k), .text = (t), .kind = EV_BOOL, .v.b = (val)}
/* The event as one JSON object line on f: {"event":"NAME", then every field with a key, in order}. */
void ev_json(FILE *f, const char *name, const ev_field *e, int n);
/* The text forms of e[0..n) in order, concatenated into buf (n bytes), leaving out field i where bit i of
 * `skip` is set. Returns the length. */
size_t ev_text(char *buf, size_t size, const ev_field *e, int n, unsigned skip);

/* A symbol's bytes p[0..n) as one field of a tab-separated line (score --per-char, fill --top): a multi-byte
 * symbol (valid UTF-8) as it is; one byte as itself if it is printable ASCII, else \t \n \r \\ or \xHH (other
 * control bytes, DEL, raw bytes of invalid UTF-8, the bytes of a --bytes model). */
void put_symbol(FILE *f, const unsigned char *p, size_t n);

/* The width in columns of the terminal on fd (TIOCGWINSZ; if it gives none, COLUMNS; else 80), or 0 if fd is not
 * a terminal. The value is cached and re-read after a SIGWINCH once term_watch_resize() has installed the
 * handler. */
int term_cols(int fd);
/* Installs the SIGWINCH handler that makes term_cols re-read the width (no-op where SIGWINCH does not
 * exist). */
void term_watch_resize(void);

/* Writes the line s (no newline in it) and a newline to f, wrapped to cols - 1 columns at its spaces (a word
 * longer than a line stays whole), continuation lines indented by `indent` spaces; `whole` (NULL: none), a
 * point of s right after a space, starts a piece that runs to the end and is never split (a shell command:
 * on the current line if it fits, else from a new line). cols <= 0 writes s as it is. Columns are UTF-8
 * characters. */
void print_wrapped(FILE *f, const char *s, const char *whole, int cols, int indent);

/* Writes s to f so that a POSIX shell reads it back as the one word s: as it is if it is made only of safe
 * characters (letters, digits, and _ - . / , : = + @ %), else in single quotes ('\'' for a quote). */
void shell_word(FILE *f, const char *s);

#endif
