/* tls.c: the listener's TLS context: files, protocol versions, ciphers, ALPN, tickets. */
#include "io/tls.h"

#include <string.h>

#include <openssl/err.h>

/* Logs what OpenSSL says went wrong, after what, and clears its error queue. */
static int fail(log_t *log, const char *what, const char *arg)
{
    char msg[256] = "";
    unsigned long e = ERR_peek_last_error();
    if (e) ERR_error_string_n(e, msg, sizeof(msg));
    log_error(log, "tls: %s %s: %s", what, arg, e ? msg : "failed");
    ERR_clear_error();
    return -1;
}

/* ALPN: HTTP/1.1 is the only protocol spoken; a client offering only others (h2) gets no
 * ALPN answer, and then speaks HTTP/1.1 or goes. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* OpenSSL's passphrase callback: no passphrase (0 bytes), so an encrypted key is refused. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *ud)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)ud;
    return 0;
}

int tls_ctx_new(const chorus_config_t *cfg, SSL_CTX *prev, log_t *log, SSL_CTX **out)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return fail(log, "cannot create a context", "");
    /* An encrypted key fails to load instead of OpenSSL asking for its passphrase on the
     * terminal, which would stop the loop (at start, or at a SIGHUP reload). */
    SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Idle connections give their record buffers back (tens of KiB each); the memory BIOs
     * never block, so partial writes are never needed. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    /* Resumption by stateless tickets only: a cache would be memory per client. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
    const char *ciphers = *cfg->tls_ciphers ? cfg->tls_ciphers : TLS_DEFAULT_CIPHERS;
    int rc = 0;
    if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1)
        rc = fail(log, "invalid --tls-ciphers", ciphers);
    else if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1)
        rc = fail(log, "cannot load the certificate chain", cfg->tls_cert);
    else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1)
        rc = fail(log, "cannot load the private key", cfg->tls_key);
    else if (SSL_CTX_check_private_key(ctx) != 1)
        rc = fail(log, "the private key does not match the certificate", cfg->tls_key);
    if (rc != 0) {
        SSL_CTX_free(ctx);
        return -1;
    }
    if (prev) {
        unsigned char keys[80]; /* name, HMAC and AES keys: OpenSSL's ticket key block */
        if (SSL_CTX_get_tlsext_ticket_keys(prev, keys, sizeof(keys)) == 1)
            SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof(keys));
        OPENSSL_cleanse(keys, sizeof(keys));
    }
    *out = ctx;
    return 0;
}
