/* chain.c - the audit chain's canonical form (see chain.h). */
#include "bot/domain/chain.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static void hash_field(EVP_MD_CTX *ctx, const char *v)
{
	char len[32];
	if (!v) {
		EVP_DigestUpdate(ctx, "~;", 2);
		return;
	}
	size_t n = strlen(v);
	int k = snprintf(len, sizeof len, "%zu:", n);
	EVP_DigestUpdate(ctx, len, (size_t)k);
	EVP_DigestUpdate(ctx, v, n);
	EVP_DigestUpdate(ctx, ";", 1);
}

static void hash_int(EVP_MD_CTX *ctx, int64_t v, bool null)
{
	char buf[32];
	if (null) {
		hash_field(ctx, NULL);
		return;
	}
	snprintf(buf, sizeof buf, "%" PRId64, v);
	hash_field(ctx, buf);
}

int chain_hash(const struct store_audit_row *r, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = BOT_EOK;

	out[0] = '\0';
	if (!ctx)
		return BOT_ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = BOT_ENOMEM;
		goto out;
	}
	hash_field(ctx, r->prev_hash);
	hash_int(ctx, r->seq, false);
	hash_int(ctx, (int64_t)r->gate_id, r->gate_id == 0);
	hash_int(ctx, r->at, false);
	hash_field(ctx, r->actor);
	hash_field(ctx, r->kind);
	hash_field(ctx, r->from_state);
	hash_field(ctx, r->to_state);
	hash_field(ctx, r->detail);
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
		rc = BOT_ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}
