/* How the runtime finds the MongoDB backend in its plugin (see
 * store_mongo_load.c): the file's name and its one entry point, which has
 * the contract of lusty__store_mongo_open(). */
#ifndef LUSTY_STORE_MONGO_PLUGIN_H
#define LUSTY_STORE_MONGO_PLUGIN_H

#include "store_internal.h"

#define LUSTY__STORE_MONGO_PLUGIN "lusty-store-mongodb.so"
#define LUSTY__STORE_MONGO_ENTRY "lusty__store_mongo_plugin_open"

typedef lusty__store_backend_t *(*lusty__store_mongo_open_fn)(const char *config_json,
                                                              char **error);
lusty__store_backend_t *lusty__store_mongo_plugin_open(const char *config_json, char **error);

#endif
