/* tls_cert.c - generate a self-signed certificate with OpenSSL 3 APIs. */
#include "tests/fakes/tls_cert.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static int write_pem(const char *path, EVP_PKEY *key, X509 *x)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return 0;
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_X509(f, x);
	if (fclose(f) != 0)
		ok = 0;
	return ok;
}

int fake_tls_cert_create(struct fake_tls_cert *out, struct bot_error *err)
{
	static long made; /* distinct serials within one process */
	const char *tmp = getenv("TMPDIR");
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	int rc = BOT_EIO;

	memset(out, 0, sizeof *out);
	snprintf(out->dir, sizeof out->dir, "%s/bot-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(out->dir)) {
		out->dir[0] = '\0';
		bot_error_set(err, BOT_EIO, "mkdtemp failed");
		goto out;
	}
	snprintf(out->cert, sizeof out->cert, "%s/cert.pem", out->dir);
	snprintf(out->key, sizeof out->key, "%s/key.pem", out->dir);

	key = EVP_EC_gen("P-256");
	x = X509_new();
	if (!key || !x) {
		rc = bot_error_set(err, BOT_ENOMEM, "key or certificate allocation failed");
		goto out;
	}
	if (!X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), (long)getpid() * 1000 + ++made) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
	    !X509_set_pubkey(x, key)) {
		bot_error_set(err, BOT_EIO, "certificate fields");
		goto out;
	}
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"localhost", -1, -1, 0) ||
	    !X509_set_issuer_name(x, name) ||
	    !add_ext(x, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
	    !add_ext(x, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(x, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1") ||
	    !X509_sign(x, key, EVP_sha256())) {
		bot_error_set(err, BOT_EIO, "certificate extensions or signature");
		goto out;
	}
	if (!write_pem(out->cert, NULL, x) || !write_pem(out->key, key, NULL)) {
		bot_error_set(err, BOT_EIO, "cannot write %s", out->dir);
		goto out;
	}
	rc = BOT_EOK;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	if (rc)
		fake_tls_cert_remove(out);
	return rc;
}

void fake_tls_cert_remove(struct fake_tls_cert *c)
{
	if (!c->dir[0])
		return;
	(void)unlink(c->cert);
	(void)unlink(c->key);
	(void)rmdir(c->dir);
	c->dir[0] = '\0';
}
