/* rnn_crc.c — the CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): the one owner of it, so that the trainer
 * (the corpus CRC a checkpoint stores) and the checkpoint code (the file CRC) both call here and not each other.
 * Slicing-by-8: eight bytes per step through eight 256-entry tables, the same values as the bitwise definition
 * (tests/test_ckpt.c's crc32_slicing compares the two). The tables are computed once per process
 * (pthread_once) and only read afterwards: constants, not state.
 * Must not know: anything else; it depends on rnn.h only. */
#include "rnn.h"

#include <pthread.h>

#define CRC_POLY 0xEDB88320u   /* x^32 + x^26 + ... + 1, bit-reversed */

static uint32_t crc_table[8][256];   /* [k][b]: the CRC of byte b followed by k zero bytes */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Fills crc_table: table 0 by the bitwise definition, table k from table k - 1 (one more zero byte). */
static void crc_init(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (CRC_POLY & (0u - (c & 1u)));
        crc_table[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++)
            crc_table[k][b] = (crc_table[k - 1][b] >> 8) ^ crc_table[0][crc_table[k - 1][b] & 0xFF];
}

uint32_t rnn_crc32(uint32_t crc, const void *buf, size_t n) {
    const unsigned char *p = buf;
    const uint32_t (*t)[256] = (const uint32_t (*)[256])crc_table;
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {   /* bytes assembled one by one: the same on any byte order */
        uint32_t a = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        crc = t[7][a & 0xFF] ^ t[6][(a >> 8) & 0xFF] ^ t[5][(a >> 16) & 0xFF] ^ t[4][a >> 24] ^
              t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    while (n--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}
