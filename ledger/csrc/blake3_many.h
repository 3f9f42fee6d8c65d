/* Many independent one-block BLAKE3 keyed hashes at once (BLAKE3 specification, O'Connor et al.
 * 2020; the single-chunk, single-block case): every Merkle leaf of at most 64 bytes
 * and every Merkle node is exactly one compression under a fixed key, so a level of the tree is
 * a batch of identical, independent compressions. An AVX2 kernel does eight at a time (one per
 * 32-bit lane), chosen at run time by CPU detection; the portable path (blake3.c) always stays and
 * is what the tests compare against. */
#ifndef LEDGER_BLAKE3_MANY_H
#define LEDGER_BLAKE3_MANY_H

#include <stddef.h>
#include <stdint.h>

/* Digest words of `count` inputs of `length` bytes (at most 64, a multiple of 4) that lie
 * `stride` bytes apart (a multiple of 4), keyed-hashed under `key`. out[i] may overlap input i'
 * only for i' >= i (a level of a tree is reduced in place: node i is written where its left child
 * was read). Host byte order must be little-endian (checked by the caller). */
void ledger_blake3_many(const uint32_t key[8], const uint8_t *inputs, size_t stride, size_t length, size_t count,
                        uint32_t (*out)[8]);

/* enable = 1 / 0 switches the AVX2 path on / off (when available), -1 only asks; returns whether
 * it is on. */
int ledger_blake3_simd(int enable);
int ledger_blake3_simd_available(void);

#endif
