/* rnn_rng.h — private to the library: the splitmix64 random-number generator, the one owner of it. The model
 * (initialisation, dropout masks), the trainer and the generator (drawing a symbol) include it.
 * Must not know: anything of the model; it is leaf code that any library file may include. */
#ifndef RNN_RNG_H
#define RNN_RNG_H

#include <stdint.h>

/* splitmix64: 64 bits of state, passes BigCrush, trivially saved and restored. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline uint64_t rng_next(uint64_t *s) { return mix64(*s += 0x9E3779B97F4A7C15ull); }
static inline double rng_uniform(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }   /* [0, 1) */

#endif
