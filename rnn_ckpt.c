/* rnn_ckpt.c — the checkpoint file: writing it atomically, reading it with every check.
 *
 * The format (version 3; versions 1 and 2 are read too) is specified byte by byte in docs/format.md
 * ("Checkpoint format (version 3)"); this file is its only implementation. Every field is written and read
 * explicitly, little-endian, whatever the host; nothing is a struct dump. The reader checks, in this order: magic,
 * version, minimum size, header size, flags, every dimension's range, the training settings, the parameter
 * count, the vocabulary-table size, the exact file size, the CRC-32, then the vocabulary table and that every
 * value is finite; each failure names the file and the check. rnn_load is that list, one named function per
 * check.
 *
 * Owns: rnn_save (refusing targets that are not regular files, writing through symlinks, a locked temporary),
 * rnn_save_check, rnn_save_clean (stale temporaries of exactly rnn_save's pattern), rnn_load, rnn_load_mem (the
 * same checks on bytes in memory: what tests/fuzz_ckpt.c feeds).
 * Must not know: how the model computes (it sees the flat parameter buffer and struct rnn_resume of
 * rnn_impl.h, never rnn_net.h), nor how the trainer uses the state. Nothing in the library calls it. */
#define _XOPEN_SOURCE 700   /* POSIX 2008 with realpath */
#include "rnn_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "CHRN"
#define VERSION 3u          /* written; the reader also reads 1 and 2 (fields added later are 0 there) */
#define ORIGIN_FIXED 20u     /* the origin record's bytes before the name */
#define HEADER_SIZE 128u
#define TRAIN_HEADER_SIZE 92u      /* version 3 */
#define TRAIN_HEADER_SIZE_V2 72u   /* versions 1 and 2: up to T_SECONDS */
#define FLAG_TRAINING 1u   /* a training-state section follows the parameters */
#define FLAG_BIDIR 2u      /* version 2: a bidirectional model */
#define FLAG_UTF8 4u       /* version 2: the corpus was valid UTF-8 (rnn_vocab.utf8) */
#define FLAG_BF16 8u       /* version 2: bfloat16 products (rnn_config.precision); older readers refuse the bit */
#define FLAG_AVERAGED 16u  /* version 3, with bit 0: the parameters are the averaged weights, the training
                            * state holds the trained ones (rnn_schedule.ema > 0) */

/* Byte offsets of the fixed-size records' fields: the one list that the writer (write_body) and the reader
 * (the checks below) both use. u32/f32 fields take 4 bytes, u64/f64 fields 8; the comments name the types. */
enum {   /* the header (HEADER_SIZE bytes) */
    H_MAGIC = 0, H_VERSION = 4, H_HEADER_SIZE = 8, H_FLAGS = 12,              /* char[4], u32 x 3 */
    H_CELL = 16, H_LAYERS = 20, H_HIDDEN = 24, H_VOCAB_SIZE = 28, H_UNIT = 32, /* u32 */
    H_BATCH = 36, H_SEQ = 40, H_OPTIM = 44,                                   /* u32 */
    H_LR = 48, H_LR_DECAY = 52, H_CLIP = 56, H_DROPOUT = 60, H_VAL_FRAC = 64, H_FORGET_BIAS = 68,   /* f32 */
    H_SEED = 72, H_NPARAMS = 80, H_STEP = 88, H_CHARS = 96, H_SECONDS = 104,  /* u64 x 4, f64 */
    H_LAST_VAL = 112, H_BEST_VAL = 116,                                       /* f32 */
    H_VOCAB_BYTES = 120, H_ORIGIN_BYTES = 124                                 /* u32; version 1: 124 is 0 */
};
enum {   /* the origin record (ORIGIN_FIXED bytes, then the name) */
    O_STEP = 0, O_VOCAB_SIZE = 8, O_BEST_VAL = 12, O_NAME_LEN = 16            /* u64, u32, f32, u32 */
};
enum {   /* the training-state header (TRAIN_HEADER_SIZE bytes); T_SHARDS: 0 (one shard, as written before it
          * existed) or the --shards K of the run, 2..65536 */
    T_CHUNK = 0, T_EPOCH = 8, T_RNG = 16, T_LR = 24, T_MOMENTS = 28,          /* u64 x 3, f32, u32 */
    T_N_IDS = 32, T_IDS_CRC = 40, T_SHARDS = 44,                              /* u64, u32, u32 */
    T_STEPS = 48, T_EPOCHS = 56, T_SECONDS = 64,                              /* u64, f64, f64 */
    T_SCHEDULE = 72, T_FLOOR = 76, T_WARMUP = 80, T_EMA = 88   /* version 3: u32, f32, u64, f32 */
};
_Static_assert(H_ORIGIN_BYTES + 4 == HEADER_SIZE && O_NAME_LEN + 4 == ORIGIN_FIXED &&
               T_SECONDS + 8 == TRAIN_HEADER_SIZE_V2 && T_EMA + 4 == TRAIN_HEADER_SIZE,
               "a record's last field ends where the record does");

