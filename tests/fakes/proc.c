/* proc.c - child processes for test fixtures (see proc.h). */
#include "tests/fakes/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long proc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void proc_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

pid_t proc_spawn(char *const argv[], const char *out_path, unsigned flags)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126); /* the parent died before prctl */
	int fd = open(out_path, O_WRONLY | O_CREAT | (flags & PROC_APPEND ? O_APPEND : O_TRUNC), 0600);
	if (fd >= 0) {
		(void)dup2(fd, 1);
		(void)dup2(fd, 2);
		close(fd);
	}
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0) {
		(void)dup2(devnull, 0);
		close(devnull);
	}
	execvp(argv[0], argv);
	_exit(127);
}

int proc_wait(pid_t pid, long ms, long poll_ms)
{
	long end = proc_now_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -2;
		if (proc_now_ms() >= end)
			return -1;
		proc_sleep_ms(poll_ms);
	}
}

long proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	while (fp && fgets(line, sizeof line, fp))
		if (strncmp(line, field, n) == 0 && line[n] == ':' &&
		    sscanf(line + n + 1, "%ld", &kb) == 1)
			break;
	if (fp)
		fclose(fp);
	return kb;
}
