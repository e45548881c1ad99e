/*
 * cache/checksum.c: CRC-32 of stored bodies, through zlib (the only file that includes <zlib.h>).
 *
 * zlib's crc32 takes a uInt length, so longer buffers are fed in slices.
 */
#include <zlib.h>
#include "cache/checksum.h"

uint32_t cache_checksum(const void *data, size_t len)
{
    const Bytef *p = data;
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len != 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)crc;
}
