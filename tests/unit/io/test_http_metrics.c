/* test_http_metrics.c: who may read /metrics: --metrics-allow's addresses and
 * --metrics-token's bearer token. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "io/http_metrics.h"
#include "util/mem.h"

static int ok(const chorus_config_t *cfg, const char *auth)
{
    return http_metrics_token_ok(cfg, auth, auth ? strlen(auth) : 0);
}

static void test_token(void)
{
    chorus_config_t cfg;
    config_defaults(&cfg);
    /* No token set: any request (the allow list alone decides). */
    ASSERT_EQ(ok(&cfg, NULL), 1);
    ASSERT_EQ(ok(&cfg, "Bearer whatever"), 1);
    free(cfg.metrics_token);
    cfg.metrics_token = ch_strdup("s3cret-scrape-token-0123");
    ASSERT_EQ(ok(&cfg, "Bearer s3cret-scrape-token-0123"), 1);
    ASSERT_EQ(ok(&cfg, "bearer s3cret-scrape-token-0123"), 1); /* the scheme is case-blind */
    ASSERT_EQ(ok(&cfg, "Bearer   s3cret-scrape-token-0123"), 1);
    ASSERT_EQ(ok(&cfg, NULL), 0);
    ASSERT_EQ(ok(&cfg, ""), 0);
    ASSERT_EQ(ok(&cfg, "Bearer "), 0);
    ASSERT_EQ(ok(&cfg, "Bearer s3cret-scrape-token-012"), 0);   /* a prefix */
    ASSERT_EQ(ok(&cfg, "Bearer s3cret-scrape-token-01234"), 0); /* longer */
    ASSERT_EQ(ok(&cfg, "Bearer S3cret-scrape-token-0123"), 0);  /* the token is not */
    ASSERT_EQ(ok(&cfg, "Basic s3cret-scrape-token-0123"), 0);
    ASSERT_EQ(ok(&cfg, "s3cret-scrape-token-0123"), 0);
    config_free(&cfg);
}

static void test_allow(void)
{
    chorus_config_t cfg;
    config_defaults(&cfg);
    ASSERT_EQ(http_metrics_allowed(&cfg, "127.0.0.1"), 1);
    ASSERT_EQ(http_metrics_allowed(&cfg, "::1"), 1);
    ASSERT_EQ(http_metrics_allowed(&cfg, "10.0.0.1"), 0);
    ASSERT_EQ(http_metrics_allowed(&cfg, "not an address"), 0);
    config_free(&cfg);
}

int main(void)
{
    RUN(test_token);
    RUN(test_allow);
    TEST_MAIN_END();
}
