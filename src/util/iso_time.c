/* iso_time.c: RFC 3339 date-times as unix milliseconds (iso_time.h). */
#include "util/iso_time.h"

/* n decimal digits at s as *out; -1 when one is not a digit. */
static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (y >= 1970): whole
 * years, then the months of this one. */
static int64_t days_of(int y, int m, int d)
{
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t yrs = y - 1970;
    /* Leap days in the years 1970 .. y-1: divisible by 4, not by 100 unless by 400. */
    int64_t leaps =
        ((y - 1) / 4 - 1969 / 4) - ((y - 1) / 100 - 1969 / 100) + ((y - 1) / 400 - 1969 / 400);
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return yrs * 365 + leaps + before[m - 1] + (m > 2 && leap) + d - 1;
}

int iso_time_parse(const char *s, size_t len, int64_t *ms)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se;
    /* "YYYY-MM-DDTHH:MM:SS" is 19 bytes; then a fraction and a zone of at least one. */
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 60)
        return -1;
    size_t i = 19;
    int frac = 0, scale = 100, nfrac = 0;
    if (s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nfrac++) {
            frac += (s[i] - '0') * scale;
            scale /= 10;
        }
        if (nfrac == 0) return -1;
    }
    if (se == 60) { /* a leap second: the last millisecond of the minute before it */
        se = 59;
        frac = 999;
    }
    int64_t off = 0; /* the zone's offset east of UTC, in minutes */
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (s[i] == '-' ? -1 : 1) * (int64_t)(oh * 60 + om);
        i += 6;
    } else {
        return -1;
    }
    int64_t t = ((days_of(y, mo, d) * 24 + h) * 60 + mi - off) * 60 + se;
    if (t < 0) return -1;
    *ms = t * 1000 + frac;
    return 0;
}
