/* samplers.c - the table of samplers, in the order they run each round. */
#include "sampler.h"

#include <stddef.h>

const pw_sampler_ops *const pw_samplers[] = {
    &pw_sampler_cpu,
    &pw_sampler_memory,
    &pw_sampler_loadavg,
    &pw_sampler_uptime,
    &pw_sampler_filesystem,
    &pw_sampler_diskstats,
    &pw_sampler_netdev,
    NULL,
};
