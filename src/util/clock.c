/* clock.c: the wall clock (see clock.h). */
#include "util/clock.h"

#include <uv.h>

int64_t clock_unix_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}
