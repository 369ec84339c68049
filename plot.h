/* plot.h — the parser of `charrnn plot` (cmd_plot.c): a `train --log` CSV into loss curves. It works on a
 * byte buffer, so that a fuzz target can feed it any bytes without files or main(). */
#ifndef PLOT_H
#define PLOT_H

#include <stddef.h>

typedef struct { double x, y; } plot_pt;
typedef struct { plot_pt *p; size_t n, cap; } plot_series;

/* What plot_parse found wrong. */
enum { PLOT_OK = 0, PLOT_NOT_LOG, PLOT_BAD_ROW, PLOT_BAD_VAL, PLOT_NO_DATA, PLOT_OOM };

/* Parses the log in buf[0..len) (any bytes) into the training and validation curves (step, loss) and, if lr is
 * not NULL, the learning rate (step, lr; a row whose lr is not a finite number >= 0 gives no point), which the
 * caller zero-initialises and frees (free(s.p)) whatever the result. The training curve holds break points (y
 * NaN) where a new run starts: a row with an empty train_loss (train writes one at the start of each run), a
 * step that is not after the previous one, a repeated header line. Lines are read as fgets would into 512
 * bytes. Returns PLOT_OK or what is wrong; *lineno gets the line of a PLOT_BAD_ROW or PLOT_BAD_VAL. */
int plot_parse(const char *buf, size_t len, plot_series *train, plot_series *val, plot_series *lr,
               size_t *lineno);

#endif
