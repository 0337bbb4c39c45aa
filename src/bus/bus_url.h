/* bus_url.h: the cluster bus's address, redis://host:port[/db] (--cluster). Pure. */
#ifndef CHORUS_BUS_URL_H
#define CHORUS_BUS_URL_H

#include <stddef.h>

#define BUS_URL_HOST_MAX 256

typedef struct {
    char host[BUS_URL_HOST_MAX]; /* a name, an IPv4 address or an IPv6 one (no brackets) */
    int port;                    /* 1 to 65535; 6379 when the URL names none */
    int db;                      /* the database number, 0 to 65535; 0 when none */
} bus_url_t;

/* Reads url (borrowed) into *out. Returns 0, or -1 with a one-line reason in err (errlen
 * bytes) that names the form the URL takes. */
int bus_url_parse(const char *url, bus_url_t *out, char *err, size_t errlen);

/* Checks --cluster's value url (borrowed; "" is one node, always fine) for a server whose
 * store is PostgreSQL when has_pg: a cluster needs it. Returns 0, or -1 with a one-line
 * reason in err. */
int bus_url_check(const char *url, int has_pg, char *err, size_t errlen);

#endif
