/* Live reload: one uv_fs_event per folder (inotify watches folders, not
 * trees, and libuv's recursive flag is not supported on Linux) under app/
 * and lusty_modules/, plus the project root for lusty.json and root-level
 * modules, and with live reload in the browser the static folders.
 * Events are debounced (an editor's save is several events); then new
 * folders get watchers, the generation is bumped (a change of code) and
 * every worker is woken to load the new code into a fresh host and tell
 * the browsers (app_live.c). Nothing is checked per request but one
 * atomic load. */
#include "app_internal.h"

#include "lusty/alloc.h"

#include <dirent.h>
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>
#include <sys/stat.h>

#define DEBOUNCE_MS 15

struct lusty__app_watch {
    uv_fs_event_t h;
    lusty_app_t *app;
    char *dir;
    bool root; /* the project root: only some names matter */
    bool stat; /* in a static folder: pages reload, the app does not */
    bool seen; /* still there at the last scan */
    lusty__app_watch_t *next;
};

/* Names editors and tools write next to the real files. */
static bool ignored(const char *name)
{
    if (!name || !name[0])
        return false;
    size_t n = strlen(name);
    if (name[0] == '.' || name[n - 1] == '~' || strcmp(name, "4913") == 0)
        return true;
    return n > 4 && (strcmp(name + n - 4, ".swp") == 0 || strcmp(name + n - 4, ".swx") == 0);
}

static bool is_css(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n > 4 && strcmp(name + n - 4, ".css") == 0;
}

static bool root_relevant(const char *name)
{
    if (!name)
        return true;
    size_t n = strlen(name);
    return strcmp(name, "lusty.json") == 0 || strcmp(name, "app") == 0 ||
           strcmp(name, "lusty_modules") == 0 || (n > 4 && strcmp(name + n - 4, ".lua") == 0);
}

static void on_debounce(uv_timer_t *t);

/* Notes a changed file (relative to the root) for the reload's report. */
static void note_change(lusty_app_t *app, const lusty__app_watch_t *wt, const char *name)
{
    const char *dir = wt->dir + app->root_len;
    while (*dir == '/')
        dir++;
    char *rel = name ? lusty_asprintf("%s%s%s", dir, *dir ? "/" : "", name)
                     : lusty_strdup(*dir ? dir : ".");
    for (unsigned i = 0; i < app->nchanged; i++) {
        if (strcmp(app->changed_files[i], rel) == 0) {
            lusty_free(rel);
            return;
        }
    }
    if (app->nchanged == LUSTY__APP_MAX_CHANGED) {
        app->changed_more++;
        lusty_free(rel);
        return;
    }
    app->changed_files[app->nchanged++] = rel;
}

/* Compiles a saved Lua file (without running it) so that a syntax error
 * in a file the app loads only when a request needs it (a route file) is
 * reported on save, not on the next request. */
static void check_syntax(lusty_app_t *app, const char *rel, const char *abs)
{
    size_t n = strlen(rel);
    /* The app file itself is reported by its load. */
    if (n < 5 || strcmp(rel + n - 4, ".lua") != 0 || strcmp(rel, app->app_file) == 0)
        return;
    lua_State *L = luaL_newstate();
    if (!L)
        return;
    if (luaL_loadfile(L, abs) == LUA_ERRSYNTAX) {
        char *msg = lusty__app_relative(app, lua_tostring(L, -1));
        lusty__app_report(app, LUSTY_APP_SYNTAX, msg);
        lusty_free(msg);
    }
    lua_close(L);
}

/* What changed, for the console ("app/x.lua", "app/x.lua and 2 more"):
 * files that still exist (an editor's or sed's temporary files are gone
 * by now), else whatever was seen. Forgets the list. */
static char *changed_summary(lusty_app_t *app)
{
    const char *first = NULL;
    unsigned more = app->changed_more;
    for (unsigned i = 0; i < app->nchanged; i++) {
        char *abs = lusty_asprintf("%s/%s", app->root, app->changed_files[i]);
        struct stat st;
        if (stat(abs, &st) == 0) {
            check_syntax(app, app->changed_files[i], abs);
            if (first)
                more++;
            else
                first = app->changed_files[i];
        }
        lusty_free(abs);
    }
    if (!first)
        first = app->nchanged ? app->changed_files[0] : app->app_file;
    char *out = more ? lusty_asprintf("%s and %u more", first, more) : lusty_strdup(first);
    for (unsigned i = 0; i < app->nchanged; i++)
        lusty_free(app->changed_files[i]);
    app->nchanged = 0;
    app->changed_more = 0;
    return out;
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    (void)events;
    lusty__app_watch_t *wt = h->data;
    if (status < 0 || ignored(name) || (wt->root && !root_relevant(name)))
        return;
    if (wt->stat) {
        /* A stylesheet is swapped in the page; anything else reloads it. */
        if (!is_css(name))
            wt->app->changed_page = true;
    } else {
        wt->app->changed_code = true;
        note_change(wt->app, wt, name);
    }
    uv_timer_start(wt->app->debounce, on_debounce, DEBOUNCE_MS, 0);
}

