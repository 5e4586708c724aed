/* What the MongoDB backend says about its server: the URI without its
 * password (every message names the server, none may show the secret),
 * and which driver errors mean "the server is not there" (UNAVAILABLE,
 * answered 503) rather than "this operation failed". */
#include "store_mongo_internal.h"

#include <string.h>

/* The URI text with the password of its user info replaced by "***", for a
 * URI the driver could not parse (so there are no accessors to use). */
static char *redact_text(const char *text)
{
    const char *scheme = strstr(text, "://");
    if (!scheme)
        return bson_strdup("(the URI)");
    const char *info = scheme + 3;
    const char *end = info + strcspn(info, "/?");
    const char *at = NULL;
    for (const char *p = info; p < end; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(info, ':', (size_t)(at - info)) : NULL;
    if (!colon)
        return bson_strdup(text);
    return lusty__mongo_printf("%.*s:***%s", (int)(colon - text), text, at);
}

char *lusty__mongo_redacted_uri(const char *uri_text, const mongoc_uri_t *uri)
{
    if (!uri)
        return redact_text(uri_text);
    bson_string_t *out = bson_string_new(NULL);
    const char *srv = mongoc_uri_get_srv_hostname(uri);
    bson_string_append(out, srv ? "mongodb+srv://" : "mongodb://");
    const char *user = mongoc_uri_get_username(uri);
    if (user && *user)
        bson_string_append_printf(out, "%s%s@", user, mongoc_uri_get_password(uri) ? ":***" : "");
    if (srv) {
        bson_string_append(out, srv);
    } else {
        for (const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri); h; h = h->next)
            bson_string_append_printf(out, "%s%s", h == mongoc_uri_get_hosts(uri) ? "" : ",",
                                      h->host_and_port);
    }
    const char *db = mongoc_uri_get_database(uri);
    if (db && *db)
        bson_string_append_printf(out, "/%s", db);
    return bson_string_free(out, false);
}

char *lusty__mongo_scrub(const char *message, const char *secret)
{
    if (!secret || !*secret)
        return bson_strdup(message);
    bson_string_t *out = bson_string_new(NULL);
    size_t n = strlen(secret);
    const char *p = message, *hit;
    while ((hit = strstr(p, secret))) {
        bson_string_append_printf(out, "%.*s***", (int)(hit - p), p);
        p = hit + n;
    }
    bson_string_append(out, p);
    return bson_string_free(out, false);
}

static bool code_in(uint32_t code, const uint32_t *codes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (codes[i] == code)
            return true;
    return false;
}

/* Server error codes that say the server is going away or not the primary
 * any more: as good as unreachable for this call. */
static bool server_leaving(uint32_t code)
{
    static const uint32_t codes[] = {
        91,    /* ShutdownInProgress */
        189,   /* PrimarySteppedDown */
        10107, /* NotWritablePrimary */
        11600, /* InterruptedAtShutdown */
        11602, /* InterruptedDueToReplStateChange */
        13435, /* NotPrimaryNoSecondaryOk */
        13436, /* NotPrimaryOrSecondary */
    };
    return code_in(code, codes, sizeof codes / sizeof codes[0]);
}

/* Server error codes that say the operation itself was wrong (the same
 * cases are INVALID on SQLite): a patch through a value that is not a
 * document, $inc of a text, a changed _id, a duplicate _id, a document too
 * large, a bad regular expression. */
static bool caller_mistake(uint32_t code)
{
    static const uint32_t codes[] = {
        2,     /* BadValue (among others, a bad $regex) */
        14,    /* TypeMismatch ($inc of a non-number) */
        28,    /* PathNotViable (a path through a non-document) */
        40,    /* ConflictingUpdateOperators */
        52,    /* DollarPrefixedFieldName */
        66,    /* ImmutableField (_id) */
        73,    /* InvalidNamespace (a collection name MongoDB does not take) */
        10334, /* BSONObjectTooLarge */
        11000, /* DuplicateKey */
        17419, /* document too large after an update */
        51091, /* a regular expression that does not compile */
    };
    return code_in(code, codes, sizeof codes / sizeof codes[0]);
}

lusty__store_status_t lusty__mongo_error_status(const bson_error_t *error)
{
    switch (error->domain) {
    case MONGOC_ERROR_SERVER_SELECTION:
    case MONGOC_ERROR_STREAM:
        return LUSTY__STORE_UNAVAILABLE;
    case MONGOC_ERROR_BSON:
        return LUSTY__STORE_INVALID;
    case MONGOC_ERROR_SERVER:
    case MONGOC_ERROR_WRITE_CONCERN:
        if (server_leaving(error->code))
            return LUSTY__STORE_UNAVAILABLE;
        if (caller_mistake(error->code))
            return LUSTY__STORE_INVALID;
        return LUSTY__STORE_FAILED;
    default:
        return LUSTY__STORE_FAILED;
    }
}
