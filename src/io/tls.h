/* tls.h: the listener's TLS context (OpenSSL): certificate chain and key, versions, ciphers,
 * ALPN, session tickets; rebuilt on reload. The per-connection glue is conn_tls.c. */
#ifndef CHORUS_TLS_H
#define CHORUS_TLS_H

#include <openssl/ssl.h>

#include "util/config.h"
#include "util/log.h"

/* The TLS 1.2 cipher list when --tls-ciphers is empty: forward-secret ECDHE with AEAD
 * ciphers only (TLS 1.3's suites are OpenSSL's defaults, all AEAD). */
#define TLS_DEFAULT_CIPHERS                                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Builds a server context from cfg's tls_cert, tls_key and tls_ciphers (borrowed): TLS 1.2
 * and 1.3, ALPN http/1.1, stateless session tickets (no server-side session cache), record
 * buffers released while idle. With prev (borrowed; NULL at start), the new context takes
 * over its ticket keys, so sessions resumed before a reload still resume. Returns 0 with a
 * new context in *out (the caller frees it with SSL_CTX_free), or -1 with a log line naming
 * the file or option at fault. */
int tls_ctx_new(const chorus_config_t *cfg, SSL_CTX *prev, log_t *log, SSL_CTX **out);

#endif
