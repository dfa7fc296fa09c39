/*
 * output.h - prints a batch for humans and scripts (`poolwatch-agent --once`).
 */
#ifndef PW_OUTPUT_H
#define PW_OUTPUT_H

#include <stdio.h>

#include "batch.h"
#include "pw_err.h"

/*
 * Writes every sample of b to f in `format`:
 *   "json" - one JSON document: {"samples":[{"metric":..,"labels":{..},"value":..,"ts":..}]}
 *   "prom" - Prometheus text exposition format, with ms timestamps.
 * PW_EINVAL for an unknown format, PW_EIO if writing fails.
 */
pw_err pw_output_batch(const pw_batch *b, const char *format, FILE *f);

#endif
