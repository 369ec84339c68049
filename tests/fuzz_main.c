/* tests/fuzz_main.c — the replay main of every fuzz target when it is built without libFuzzer (any compiler):
 * `tests/fuzz_NAME PATH...` runs LLVMFuzzerTestOneInput once on each file, and on each regular file of each
 * directory (not recursive), then prints "fuzz_NAME: N inputs" to stdout. Exit 0, or 1 if a path cannot be read;
 * a broken property aborts inside the target (the sanitizers report it). */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Reads the regular file `path` into a malloc'd buffer (size+1 bytes; the caller frees). NULL if it cannot. */
static unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return NULL; }
    *size = n;
    return buf;
}

/* Runs the target on one file. 0, or 1 after reporting. */
static int run_file(const char *path) {
    size_t n = 0;
    unsigned char *buf = slurp(path, &n);
    if (!buf) { fprintf(stderr, "fuzz: cannot read '%s': %s\n", path, strerror(errno ? errno : EIO)); return 1; }
    /* An exact-size copy, so that ASan sees any read past the input's end. */
    unsigned char *exact = malloc(n ? n : 1);
    if (!exact) { free(buf); return 1; }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

int main(int argc, char **argv) {
    int rc = 0;
    long count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { fprintf(stderr, "fuzz: cannot read '%s': %s\n", argv[i], strerror(errno)); rc = 1; continue; }
        if (!S_ISDIR(st.st_mode)) { rc |= run_file(argv[i]); count++; continue; }
        DIR *d = opendir(argv[i]);
        if (!d) { fprintf(stderr, "fuzz: cannot read '%s': %s\n", argv[i], strerror(errno)); rc = 1; continue; }
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
            char *p = malloc(len);
            if (!p) { rc = 1; break; }
            snprintf(p, len, "%s/%s", argv[i], e->d_name);
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) { rc |= run_file(p); count++; }
            free(p);
        }
        closedir(d);
    }
    const char *name = strrchr(argv[0], '/');
    printf("%s: %ld inputs\n", name ? name + 1 : argv[0], count);
    return rc;
}
