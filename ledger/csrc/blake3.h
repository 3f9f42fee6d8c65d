/* Portable C11 BLAKE3 (hash, keyed_hash, derive_key; extendable output).
 *
 * Implements the BLAKE3 specification: J. O'Connor, J.-P. Aumasson, S. Neves, Z. Wilcox-O'Hearn,
 * "BLAKE3: one function, fast everywhere" (2020), also draft-aumasson-blake3 (IETF, 2024). The
 * incremental hasher is our own layout of the specification's tree (see the struct below).
 * Inputs of at most one block (64 bytes) take a path that costs exactly one compression and
 * touches no hasher state, because Merkle nodes (two 32-byte digests under a fixed key) are the
 * hottest input in the ledger.
 */
#ifndef LEDGER_BLAKE3_H
#define LEDGER_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LEDGER_BLAKE3_KEY_LEN 32
#define LEDGER_BLAKE3_OUT_LEN 32
#define LEDGER_BLAKE3_BLOCK_LEN 64
#define LEDGER_BLAKE3_CHUNK_LEN 1024
/* Inputs are below 2^64 bytes, so below 2^54 chunks: a count of finished chunks has at most 54
 * binary digits, one subtree level each. */
#define LEDGER_BLAKE3_MAX_DEPTH 54

/* Domain flags from the specification; exposed because merkle.c drives the compression
 * function directly to skip byte (de)serialisation between tree levels. */
enum {
    LEDGER_BLAKE3_CHUNK_START = 1u << 0,
    LEDGER_BLAKE3_CHUNK_END = 1u << 1,
    LEDGER_BLAKE3_PARENT = 1u << 2,
    LEDGER_BLAKE3_ROOT = 1u << 3,
    LEDGER_BLAKE3_KEYED_HASH = 1u << 4,
    LEDGER_BLAKE3_DERIVE_KEY_CONTEXT = 1u << 5,
    LEDGER_BLAKE3_DERIVE_KEY_MATERIAL = 1u << 6,
};

/* Incremental state. chunks_done counts the chunks finished so far (each known not to be the
 * input's last); it is also the counter of the chunk being filled, and its binary digits say
 * which complete subtrees are waiting: bit h set means level_cv[h] holds the chaining value of
 * 2^h chunks. The newest block of the current chunk stays in held_block, uncompressed, until more
 * input shows whether it ends the input. */
typedef struct {
    uint32_t key_words[8];      /* CV every chunk and parent starts from */
    uint32_t mode_flags;        /* KEYED_HASH / DERIVE_KEY_*, or 0: not the per-block flags */
    uint64_t chunks_done;
    uint32_t chunk_chain[8];    /* CV after the compressed blocks of the current chunk */
    uint16_t chunk_fill;        /* bytes of the current chunk taken in, held_block included */
    uint8_t held_len;           /* bytes in held_block, 0..64 */
    uint8_t held_block[LEDGER_BLAKE3_BLOCK_LEN];
    uint32_t level_cv[LEDGER_BLAKE3_MAX_DEPTH][8];
} ledger_blake3_hasher;

/* Incremental interface. finalize does not modify the hasher: more input may follow, and a
 * finalize may be repeated with any output length (earlier bytes are a prefix of later ones). */
void ledger_blake3_hasher_init(ledger_blake3_hasher *self);
void ledger_blake3_hasher_init_keyed(ledger_blake3_hasher *self, const uint8_t key[LEDGER_BLAKE3_KEY_LEN]);
/* The context is raw bytes (callers pass UTF-8); it need not be NUL-terminated. */
void ledger_blake3_hasher_init_derive_key(ledger_blake3_hasher *self, const void *context, size_t context_len);
void ledger_blake3_hasher_update(ledger_blake3_hasher *self, const void *input, size_t input_len);
void ledger_blake3_hasher_finalize(const ledger_blake3_hasher *self, uint8_t *out, size_t out_len);

/* One-shot helpers; out_len may be any length, including 0. */
void ledger_blake3_hash(const void *input, size_t input_len, uint8_t *out, size_t out_len);
void ledger_blake3_keyed_hash(const uint8_t key[LEDGER_BLAKE3_KEY_LEN], const void *input, size_t input_len,
                              uint8_t *out, size_t out_len);
void ledger_blake3_derive_key(const void *context, size_t context_len, const void *material, size_t material_len,
                              uint8_t *out, size_t out_len);

/* Lower-level pieces for callers that keep digests as words (merkle.c, blake3_many.c). */

/* The IV, and the message word order of each of the seven rounds (the spec's permutation,
 * composed in advance). */
extern const uint32_t ledger_blake3_iv[8];
extern const uint8_t ledger_blake3_schedule[7][16];

/* Little-endian key bytes to the eight words the compression function takes as its CV. */
void ledger_blake3_key_words(const uint8_t key[LEDGER_BLAKE3_KEY_LEN], uint32_t words[8]);
/* The eight words back to the 32 little-endian digest bytes. */
void ledger_blake3_words_to_bytes(const uint32_t words[8], uint8_t out[32]);
/* One compression, returning only the 8-word chaining value (the first half of the output). */
void ledger_blake3_compress_cv(const uint32_t cv[8], const uint32_t msg[16], uint64_t counter, uint32_t block_len,
                               uint32_t flags, uint32_t out[8]);
/* 32-byte root digest, as words, of input hashed from key words under mode flags (0 for plain
 * hash with the IV as key, KEYED_HASH for keyed). One compression for input_len <= 64. */
void ledger_blake3_hash_words(const uint32_t key_words[8], uint32_t mode_flags, const void *input, size_t input_len,
                              uint32_t out[8]);

#ifdef __cplusplus
}
#endif

#endif /* LEDGER_BLAKE3_H */
