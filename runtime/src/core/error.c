/* Messages and names of the runtime's error codes, from the X-macro table. */
#include "lusty/error.h"

#include <stdbool.h>
#include <string.h>
#include <uv.h>

/* Whether libuv knows `err` (its codes are negated errno values). Asked
 * through the _r form: for a code it does not know, uv_err_name() and
 * uv_strerror() return a string allocated per call and never freed. */
static bool is_uv_code(int err)
{
    char name[64];
    return err < 0 && err > -30000 &&
           strncmp(uv_err_name_r(err, name, sizeof name), "Unknown", 7) != 0;
}

const char *lusty_strerror(int err)
{
    switch (err) {
    case LUSTY_OK:
        return "success";
#define LUSTY__ERR_MSG(name, code, msg) \
    case LUSTY_##name:                  \
        return msg;
        LUSTY_ERRNO_MAP(LUSTY__ERR_MSG)
#undef LUSTY__ERR_MSG
    }
    return is_uv_code(err) ? uv_strerror(err) : "unknown error";
}

const char *lusty_err_name(int err)
{
    switch (err) {
    case LUSTY_OK:
        return "LUSTY_OK";
#define LUSTY__ERR_NAME(name, code, msg) \
    case LUSTY_##name:                   \
        return "LUSTY_" #name;
        LUSTY_ERRNO_MAP(LUSTY__ERR_NAME)
#undef LUSTY__ERR_NAME
    }
    return is_uv_code(err) ? uv_err_name(err) : "LUSTY_EUNKNOWN";
}