/* ------------------------------------------------------------------------------------------ little-endian */
static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint64_t d2u(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static double u2d(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

/* ------------------------------------------------------------------------------------------ writing */
typedef struct {
    FILE *f;
    uint32_t crc;
    int failed;
} writer;

static void wbytes(writer *w, const void *p, size_t n) {
    if (w->failed || n == 0) return;
    w->crc = rnn_crc32(w->crc, p, n);
    if (fwrite(p, 1, n, w->f) != n) w->failed = 1;
}

static void wfloats(writer *w, const float *x, size_t n) {
    unsigned char buf[4096];
    while (n) {
        size_t k = n < sizeof buf / 4 ? n : sizeof buf / 4;
        for (size_t i = 0; i < k; i++) put32(buf + 4 * i, f2u(x[i]));
        wbytes(w, buf, 4 * k);
        x += k;
        n -= k;
    }
}

static size_t vocab_table_size(const rnn_vocab *v) {
    size_t s = 0;
    unsigned char b[4];
    for (int i = 0; i < v->size; i++) s += 1 + (size_t)rnn_symbol_bytes(v, i, b);
    return s;
}

static void write_body(writer *w, const rnn_model *m, const struct rnn_resume *r) {
    const rnn_config *c = &m->cfg;
    unsigned char h[HEADER_SIZE] = {0};
    memcpy(h + H_MAGIC, MAGIC, 4);
    put32(h + H_VERSION, VERSION);
    put32(h + H_HEADER_SIZE, HEADER_SIZE);
    put32(h + H_FLAGS, (r ? FLAG_TRAINING : 0) | (c->bidir ? FLAG_BIDIR : 0) | (m->vocab.utf8 ? FLAG_UTF8 : 0) |
                  (c->precision == RNN_PREC_BF16 ? FLAG_BF16 : 0) | (r && r->raw ? FLAG_AVERAGED : 0));
    put32(h + H_CELL, (uint32_t)c->cell);
    put32(h + H_LAYERS, (uint32_t)c->layers);
    put32(h + H_HIDDEN, (uint32_t)c->hidden);
    put32(h + H_VOCAB_SIZE, (uint32_t)m->vocab.size);
    put32(h + H_UNIT, (uint32_t)m->vocab.unit);
    put32(h + H_BATCH, (uint32_t)c->batch);
    put32(h + H_SEQ, (uint32_t)c->seq);
    put32(h + H_OPTIM, (uint32_t)c->optim);
    put32(h + H_LR, f2u(c->lr));
    put32(h + H_LR_DECAY, f2u(c->lr_decay));
    put32(h + H_CLIP, f2u(c->clip));
    put32(h + H_DROPOUT, f2u(c->dropout));
    put32(h + H_VAL_FRAC, f2u(c->val_frac));
    put32(h + H_FORGET_BIAS, f2u(c->forget_bias));
    put64(h + H_SEED, c->seed);
    put64(h + H_NPARAMS, m->nparams);
    put64(h + H_STEP, m->prog.step);
    put64(h + H_CHARS, m->prog.chars);
    put64(h + H_SECONDS, d2u(m->prog.seconds));
    put32(h + H_LAST_VAL, f2u(m->prog.last_val));
    put32(h + H_BEST_VAL, f2u(m->prog.best_val));
    put32(h + H_VOCAB_BYTES, (uint32_t)vocab_table_size(&m->vocab));
    const rnn_origin *o = rnn_model_origin(m);
    size_t nlen = o ? strlen(o->name) : 0;
    put32(h + H_ORIGIN_BYTES, o ? (uint32_t)(ORIGIN_FIXED + nlen) : 0);
    wbytes(w, h, sizeof h);
    for (int i = 0; i < m->vocab.size; i++) {
        unsigned char e[5];
        e[0] = (unsigned char)rnn_symbol_bytes(&m->vocab, i, e + 1);
        wbytes(w, e, 1 + (size_t)e[0]);
    }
    if (o) {   /* the origin record (docs/format.md "Origin record") */
        unsigned char g[ORIGIN_FIXED];
        put64(g + O_STEP, o->step);
        put32(g + O_VOCAB_SIZE, (uint32_t)o->vocab_size);
        put32(g + O_BEST_VAL, f2u(o->best_val));
        put32(g + O_NAME_LEN, (uint32_t)nlen);
        wbytes(w, g, sizeof g);
        wbytes(w, o->name, nlen);
    }
    wfloats(w, m->params, m->nparams);
    if (r) {
        unsigned char t[TRAIN_HEADER_SIZE] = {0};
        put64(t + T_CHUNK, r->chunk);
        put64(t + T_EPOCH, r->epoch);
        put64(t + T_RNG, r->rng);
        put32(t + T_LR, f2u(r->lr));
        put32(t + T_SHARDS, r->shards > 1 ? (uint32_t)r->shards : 0u);
        put32(t + T_MOMENTS, (uint32_t)r->nmoments);
        put64(t + T_N_IDS, r->n_ids);
        put32(t + T_IDS_CRC, r->ids_crc);
        put64(t + T_STEPS, r->budget.steps);
        put64(t + T_EPOCHS, d2u(r->budget.epochs));
        put64(t + T_SECONDS, d2u(r->budget.seconds));
        put32(t + T_SCHEDULE, (uint32_t)r->sched.kind);
        put32(t + T_FLOOR, f2u(r->sched.floor));
        put64(t + T_WARMUP, r->sched.warmup);
        put32(t + T_EMA, f2u(r->raw ? r->sched.ema : 0));
        wbytes(w, t, sizeof t);
        if (r->nmoments >= 2) wfloats(w, r->m1, m->nparams);
        if (r->nmoments >= 1) wfloats(w, r->m2, m->nparams);
        wfloats(w, r->state, r->nstate);
        if (r->raw) wfloats(w, r->raw, m->nparams);
    }
    unsigned char crc[4];
    put32(crc, w->crc);
    wbytes(w, crc, 4);
}

/* The file rnn_save really writes for `path`, malloc'd (the caller frees): path itself when it does not exist or is a
 * regular file; for a symlink, its final target if that is a regular file (the link is kept, the target replaced).
 * NULL, with the reason in err, for anything else: a directory, FIFO, device or socket, or a symlink that dangles
 * or ends at one of those. A path that cannot be examined (EACCES, ENOTDIR) is returned as is: the write then
 * fails with the system's reason. */
static const char *kind_of(mode_t m) {
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" :
           S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "something else";
}

static char *save_target(const char *path, rnn_err err) {
    struct stat st;
    if (lstat(path, &st) != 0 || S_ISREG(st.st_mode)) {
        char *t = strdup(path);
        if (!t) snprintf(err, RNN_ERRLEN, "cannot write '%s': out of memory", path);
        return t;
    }
    if (!S_ISLNK(st.st_mode)) {
        snprintf(err, RNN_ERRLEN, "refusing to write '%s': it is %s, not a regular file", path, kind_of(st.st_mode));
        return NULL;
    }
    char *t = realpath(path, NULL);
    if (!t || stat(t, &st) != 0) {
        if (!t && errno != ENOENT) snprintf(err, RNN_ERRLEN, "cannot write '%s': %s", path, strerror(errno));
        else snprintf(err, RNN_ERRLEN, "refusing to write '%s': it is a dangling symlink", path);
        free(t);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, RNN_ERRLEN, "refusing to write '%s': it is a symlink to %s, not a regular file", path,
                 kind_of(st.st_mode));
        free(t);
        return NULL;
    }
    return t;
}

int rnn_save_check(const char *path, rnn_err err) {
    char *target = save_target(path, err);
    free(target);
    return target ? 0 : -1;
}

/* Whether `name` is exactly base + ".tmp." + six letters or digits: the name mkstemp gives rnn_save's temporary. */
static int is_own_temp(const char *name, const char *base) {
    size_t n = strlen(base);
    if (strncmp(name, base, n) || strncmp(name + n, ".tmp.", 5) || strlen(name + n + 5) != 6) return 0;
    for (const char *p = name + n + 5; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) return 0;
    return 1;
}

/* Removes the temporary `file` if it is a regular file that no running rnn_save holds (its write lock); 1 if
 * removed, else 0. */
static int remove_if_stale(const char *file) {
    int fd = open(file, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return 0;
    struct stat st;
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int gone = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fcntl(fd, F_SETLK, &lk) == 0 && unlink(file) == 0;
    close(fd);
    return gone;
}

int rnn_save_clean(const char *path) {
    char *target = save_target(path, (char[RNN_ERRLEN]){0});
    if (!target) return 0;
    char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    char *dirname = slash ? target : ".";
    if (slash) *slash = 0;
    DIR *d = opendir(slash && slash == target ? "/" : dirname);
    int removed = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!is_own_temp(e->d_name, base)) continue;
        size_t len = strlen(dirname) + strlen(e->d_name) + 2;
        char *file = malloc(len);
        if (!file) break;
        snprintf(file, len, "%s/%s", dirname, e->d_name);
        removed += remove_if_stale(file);
        free(file);
    }
    if (d) closedir(d);
    free(target);
    return removed;
}

