/* main.c - placeholder entry point; the CLI lands with the foundation. */
#include "bot/log.h"
#include "build_config.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("chatops-bot %s\n", BOT_VERSION);
	return 0;
}
