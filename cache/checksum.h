/*
 * cache/checksum.h: the checksum of stored bodies (CRC-32, from zlib: the one file that includes <zlib.h>).
 *
 * Bodies are checksummed when they are queued for storage and verified when a body written before the
 * last start of the store is read (see cache/store.h), so that a torn or flipped page never reaches a
 * client as content.
 */
#ifndef CACHE_CHECKSUM_H
#define CACHE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/** CRC-32 (ISO-HDLC, as gzip) of `len` bytes at `data`. Pure; any thread. */
uint32_t cache_checksum(const void *data, size_t len);

#endif
