/* SHA-512 (FIPS 180-4, as sha512.c cites by section). One concern: hashing for Ed25519's challenge k = H(R || A || M). */
#ifndef LEDGER_SHA512_H
#define LEDGER_SHA512_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t h[8];
    uint64_t total_lo, total_hi; /* message length in bytes, 128-bit */
    uint8_t buf[128];
    size_t buflen;
} ledger_sha512_ctx;

void ledger_sha512_init(ledger_sha512_ctx *ctx);
void ledger_sha512_update(ledger_sha512_ctx *ctx, const uint8_t *data, size_t len);
void ledger_sha512_final(ledger_sha512_ctx *ctx, uint8_t out[64]);
void ledger_sha512(uint8_t out[64], const uint8_t *data, size_t len);

#endif
