/* lusty__store_mongo_open(): the MongoDB backend, loaded from its plugin
 * (lusty-store-mongodb.so) the first time a server asks for it.
 *
 * Why a plugin: mongo-c-driver initialises itself when it is loaded (a
 * constructor), and that initialisation makes a shared-memory segment,
 * /dev/shm/mongoc-<pid>, for its counters, which a killed process leaves
 * behind. MONGOC_DISABLE_SHM prevents it, but only when it is in the
 * environment before the library is loaded, which no code in a program
 * linked with the library can arrange. Loading the driver with dlopen()
 * after setting it does. It also keeps the driver and what it pulls in
 * (OpenSSL, SASL, ICU, ...) out of every server that does not use MongoDB.
 *
 * The plugin is looked for as the helper programs are: beside the running
 * program (a build tree, or libexec/lusty where lusty-serve and lusty-cli
 * are installed), then in its ../libexec/lusty/. LUSTY_STORE_MONGODB_PLUGIN
 * names another file. */
#include "store_mongo_plugin.h"

#include "lusty/alloc.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static lusty__store_mongo_open_fn plugin_open;
static char *load_error;

/* Where the plugin is: the first candidate that exists, else the first. */
static char *plugin_path(void)
{
    const char *forced = getenv("LUSTY_STORE_MONGODB_PLUGIN");
    if (forced && *forced)
        return lusty_strdup(forced);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return lusty_strdup(LUSTY__STORE_MONGO_PLUGIN);
    exe[n] = '\0';
    const char *dir = dirname(exe);
    char *beside = lusty_asprintf("%s/%s", dir, LUSTY__STORE_MONGO_PLUGIN);
    if (access(beside, R_OK) == 0)
        return beside;
    char *libexec = lusty_asprintf("%s/../libexec/lusty/%s", dir, LUSTY__STORE_MONGO_PLUGIN);
    if (access(libexec, R_OK) == 0) {
        lusty_free(beside);
        return libexec;
    }
    lusty_free(libexec);
    return beside;
}

/* MONGOC_DISABLE_SHM must be in the environment before dlopen() (the
 * driver's constructor reads it), but the plugin is loaded on a thread-pool
 * thread while others may read the environment, and setenv() is safe only
 * while one thread runs: so it is set here, before main(), in every program
 * linking the runtime (kept when already set). */
__attribute__((constructor)) static void disable_driver_shm(void)
{
    setenv("MONGOC_DISABLE_SHM", "1", 0);
}

static void load(void)
{
    char *path = plugin_path();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        load_error = lusty_asprintf("cannot load the MongoDB backend: %s", dlerror());
    } else {
        /* The plugin stays loaded: the driver's threads live as long as the
         * process. */
        *(void **)&plugin_open = dlsym(handle, LUSTY__STORE_MONGO_ENTRY);
        if (!plugin_open)
            load_error = lusty_asprintf("cannot load the MongoDB backend: '%s' has no %s", path,
                                        LUSTY__STORE_MONGO_ENTRY);
    }
    lusty_free(path);
}

/* The driver initialises OpenSSL as it loads, which leaves state (error
 * queue, random generators) local to the thread that loaded it. Loaded on
 * a thread of its own, that state goes when the thread ends, rather than
 * staying with a pool thread for the life of the process, where
 * LeakSanitizer reports it as lost. */
static void *load_thread(void *unused)
{
    (void)unused;
    load();
    return NULL;
}

static void load_once_on_own_thread(void)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, load_thread, NULL) == 0)
        pthread_join(thread, NULL);
    else
        load();
}

lusty__store_backend_t *lusty__store_mongo_open(const char *config_json, char **error)
{
    pthread_once(&load_once, load_once_on_own_thread);
    if (!plugin_open) {
        *error = lusty_strdup(load_error);
        return NULL;
    }
    return plugin_open(config_json, error);
}