/* Writes the checkpoint into the open temporary fd (consumed) and syncs it. 0 or an errno value. */
static int write_temp(int fd, const char *target, const rnn_model *m, const rnn_trainer *t, FILE **fp) {
    struct stat st;   /* keep the mode of the file being replaced; a new file gets 0644 */
    if (fchmod(fd, stat(target, &st) == 0 ? (st.st_mode & 07777) : 0644) != 0) { /* not fatal: mkstemp's 0600 */ }
    /* Held until the file is closed: rnn_save_clean leaves a locked temporary alone (a save in progress). */
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &lk) != 0) { /* not fatal: only the cleaning of a concurrent run could then race */ }
    writer w = {*fp = fdopen(fd, "wb"), 0, 0};
    if (!w.f) {
        int e = errno;
        close(fd);
        return e;
    }
    struct rnn_resume r;
    if (t) rnn__trainer_snapshot(t, &r);
    write_body(&w, m, t ? &r : NULL);
    int e = 0;
    if (w.failed || fflush(w.f) != 0) e = errno ? errno : EIO;
    if (!e && fsync(fileno(w.f)) != 0) e = errno;
    return e;
}

/* Creates rnn_save's temporary for `target` (target + ".tmp." + six characters, beside it, the pattern
 * rnn_save_clean knows) and returns its descriptor, with its malloc'd name in *tmp (the caller frees it); or -1
 * with "cannot write 'path': reason" in err and *tmp NULL. */
