/* asset_url_key.h: the signed asset URLs' key, kept in the data directory. */
#ifndef CHORUS_ASSET_URL_KEY_H
#define CHORUS_ASSET_URL_KEY_H

#include <stdint.h>

#include "auth/asset_url.h"
#include "util/log.h"

/* Reads DATA/asset_url_key (data_dir borrowed) into key, generating it (32 random bytes
 * as hex, mode 0600) when missing. Returns 0, or -1 with a log line (lg borrowed). Call
 * after sodium_init. */
int asset_url_key_load(const char *data_dir, uint8_t key[ASSET_URL_KEY_LEN], log_t *lg);

#endif