static void on_watch_closed(uv_handle_t *h)
{
    lusty__app_watch_t *wt = h->data;
    lusty_free(wt->dir);
    lusty_free(wt);
}

static lusty__app_watch_t *find(lusty_app_t *app, const char *dir)
{
    for (lusty__app_watch_t *wt = app->watches; wt; wt = wt->next)
        if (strcmp(wt->dir, dir) == 0)
            return wt;
    return NULL;
}

/* Watches `dir` (a folder already watched keeps what it is: a static
 * folder under app/ is code). */
static void watch(lusty_app_t *app, const char *dir, bool root, bool stat)
{
    lusty__app_watch_t *wt = find(app, dir);
    if (wt) {
        wt->seen = true;
        return;
    }
    wt = lusty_calloc(1, sizeof *wt);
    wt->app = app;
    wt->dir = lusty_strdup(dir);
    wt->root = root;
    wt->stat = stat;
    wt->seen = true;
    uv_fs_event_init(app->loop, &wt->h);
    wt->h.data = wt;
    if (uv_fs_event_start(&wt->h, on_fs_event, dir, 0) != 0) {
        uv_close((uv_handle_t *)&wt->h, on_watch_closed);
        return;
    }
    wt->next = app->watches;
    app->watches = wt;
}

/* Watches `dir` and every folder below it (dot folders excepted). */
static void watch_tree(lusty_app_t *app, const char *dir, int depth, bool stat_dir)
{
    struct stat st;
    if (depth > 32 || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    watch(app, dir, false, stat_dir);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *sub = lusty_asprintf("%s/%s", dir, de->d_name);
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            watch_tree(app, sub, depth + 1, stat_dir);
        lusty_free(sub);
    }
    closedir(d);
}

/* (Re)builds the set of watched folders: new ones get a watcher, vanished
 * ones lose theirs. */
static void scan(lusty_app_t *app)
{
    for (lusty__app_watch_t *wt = app->watches; wt; wt = wt->next)
        wt->seen = false;
    watch(app, app->root, true, false);
    char *dir = lusty_asprintf("%s/app", app->root);
    watch_tree(app, dir, 0, false);
    lusty_free(dir);
    dir = lusty_asprintf("%s/lusty_modules", app->root);
    watch_tree(app, dir, 0, false);
    lusty_free(dir);
    /* The folder of an app file outside app/ (say "app.lua" or "src/x.lua"). */
    const char *slash = strrchr(app->app_file, '/');
    if (slash && strncmp(app->app_file, "app/", 4) != 0) {
        char *rel = lusty_strndup(app->app_file, (size_t)(slash - app->app_file));
        dir = rel[0] == '/' ? lusty_strdup(rel) : lusty_asprintf("%s/%s", app->root, rel);
        watch_tree(app, dir, 0, false);
        lusty_free(dir);
        lusty_free(rel);
    }
    /* Last, so that a static folder inside app/ stays code. */
    for (size_t i = 0; i < app->nstatic_dirs; i++)
        watch_tree(app, app->static_dirs[i], 0, true);
    for (lusty__app_watch_t **p = &app->watches; *p;) {
        lusty__app_watch_t *wt = *p;
        if (!wt->seen) {
            *p = wt->next;
            uv_close((uv_handle_t *)&wt->h, on_watch_closed);
        } else {
            p = &wt->next;
        }
    }
}

static void on_debounce(uv_timer_t *t)
{
    lusty_app_t *app = t->data;
    scan(app);
    bool code = app->changed_code, page = code || app->changed_page;
    app->changed_code = app->changed_page = false;
    if (code) {
        char *what = changed_summary(app);
        pthread_mutex_lock(&app->lock);
        lusty_free(app->changed);
        app->changed = what;
        pthread_mutex_unlock(&app->lock);
        atomic_fetch_add(&app->gen, 1);
    }
    if (app->live) {
        /* After `gen` (see lusty_app_worker_handle()); only this thread
         * writes them. */
        unsigned live = atomic_load(&app->live_gen) + 1;
        if (page)
            atomic_store(&app->live_full, live);
        atomic_store(&app->live_gen, live);
    }
    pthread_mutex_lock(&app->lock);
    for (lusty_app_worker_t *w = app->workers; w; w = w->next)
        uv_async_send(&w->reload_async);
    pthread_mutex_unlock(&app->lock);
}

int lusty__app_watch_start(lusty_app_t *app)
{
    app->debounce = lusty_calloc(1, sizeof *app->debounce);
    uv_timer_init(app->loop, app->debounce);
    app->debounce->data = app;
    scan(app);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    lusty_free(h);
}

void lusty__app_watch_stop(lusty_app_t *app)
{
    while (app->watches) {
        lusty__app_watch_t *wt = app->watches;
        app->watches = wt->next;
        uv_close((uv_handle_t *)&wt->h, on_watch_closed);
    }
    if (app->debounce) {
        uv_close((uv_handle_t *)app->debounce, on_timer_closed);
        app->debounce = NULL;
    }
}