static int make_temp(const char *path, const char *target, char **tmp, rnn_err err) {
    size_t len = strlen(target);
    *tmp = malloc(len + 16);
    if (!*tmp) { snprintf(err, RNN_ERRLEN, "cannot write '%s': out of memory", path); return -1; }
    memcpy(*tmp, target, len);
    memcpy(*tmp + len, ".tmp.XXXXXX", 12);
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        snprintf(err, RNN_ERRLEN, "cannot write '%s': %s", path, strerror(errno));
        free(*tmp);
        *tmp = NULL;
    }
    return fd;
}

int rnn_save_probe(const char *path, rnn_err err) {
    char *target = save_target(path, err), *tmp;
    if (!target) return -1;
    int fd = make_temp(path, target, &tmp, err);
    free(target);
    if (fd < 0) return -1;
    close(fd);
    unlink(tmp);
    free(tmp);
    return 0;
}

int rnn_save(const char *path, const rnn_model *m, const rnn_trainer *t, rnn_err err) {
    char *target = save_target(path, err);
    if (!target) return -1;
    char *tmp;
    int fd = make_temp(path, target, &tmp, err);
    if (fd < 0) {
        free(target);
        return -1;
    }
    FILE *f = NULL;
    int e = write_temp(fd, target, m, t, &f);
    /* Renamed while still open (and locked), so that no rnn_save_clean can take it for stale first. After a
     * successful fsync, closing cannot lose data. */
    if (!e && rename(tmp, target) != 0) e = errno;
    if (f) fclose(f);
    if (e) {
        unlink(tmp);
        snprintf(err, RNN_ERRLEN, "cannot write '%s': %s", path, strerror(e));
        free(tmp);
        free(target);
        return -1;
    }
    /* Make the rename itself durable: sync the directory (best effort; not every filesystem allows it). */
    char *slash = strrchr(tmp, '/');
    const char *dir = ".";
    if (slash) { *slash = 0; dir = slash == tmp ? "/" : tmp; }
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    free(tmp);
    free(target);
    return 0;
}

/* ------------------------------------------------------------------------------------------ reading */
/* Reads up to `want` bytes from f into buf; returns how many (fewer only at end of file or on error). */
static size_t read_up_to(FILE *f, unsigned char *buf, size_t want) {
    size_t n = 0;
    while (n < want) {
        size_t k = fread(buf + n, 1, want - n, f);
        if (k == 0) break;
        n += k;
    }
    return n;
}

