/* A pause point for tests, so that what happens when a command is
 * interrupted, killed or runs out of disk at a given step can be tested
 * deterministically rather than by racing it with sleeps. */
#ifndef LUSTY_CLI_TEST_HOOK_H
#define LUSTY_CLI_TEST_HOOK_H

/* With LUSTY_TEST_PAUSE=STEP:FIFO in the environment (tests only; nothing
 * else sets it), reaching STEP writes "STEP\n" to the fifo FIFO and then
 * reads the fifo FIFO.resume until every writer has closed it. The test
 * opens both fifos read-write before starting the command, reads the line
 * (the command is now paused at STEP), acts (sends a signal, fills the
 * disk, creates a file), then closes FIFO.resume to let the command go on.
 * Without the variable, or at other steps, it does nothing. Steps:
 * "rename" (init: every file written to a temporary, none renamed yet),
 * "git" (init: repository created, nothing committed). */
void cli_test_pause(const char *step);

#endif
