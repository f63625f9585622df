/* proc.h - child processes for test fixtures (prefix proc_): moto_server,
 * seed scripts, the crash test's victims. Blocking; test setup only.
 */
#ifndef TESTS_FAKES_PROC_H
#define TESTS_FAKES_PROC_H

#include <sys/types.h>

enum proc_flags {
	PROC_APPEND = 1 << 0, /* append to out_path instead of truncating it */
};

/* fork + execvp(argv[0]) with stdin from /dev/null and stdout and stderr
 * to out_path. The child is SIGKILLed when the test process dies
 * (PR_SET_PDEATHSIG), even if the test crashes. Returns the pid or -1. */
pid_t proc_spawn(char *const argv[], const char *out_path, unsigned flags);

/* Wait up to ms for pid, looking every poll_ms: its wait status, -1 if it
 * is still running, -2 if it cannot be waited for (not our child). */
int proc_wait(pid_t pid, long ms, long poll_ms);

/* A "<field>: N kB" line of /proc/<pid>/status (VmRSS, VmHWM...), or -1. */
long proc_status_kb(pid_t pid, const char *field);

/* CLOCK_MONOTONIC in ms; a sleep that survives signals. */
long proc_now_ms(void);
void proc_sleep_ms(long ms);

#endif