static void rfloats(float *dst, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = u2f(get32(p + 4 * i));
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Parses the vocabulary table of V entries in exactly `size` bytes; each entry must be exactly one symbol of
 * `unit` whose canonical bytes are the entry itself, in strictly increasing order. */
static int parse_vocab(rnn_vocab *v, const unsigned char *p, size_t size, int V, int unit) {
    v->unit = unit;
    v->size = V;
    v->sym = malloc(sizeof(uint32_t) * (size_t)V);
    if (!v->sym) return -1;
    size_t off = 0;
    for (int i = 0; i < V; i++) {
        if (off >= size) return -1;
        unsigned n = p[off++];
        if (n < 1 || n > 4 || off + n > size) return -1;
        uint32_t s;
        unsigned char back[4];
        if ((unsigned)rnn__next_symbol(unit, p + off, n, &s) != n || (unsigned)rnn__value_bytes(s, back) != n ||
            memcmp(back, p + off, n) || (i > 0 && s <= v->sym[i - 1]))
            return -1;
        v->sym[i] = s;
        off += n;
    }
    return off == size ? 0 : -1;
}

/* ---- rnn_load, as a sequence of named checks that mirror docs/format.md's "Reader's checks, in order" one
 * to one.
 * Each returns 0, or -1 after writing the reason into err. */
typedef struct {
    const char *path;
    FILE *f;               /* the source: a file, or (f == NULL) the bytes mem[0..memlen) */
    const unsigned char *mem;
    size_t memlen, mempos;
    unsigned char head[HEADER_SIZE + 4];
    const unsigned char *buf;   /* head, then (from check 10) the whole file: `owned`, or mem itself */
    unsigned char *owned;  /* the malloc'd copy of the file buf points into, or NULL */
    size_t len;            /* bytes in buf */
    uint32_t version, flags, V, unit, vsize, obytes;   /* obytes: origin record size, 0 if none */
    rnn_config c;
    uint64_t np;
    size_t nstate;         /* floats of carried state the header implies */
    int nm;                /* moment buffers of the optimizer */
    double want;           /* the exact file size the header implies */
} loading;

#define FAIL(...) do { snprintf(err, RNN_ERRLEN, __VA_ARGS__); return -1; } while (0)

/* Reads up to `want` more bytes of the source into buf; returns how many (fewer only at its end or on error). */
static size_t src_read(loading *ld, unsigned char *buf, size_t want) {
    if (ld->f) return read_up_to(ld->f, buf, want);
    size_t k = ld->memlen - ld->mempos < want ? ld->memlen - ld->mempos : want;
    if (k) memcpy(buf, ld->mem + ld->mempos, k);
    ld->mempos += k;
    return k;
}

/* A read error of the source (never for memory): 0, or -1 after writing it into err. */
static int src_error(const loading *ld, rnn_err err) {
    if (ld->f && ferror(ld->f)) FAIL("cannot read '%s': %s", ld->path, strerror(errno ? errno : EIO));
    return 0;
}

/* The whole source's size for the "unexpected bytes" message, or `dflt` when it is not known (a pipe). */
static double src_size(const loading *ld, double dflt) {
    struct stat st;
    if (!ld->f) return (double)ld->memlen;
    return fstat(fileno(ld->f), &st) == 0 && S_ISREG(st.st_mode) ? (double)st.st_size : dflt;
}

/* 1. The file is at least 8 bytes and starts with the magic. */
static int check_magic(const loading *ld, rnn_err err) {
    if (ld->len < 8 || memcmp(ld->buf + H_MAGIC, MAGIC, 4) != 0)
        FAIL("'%s' is not a charrnn checkpoint (bad magic)", ld->path);
    return 0;
}

/* 2. The version is 1, 2 or 3 (a higher one was written by a newer charrnn). */
static int check_version(loading *ld, rnn_err err) {
    uint32_t version = ld->version = get32(ld->buf + H_VERSION);
    if (version < 1 || version > VERSION)
        FAIL("'%s' is checkpoint format version %u; this charrnn reads versions 1 to %u%s", ld->path, (unsigned)version,
             VERSION, version > VERSION ? " (written by a newer charrnn)" : "");
    return 0;
}

/* 3. The file holds at least the header and the CRC. */
static int check_min_size(const loading *ld, rnn_err err) {
    if (ld->len < HEADER_SIZE + 4)
        FAIL("'%s' is truncated (%zu bytes; the header alone needs %u)", ld->path, ld->len, HEADER_SIZE + 4);
    return 0;
}

/* 4. header_size is 128. */
static int check_header_size(const loading *ld, rnn_err err) {
    if (get32(ld->buf + H_HEADER_SIZE) != HEADER_SIZE)
        FAIL("'%s' has a bad header size %u", ld->path, (unsigned)get32(ld->buf + H_HEADER_SIZE));
    return 0;
}

/* 5. flags has no unknown bits (version 1: only bit 0; version 2: also bit 1, bidirectional, bit 2, UTF-8, and
 *    bit 3, bf16 products; version 3: also bit 4, averaged weights, which needs bit 0). */
static int check_flags(loading *ld, rnn_err err) {
    ld->flags = get32(ld->buf + H_FLAGS);
    uint32_t known = FLAG_TRAINING | (ld->version >= 2 ? FLAG_BIDIR | FLAG_UTF8 | FLAG_BF16 : 0) |
                     (ld->version >= 3 ? FLAG_AVERAGED : 0);
    if (ld->flags & ~known) FAIL("'%s' has unknown flags 0x%x", ld->path, (unsigned)ld->flags);
    if ((ld->flags & FLAG_AVERAGED) && !(ld->flags & FLAG_TRAINING))
        FAIL("'%s' has flags 0x%x: averaged weights without a training state", ld->path, (unsigned)ld->flags);
    return 0;
}

/* 6. cell, layers, hidden, vocab_size and unit are in range. */
static int check_shape(loading *ld, rnn_err err) {
    const unsigned char *buf = ld->buf;
    uint32_t cell = get32(buf + H_CELL), layers = get32(buf + H_LAYERS), hidden = get32(buf + H_HIDDEN),
             V = get32(buf + H_VOCAB_SIZE), unit = get32(buf + H_UNIT);
    const char *path = ld->path;
    if (cell > RNN_CELL_GRU) FAIL("'%s' has an unknown cell kind %u", path, (unsigned)cell);
    if (layers < 1 || layers > RNN_MAX_LAYERS) FAIL("'%s' has a bad layer count %u", path, (unsigned)layers);
    if (hidden < 1 || hidden > RNN_MAX_HIDDEN) FAIL("'%s' has a bad hidden size %u", path, (unsigned)hidden);
    if (V < 1 || V > RNN_MAX_VOCAB) FAIL("'%s' has a bad vocabulary size %u", path, (unsigned)V);
    if (unit > RNN_UNIT_BYTE || (unit == RNN_UNIT_BYTE && V > 256))
        FAIL("'%s' has a bad symbol unit %u", path, (unsigned)unit);
    ld->c.cell = (int)cell;
    ld->c.layers = (int)layers;
    ld->c.hidden = (int)hidden;
    ld->V = V;
    ld->unit = unit;
    return 0;
}

/* 7. batch, seq, optim, lr, lr_decay, clip, dropout, val_frac and forget_bias are in range. */
static int check_settings(loading *ld, rnn_err err) {
    const unsigned char *buf = ld->buf;
    uint32_t batch = get32(buf + H_BATCH), seq = get32(buf + H_SEQ), optim = get32(buf + H_OPTIM);
    const char *path = ld->path;
    if (batch < 1 || batch > 65536) FAIL("'%s' has a bad batch size %u", path, (unsigned)batch);
    if (seq < 1 || seq > 65536) FAIL("'%s' has a bad sequence length %u", path, (unsigned)seq);
    if (optim > RNN_OPT_SGD) FAIL("'%s' has an unknown optimizer %u", path, (unsigned)optim);
    ld->c = (rnn_config){.cell = ld->c.cell, .layers = ld->c.layers, .hidden = ld->c.hidden, .batch = (int)batch,
                         .seq = (int)seq, .optim = (int)optim, .lr = u2f(get32(buf + H_LR)),
                         .lr_decay = u2f(get32(buf + H_LR_DECAY)), .clip = u2f(get32(buf + H_CLIP)),
                         .dropout = u2f(get32(buf + H_DROPOUT)), .val_frac = u2f(get32(buf + H_VAL_FRAC)),
                         .forget_bias = u2f(get32(buf + H_FORGET_BIAS)), .seed = get64(buf + H_SEED),
                         .bidir = (ld->flags & FLAG_BIDIR) ? 1 : 0,
                         .precision = (ld->flags & FLAG_BF16) ? RNN_PREC_BF16 : RNN_PREC_FP32};
    rnn_err why;
    if (rnn_config_check(&ld->c, why)) FAIL("'%s' has bad training settings (%.100s)", path, why);
    return 0;
}

/* 8. nparams equals the count the shape implies. */
static int check_param_count(loading *ld, rnn_err err) {
    ld->np = get64(ld->buf + H_NPARAMS);
    size_t want_np = rnn_param_count(&ld->c, (int)ld->V);
    if (!want_np || ld->np != want_np)
        FAIL("'%s' says %llu parameters, but its shape needs %zu", ld->path, (unsigned long long)ld->np, want_np);
    return 0;
}

/* 9. vocab_bytes is within 2V..5V, and origin_bytes (version 2; 0 in version 1) is 0 or holds a 1..4096-byte name. */
static int check_vocab_size(loading *ld, rnn_err err) {
    ld->vsize = get32(ld->buf + H_VOCAB_BYTES);
    if (ld->vsize < 2 * ld->V || ld->vsize > 5 * ld->V)
        FAIL("'%s' has a bad vocabulary table size %u", ld->path, (unsigned)ld->vsize);
    ld->obytes = ld->version >= 2 ? get32(ld->buf + H_ORIGIN_BYTES) : 0;
    if (ld->obytes && (ld->obytes <= ORIGIN_FIXED || ld->obytes > ORIGIN_FIXED + RNN_MAX_ORIGIN_NAME))
        FAIL("'%s' has a bad origin record size %u", ld->path, (unsigned)ld->obytes);
    return 0;
}

/* 10. The file size is exactly what the header implies. Only now is the body allocated and read: exactly `want`
 * bytes, plus one more read to see whether anything follows. */
static int check_file_size(loading *ld, rnn_err err) {
    const rnn_config *c = &ld->c;
    const char *path = ld->path;
    /* Exact size, computed in double so that no field can overflow it. */
    ld->nstate = (size_t)c->layers * c->batch * c->hidden * rnn_state_per_unit(c->cell);
    ld->nm = rnn_optim_moments(c->optim);
    double want = (double)HEADER_SIZE + ld->vsize + ld->obytes + 4.0 * ld->np + 4;
    if (ld->flags & FLAG_TRAINING)
        want += (ld->version >= 3 ? TRAIN_HEADER_SIZE : TRAIN_HEADER_SIZE_V2) + 4.0 * ld->nm * ld->np +
                4.0 * ld->nstate + ((ld->flags & FLAG_AVERAGED) ? 4.0 * ld->np : 0);
    ld->want = want;
    if (want > 1e12) FAIL("'%s' says it is %.0f bytes long", path, want);
    if (!ld->f) {   /* memory (or a mapped file): read in place, no copy */
        ld->buf = ld->mem;
        ld->len = ld->memlen;
        if ((double)ld->len < want) FAIL("'%s' is truncated (%zu bytes; its header says %.0f)", path, ld->len, want);
        if ((double)ld->len > want) FAIL("'%s' has %.0f unexpected bytes after its end", path, (double)ld->len - want);
        return 0;
    }
    unsigned char *buf = ld->owned = malloc((size_t)want + 1);
    if (!buf) FAIL("cannot read '%s': out of memory", path);
    memcpy(buf, ld->head, ld->len);
    ld->buf = buf;
    ld->len += src_read(ld, buf + ld->len, (size_t)want + 1 - ld->len);
    if (src_error(ld, err)) return -1;
    if ((double)ld->len < want) FAIL("'%s' is truncated (%zu bytes; its header says %.0f)", path, ld->len, want);
    if ((double)ld->len > want) FAIL("'%s' has %.0f unexpected bytes after its end", path, src_size(ld, want + 1) - want);
    return 0;
}

/* 11. The CRC-32 matches. */
static int check_crc(const loading *ld, rnn_err err) {
    uint32_t stored = get32(ld->buf + ld->len - 4), crc = rnn_crc32(0, ld->buf, ld->len - 4);
    if (stored != crc)
        FAIL("'%s' is corrupt (CRC-32 %08x, expected %08x)", ld->path, (unsigned)crc, (unsigned)stored);
    return 0;
}

/* 12. The vocabulary table is V well-formed entries for the unit, strictly increasing, filling vocab_bytes, and
 * with unit 0 and flags bit 2 (valid UTF-8) it holds no raw byte; the model is allocated with it. */
static int read_vocab(const loading *ld, rnn_model **m, rnn_err err) {
    rnn_vocab v;
    int bad = parse_vocab(&v, ld->buf + HEADER_SIZE, ld->vsize, (int)ld->V, (int)ld->unit);
    v.utf8 = (ld->flags & FLAG_UTF8) != 0;
    if (!bad && v.utf8 && v.unit == RNN_UNIT_CHAR && v.sym[v.size - 1] >= RNN_RAWBYTE) bad = 1;
    if (bad) {
        rnn_vocab_free(&v);
        FAIL("'%s' has a corrupt vocabulary table", ld->path);
    }
    *m = rnn__model_alloc(&ld->c, &v, err);
    rnn_vocab_free(&v);
    return *m ? 0 : -1;
}

/* 12 (continued). The origin record, if any: a name of exactly the remaining bytes with no NUL, a vocabulary size
 * in range, and a best validation loss that is NaN or finite. */
static int read_origin(const loading *ld, rnn_model *m, rnn_err err) {
    if (!ld->obytes) return 0;
    const unsigned char *g = ld->buf + HEADER_SIZE + ld->vsize;
    uint32_t nlen = get32(g + O_NAME_LEN), V = get32(g + O_VOCAB_SIZE);
    float best = u2f(get32(g + O_BEST_VAL));
    if (nlen != ld->obytes - ORIGIN_FIXED || memchr(g + ORIGIN_FIXED, 0, nlen) || V < 1 || V > RNN_MAX_VOCAB ||
        isinf(best))
        FAIL("'%s' has a corrupt origin record", ld->path);
    if (!(m->origin.name = malloc(nlen + 1))) FAIL("cannot read '%s': out of memory", ld->path);
    memcpy(m->origin.name, g + ORIGIN_FIXED, nlen);
    m->origin.name[nlen] = 0;
    m->origin.step = get64(g + O_STEP);
    m->origin.vocab_size = (int)V;
    m->origin.best_val = best;
    return 0;
}

/* 13. Every parameter is finite (and the training time in the header is in range). */
static int read_params(const loading *ld, rnn_model *m, rnn_err err) {
    const unsigned char *buf = ld->buf;
    rfloats(m->params, buf + HEADER_SIZE + ld->vsize + ld->obytes, ld->np);
    if (!all_finite(m->params, ld->np)) FAIL("'%s' holds non-finite parameters", ld->path);
    m->prog.step = get64(buf + H_STEP);
    m->prog.chars = get64(buf + H_CHARS);
    m->prog.seconds = u2d(get64(buf + H_SECONDS));
    m->prog.last_val = u2f(get32(buf + H_LAST_VAL));
    m->prog.best_val = u2f(get32(buf + H_BEST_VAL));
    if (!(m->prog.seconds >= 0 && m->prog.seconds < 1e15)) FAIL("'%s' has a bad training time", ld->path);
    return 0;
}

/* 14. If the training state is read: moments matches the optimizer, shards is at most 65536, the budget is in
 * range, lr is positive and finite, every moment and state value is finite, and (version 3) the schedule is valid,
 * its ema positive exactly when flags bit 4 is set, and every trained weight finite. On success *out owns the
 * state. */
static int read_training_state(const loading *ld, rnn_resume **out, rnn_err err) {
    const char *path = ld->path;
    uint64_t np = ld->np;
    int nm = ld->nm;
    const unsigned char *p = ld->buf + HEADER_SIZE + ld->vsize + ld->obytes + 4 * np;
    if (get32(p + T_MOMENTS) != (uint32_t)nm)
        FAIL("'%s' has optimizer state that does not match its optimizer", path);
    rnn_resume *r = *out = calloc(1, sizeof *r);
    if (!r) FAIL("cannot read '%s': out of memory", path);
    r->chunk = get64(p + T_CHUNK);
    r->epoch = get64(p + T_EPOCH);
    r->rng = get64(p + T_RNG);
    r->lr = u2f(get32(p + T_LR));
    r->shards = get32(p + T_SHARDS) > 1 ? (int)get32(p + T_SHARDS) : 1;
    if (get32(p + T_SHARDS) > 65536) FAIL("'%s' has a bad shard count %u", path, (unsigned)get32(p + T_SHARDS));
    r->nmoments = nm;
    r->n_ids = get64(p + T_N_IDS);
    r->ids_crc = get32(p + T_IDS_CRC);
    r->budget.steps = get64(p + T_STEPS);
    r->budget.epochs = u2d(get64(p + T_EPOCHS));
    r->budget.seconds = u2d(get64(p + T_SECONDS));
    r->nparams = np;
    if (!(r->budget.epochs >= 0 && r->budget.epochs < 1e15 && r->budget.seconds >= 0 && r->budget.seconds < 1e15))
        FAIL("'%s' has a bad training budget", path);
    rnn_schedule_default(&r->sched);
    if (ld->version >= 3) {
        r->sched = (rnn_schedule){.kind = (int)(get32(p + T_SCHEDULE) & 0xFFFF),
                                  .floor = u2f(get32(p + T_FLOOR)), .warmup = get64(p + T_WARMUP),
                                  .ema = u2f(get32(p + T_EMA))};
        rnn_err why;
        if (get32(p + T_SCHEDULE) > 0xFFFF || rnn_schedule_check(&r->sched, why))
            FAIL("'%s' has a bad learning-rate schedule (%.100s)", path, why);
        if ((r->sched.ema > 0) != ((ld->flags & FLAG_AVERAGED) != 0))
            FAIL("'%s' has an ema of %g %s averaged weights (flags bit 4)", path, r->sched.ema,
                 r->sched.ema > 0 ? "without" : "with");
    }
    p += ld->version >= 3 ? TRAIN_HEADER_SIZE : TRAIN_HEADER_SIZE_V2;
    r->nstate = ld->nstate;
    if ((nm >= 2 && !(r->m1 = malloc(4 * np))) || (nm >= 1 && !(r->m2 = malloc(4 * np))) ||
        !(r->state = malloc(4 * (ld->nstate ? ld->nstate : 1))))
        FAIL("cannot read '%s': out of memory", path);
    if (nm >= 2) { rfloats(r->m1, p, np); p += 4 * np; }
    if (nm >= 1) { rfloats(r->m2, p, np); p += 4 * np; }
    rfloats(r->state, p, ld->nstate);
    p += 4 * ld->nstate;
    if (r->sched.ema > 0) {
        if (!(r->raw = malloc(4 * np))) FAIL("cannot read '%s': out of memory", path);
        rfloats(r->raw, p, np);
    }
    if (!(r->lr > 0) || !isfinite(r->lr) || (r->m1 && !all_finite(r->m1, np)) ||
        (r->m2 && !all_finite(r->m2, np)) || !all_finite(r->state, ld->nstate) ||
        (r->raw && !all_finite(r->raw, np)))
        FAIL("'%s' holds non-finite training state", path);
    return 0;
}
#undef FAIL

/* The checks 1-14 on the source ld (a file or memory), in docs/format.md's order ("Reader's checks, in
 * order"). The header first: nothing is allocated for the body until the header has said how big it must be
 * (check 10), so a huge or endless file (/dev/zero) is refused, not read. */
static int load_from(loading *ld, rnn_model **out, rnn_resume **resume, rnn_err err) {
    rnn_model *m = NULL;
    rnn_resume *r = NULL;
    *out = NULL;
    if (resume) *resume = NULL;
    ld->len = src_read(ld, ld->head, sizeof ld->head);
    ld->buf = ld->head;
    if (src_error(ld, err) || check_magic(ld, err) || check_version(ld, err) || check_min_size(ld, err) ||
        check_header_size(ld, err) || check_flags(ld, err) || check_shape(ld, err) || check_settings(ld, err) ||
        check_param_count(ld, err) || check_vocab_size(ld, err) || check_file_size(ld, err) || check_crc(ld, err) ||
        read_vocab(ld, &m, err) || read_origin(ld, m, err) || read_params(ld, m, err) ||
        ((ld->flags & FLAG_TRAINING) && resume && read_training_state(ld, &r, err))) {
        free(ld->owned);
        rnn_model_free(m);
        rnn_resume_free(r);
        return -1;
    }
    free(ld->owned);
    *out = m;
    if (resume) *resume = r;
    return 0;
}

/* A regular file of at least MAP_MIN bytes is mapped and read in place (its pages come from the page cache as
 * the CRC reaches them) instead of copied into a buffer first: a 40 MB checkpoint loads in a third of the time.
 * Anything else (a pipe, a device, a file mmap refuses) is read as a stream; both give the same checks and
 * messages. A mapped file that another program truncates while it is read can end the process (SIGBUS), as it
 * would any program reading through a mapping; rnn_save never does that (it renames a new file into place). */
#define MAP_MIN (1u << 20)

int rnn_load(const char *path, rnn_model **out, rnn_resume **resume, rnn_err err) {
    loading ld = {.path = path};
    *out = NULL;
    if (resume) *resume = NULL;
    ld.f = fopen(path, "rb");
    if (!ld.f) { snprintf(err, RNN_ERRLEN, "cannot open '%s': %s", path, strerror(errno)); return -1; }
    struct stat st;
    void *map = MAP_FAILED;
    if (fstat(fileno(ld.f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)MAP_MIN &&
        (uint64_t)st.st_size <= (uint64_t)SIZE_MAX)
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fileno(ld.f), 0);
    if (map != MAP_FAILED) {
        fclose(ld.f);
        ld.f = NULL;
        ld.mem = map;
        ld.memlen = (size_t)st.st_size;
    }
    int rc = load_from(&ld, out, resume, err);
    if (map != MAP_FAILED) munmap(map, (size_t)st.st_size);
    else fclose(ld.f);
    return rc;
}

int rnn_load_mem(const void *data, size_t len, const char *name, rnn_model **out, rnn_resume **resume, rnn_err err) {
    loading ld = {.path = name, .mem = data, .memlen = len};
    return load_from(&ld, out, resume, err);
}
