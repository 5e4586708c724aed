/* The LUSTY_TEST_PAUSE pause point (see test_hook.h). */
#include "test_hook.h"

#include "lusty/alloc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_test_pause(const char *step)
{
    const char *spec = getenv("LUSTY_TEST_PAUSE");
    size_t n = strlen(step);
    if (!spec || strncmp(spec, step, n) != 0 || spec[n] != ':')
        return;
    const char *fifo = spec + n + 1;
    /* Open the way back first: the test holds it open for writing, so this
     * does not block, and what it writes cannot get lost. */
    char *resume = lusty_asprintf("%s.resume", fifo);
    int back = open(resume, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    lusty_free(resume);
    if (back < 0)
        return;
    fcntl(back, F_SETFL, fcntl(back, F_GETFL) & ~O_NONBLOCK);
    int fd = open(fifo, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, step, n) < 0 || write(fd, "\n", 1) < 0) {
            /* The test went away: go on. */
        }
        close(fd);
        char buf[64];
        while (read(back, buf, sizeof(buf)) > 0) {
        }
    }
    close(back);
}
