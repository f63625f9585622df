/* iam_cmd.h - the `chatops-bot iam-policy` subcommand (prefix iam_cmd_):
 * print the least-privilege IAM policy for a configuration file.
 *
 * The policy itself is built by adapters/aws/iam_policy.h; this module
 * parses the options, loads the file and finds the account the ARNs name:
 * --account, else the account of aws.role_arn (the bot works with the
 * role's credentials), else the one STS GetCallerIdentity reports for the
 * credentials the bot would use. The JSON goes to stdout, a one-line note
 * saying where the account came from to stderr.
 */
#ifndef BOT_IAM_CMD_H
#define BOT_IAM_CMD_H

/* argv[0] is "iam-policy". Returns the exit status: 0 printed, 1 out of
 * memory, 2 usage or configuration errors, 3 the account could not be
 * learned from AWS (the message suggests --account). */
int iam_cmd_main(int argc, char **argv);

#endif
