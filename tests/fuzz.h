/* tests/fuzz.h — what every fuzz target (tests/fuzz_NAME.c) defines, and the one way a target reports a broken
 * property: fuzz_fail prints the reason and aborts, which libFuzzer and the sanitizers both record as a crash.
 * A target is one LLVMFuzzerTestOneInput; built with clang -fsanitize=fuzzer it is a libFuzzer program (make fuzz),
 * built with tests/fuzz_main.c it replays files and directories of inputs (test.sh, any compiler). */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs the target on data[0..size) (borrowed). Returns 0; a broken property aborts. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_fail(...) do { fprintf(stderr, "fuzz: "); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

#endif
