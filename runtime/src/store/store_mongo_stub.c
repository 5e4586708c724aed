/* Stands in for the MongoDB backend until it is built (store_mongo.c):
 * every open fails, so a collection configured for MongoDB answers 503
 * with this message. Deleted when the MongoDB backend is merged. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

lusty__store_backend_t *lusty__store_mongo_open(const char *config_json, char **error)
{
    (void)config_json;
    if (error)
        *error = strdup("MongoDB backend not built");
    return NULL;
}
