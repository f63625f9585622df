/* tls_cert.h - a throwaway self-signed certificate for TLS tests.
 *
 * fake_tls_cert_create() makes a fresh temp directory holding cert.pem and
 * key.pem: an EC P-256 key and a self-signed certificate for CN=localhost
 * with subjectAltName DNS:localhost, IP:127.0.0.1, valid from an hour ago
 * for a day. The certificate is its own trust anchor (CA:TRUE), so it can be
 * given to a client as a CA file and to a server as its certificate.
 */
#ifndef TESTS_FAKES_TLS_CERT_H
#define TESTS_FAKES_TLS_CERT_H

#include "bot/base/error.h"

struct fake_tls_cert {
	char dir[256];
	char cert[300]; /* dir/cert.pem */
	char key[300];  /* dir/key.pem */
};

/* 0, or BOT_EIO / BOT_ENOMEM with detail in err. */
int fake_tls_cert_create(struct fake_tls_cert *out, struct bot_error *err);
/* Remove the files and the directory (ignores what is already gone). */
void fake_tls_cert_remove(struct fake_tls_cert *c);

#endif
