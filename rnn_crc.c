/* rnn_crc.c — the CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): the one owner of it, so that the trainer
 * (the corpus CRC a checkpoint stores) and the checkpoint code (the file CRC) both call here and not each other.
 * Must not know: anything else; it depends on rnn.h only. */
#include "rnn.h"

uint32_t rnn_crc32(uint32_t crc, const void *buf, size_t n) {
    const unsigned char *p = buf;
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}
