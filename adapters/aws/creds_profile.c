/* creds_profile.c - the profile source: a profile in the shared credentials
 * and config files, as static keys or as a role assumed on a
 * source_profile's keys or a credential_source (see creds.h, step 2). The
 * files are read at create. */
#include "adapters/aws/creds.h"
#include "adapters/aws/creds_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *pick(const struct aws_ini *a, const char *sa, const struct aws_ini *b,
			const char *sb, const char *key)
{
	const char *v = aws_ini_get(a, sa, key);
	return v ? v : aws_ini_get(b, sb, key);
}

void aws_profile_lookup(const struct aws_ini *credentials, const struct aws_ini *config,
			const char *name, struct aws_profile *out)
{
	char sec[160];

	memset(out, 0, sizeof *out);
	snprintf(sec, sizeof sec, "profile %s", name);
	/* [default] in the config file is the default profile; so is
	 * [profile default]. */
	const char *csec = aws_ini_has_section(config, sec) ? sec
			 : strcmp(name, "default") == 0 ? "default" : sec;
	out->found = aws_ini_has_section(credentials, name) || aws_ini_has_section(config, csec);
	out->access_key_id = pick(credentials, name, config, csec, "aws_access_key_id");
	out->secret_access_key = pick(credentials, name, config, csec, "aws_secret_access_key");
	out->session_token = pick(credentials, name, config, csec, "aws_session_token");
	if (!out->session_token)
		out->session_token = pick(credentials, name, config, csec, "aws_security_token");
	out->role_arn = pick(credentials, name, config, csec, "role_arn");
	out->source_profile = pick(credentials, name, config, csec, "source_profile");
	out->credential_source = pick(credentials, name, config, csec, "credential_source");
	out->external_id = pick(credentials, name, config, csec, "external_id");
	out->role_session_name = pick(credentials, name, config, csec, "role_session_name");
	out->duration_seconds = pick(credentials, name, config, csec, "duration_seconds");
	out->region = pick(credentials, name, config, csec, "region");
}

static char *home_path(const char *rel)
{
	const char *home = aws__creds_env("HOME");
	size_t l;
	char *p;

	if (!home)
		return NULL;
	l = strlen(home) + strlen(rel) + 2;
	p = malloc(l);
	if (p)
		snprintf(p, l, "%s/%s", home, rel);
	return p;
}

static int load_files(struct aws_ini **cred, struct aws_ini **conf, struct bot_error *err)
{
	char *cp = NULL, *fp = NULL;
	const char *c = aws__creds_env("AWS_SHARED_CREDENTIALS_FILE");
	const char *f = aws__creds_env("AWS_CONFIG_FILE");
	int rc = BOT_EOK;

	*cred = *conf = NULL;
	if (!c)
		c = cp = home_path(".aws/credentials");
	if (!f)
		f = fp = home_path(".aws/config");
	rc = c ? aws_ini_load(c, cred, err) : aws_ini_parse("", 0, cred);
	if (!rc)
		rc = f ? aws_ini_load(f, conf, err) : aws_ini_parse("", 0, conf);
	free(cp);
	free(fp);
	return rc;
}

/* The profile's role: its base is source_profile's static keys or a
 * credential_source. */
static int profile_role(const struct aws__creds_ctx *x, const struct aws_ini *cred,
			const struct aws_ini *conf, const char *name, const struct aws_profile *pr,
			struct aws_creds_provider **out, struct bot_error *err)
{
	struct aws_creds_provider *b = NULL;
	int rc = BOT_EOK;

	if (pr->source_profile) {
		struct aws_profile sp;
		char sname[210];
		aws_profile_lookup(cred, conf, pr->source_profile, &sp);
		if (!sp.access_key_id || !sp.secret_access_key)
			return bot_error_set(err, BOT_ECONFIG,
					     "profile %s: source_profile %s has no static keys "
					     "(chained roles are not supported)", name, pr->source_profile);
		snprintf(sname, sizeof sname, "profile:%.200s", pr->source_profile);
		rc = aws__creds_static_new(x, sname, sp.access_key_id, sp.secret_access_key,
					   sp.session_token, &b, err);
	} else if (pr->credential_source) {
		const char *cs = pr->credential_source;
		if (strcmp(cs, "Environment") == 0) {
			rc = aws__creds_env_new(x, &b, err);
			if (rc == BOT_ECONFIG || (rc == BOT_EOK && !b))
				return bot_error_set(err, BOT_ECONFIG, "profile %s: credential_source "
						     "Environment but no AWS_ACCESS_KEY_ID/SECRET", name);
		} else if (strcmp(cs, "EcsContainer") == 0) {
			rc = aws__creds_container_new(x, &b, err);
		} else if (strcmp(cs, "Ec2InstanceMetadata") == 0) {
			rc = aws__creds_imds_new(x, &b, err);
		} else {
			return bot_error_set(err, BOT_ECONFIG, "profile %s: unknown credential_source %s",
					     name, cs);
		}
	} else {
		return bot_error_set(err, BOT_ECONFIG,
				     "profile %s: role_arn needs source_profile or credential_source", name);
	}
	if (rc)
		return rc;
	int dur = pr->duration_seconds ? atoi(pr->duration_seconds) : 0;
	rc = aws__creds_assume_wrap(x, pr->role_arn, pr->role_session_name, pr->external_id, dur, &b,
				    err);
	*out = b;
	return rc;
}

int aws__creds_profile_new(const struct aws__creds_ctx *x, const char *name, bool named,
			   struct aws_creds_provider **out, struct bot_error *err)
{
	const struct aws_creds_opts *o = x->o;
	struct aws_ini *cred = NULL, *conf = NULL;
	struct aws_profile pr;
	int rc;

	*out = NULL;
	rc = load_files(&cred, &conf, err);
	if (rc)
		goto out;
	aws_profile_lookup(cred, conf, name, &pr);
	/* The config's role_arn, when set, is assumed on top instead. */
	if (pr.found && pr.role_arn && !(o->role_arn && *o->role_arn)) {
		rc = profile_role(x, cred, conf, name, &pr, out, err);
		goto out;
	}
	if (pr.found && (pr.access_key_id || pr.secret_access_key)) {
		char pname[210];
		if (!pr.access_key_id || !pr.secret_access_key) {
			rc = bot_error_set(err, BOT_ECONFIG, "profile %s has only half a key pair", name);
			goto out;
		}
		snprintf(pname, sizeof pname, "profile:%.200s", name);
		rc = aws__creds_static_new(x, pname, pr.access_key_id, pr.secret_access_key,
					   pr.session_token, out, err);
		goto out;
	}
	if (named && !pr.found)
		rc = bot_error_set(err, BOT_ECONFIG, "AWS profile %s is in neither the shared "
				   "credentials nor the config file", name);
out:
	aws_ini_free(cred);
	aws_ini_free(conf);
	return rc;
}
