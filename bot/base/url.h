/* url.h - one rule for URLs without TLS (prefix url_).
 *
 * http:// and ws:// carry tokens and signed requests in clear text, so they
 * are allowed to loopback hosts only: localhost, 127.0.0.0/8 and ::1 (a
 * fake Slack or moto_server in tests, a local proxy). Anywhere else the
 * URL must be https:// or wss://. The config (slack.api_url,
 * aws.endpoint_url, SLACK_API_URL), the AWS client (AWS_ENDPOINT_URL,
 * AWS_ENDPOINT_URL_<SERVICE>) and the Socket Mode client (ws://) all apply
 * this rule, and say it in the same words: URL_NO_TLS_RULE after the
 * scheme, as in "http:// (no TLS) is allowed to loopback hosts only".
 */
#ifndef BOT_URL_H
#define BOT_URL_H

#include <stdbool.h>

#define URL_NO_TLS_RULE "(no TLS) is allowed to loopback hosts only"

/* True for "localhost", an IPv4 address in 127.0.0.0/8, and ::1 (bare or
 * in brackets, or as ::ffff:127.x.y.z); compared without resolving. */
bool url_is_loopback_host(const char *host);

/* Check an http(s) URL as curl will read it (its own URL parser picks the
 * host, so "http://127.0.0.1:80@example.com/" is example.com). Returns
 * BOT_EOK for https://, and for http:// to a loopback host; BOT_EPERM for
 * http:// to any other host; BOT_EINVAL for anything that is not an http
 * or https URL with a host; BOT_ENOMEM. */
int url_check_http(const char *url);

#endif
