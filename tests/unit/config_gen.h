/* config_gen.h - YAML configs made to stress the loader, shared by
 * tests/unit/config_bounds_test.c and tests/bench/config_bench.c.
 *
 * Each function returns a new NUL-terminated string (the caller frees), or
 * NULL when out of memory. The "hostile" ones cross one of the loader's
 * bounds; the "big" ones are as large as a file that loads may be. */
#ifndef TESTS_CONFIG_GEN_H
#define TESTS_CONFIG_GEN_H

#include <stddef.h>

/* A defaults list of n_ids approvers anchored once, and n_services
 * services that each alias it twice (approvers and requesters): about
 * 2 * n_ids * n_services values from a file of a few tens of KB. */
char *config_gen_fanout(size_t n_ids, size_t n_services);
/* Classic "billion laughs": levels of lists, each width aliases of the one
 * before, under an unknown key. */
char *config_gen_laughs(size_t levels, size_t width);
/* n anchored approver ids in one list (libyaml looks anchors up linearly). */
char *config_gen_anchors(size_t n);
/* A value nested n flow lists deep. */
char *config_gen_deep(size_t n);
/* A requesters list of n distinct ids. */
char *config_gen_long_list(size_t n);

/* Valid: as many services as fit in about max_bytes, the first 60 with an
 * anchored list of 10 approvers and the next ones aliasing those lists
 * until the alias budget is nearly used; every id list at most 1000. */
char *config_gen_big_services(size_t max_bytes);
/* Valid: the alias budget spent on libyaml's slowest lookups: 256 anchored
 * approver ids, then services whose approvers are lists of 256 aliases to
 * them, as many as the budget allows. */
char *config_gen_alias_budget(void);
/* Valid: n_services services, each with its own approvers and requesters
 * lists of list_len distinct ids. */
char *config_gen_big_lists(size_t n_services, size_t list_len);

#endif
