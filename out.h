/* out.h — output formatting for the command line: a one-line JSON object writer (info --json, train --progress
 * jsonl), the terminal's width (TIOCGWINSZ, re-read after SIGWINCH), wrapping and shell quoting (the resume hint).
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
void json_float(json_obj *j, const char *key, float v);       /* the shortest text that reads back as the float v */
void json_u64(json_obj *j, const char *key, uint64_t v);
void json_bool(json_obj *j, const char *key, int v);
void json_end(json_obj *j);
/* s as a JSON string literal (quotes included): control characters, quotes and backslashes escaped; other bytes
 * as they are (UTF-8 stays UTF-8). */
void json_string(FILE *f, const char *s);

/* The width in columns of the terminal on fd, or 0 if fd is not a terminal or its width is unknown. The value is
 * cached and re-read after a SIGWINCH once term_watch_resize() has installed the handler. */
int term_cols(int fd);
/* Installs the SIGWINCH handler that makes term_cols re-read the width (no-op where SIGWINCH does not exist). */
void term_watch_resize(void);

/* Writes the line s (no newline in it) and a newline to f, wrapped to cols - 1 columns at the spaces that follow a
 * ',' or ';' (a piece longer than a line stays whole), continuation lines indented by `indent` spaces; cols <= 0
 * writes it as one line. Counts bytes as columns (the lines it is used for are ASCII). */
void print_wrapped(FILE *f, const char *s, int cols, int indent);

/* Writes s to f so that a POSIX shell reads it back as the one word s: as it is if it is made only of safe
 * characters (letters, digits, and _ - . / , : = + @ %), else in single quotes ('\'' for a quote). */
void shell_word(FILE *f, const char *s);

#endif
