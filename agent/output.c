/* output.c - JSON and Prometheus text renderings of a batch; see output.h. */
#include "output.h"

#include <jansson.h>
#include <string.h>

static pw_err
out_json(const pw_batch *b, FILE *f)
{
    json_t *root = json_object(), *arr = json_array();
    pw_err  rc = PW_OK;

    json_object_set_new(root, "samples", arr);
    for (size_t i = 0; i < pw_batch_nsamples(b); i++) {
        uint32_t        sid;
        int64_t         ts;
        double          v;
        size_t          nl;
        const pw_label *l;
        json_t         *o = json_object(), *labels = json_object();

        pw_batch_sample(b, i, &sid, &ts, &v);
        l = pw_batch_series_labels(b, sid, &nl);
        for (size_t j = 0; j < nl; j++)
            json_object_set_new(labels, l[j].name, json_string(l[j].value));
        json_object_set_new(o, "metric", json_string(pw_batch_series_metric(b, sid)));
        json_object_set_new(o, "labels", labels);
        json_object_set_new(o, "value", json_real(v));
        json_object_set_new(o, "ts", json_integer(ts));
        json_array_append_new(arr, o);
    }
    if (json_dumpf(root, f, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) != 0 || fputc('\n', f) == EOF)
        rc = PW_EIO;
    json_decref(root);
    return rc;
}

static pw_err
out_prom(const pw_batch *b, FILE *f)
{
    for (size_t i = 0; i < pw_batch_nsamples(b); i++) {
        uint32_t sid;
        int64_t  ts;
        double   v;

        pw_batch_sample(b, i, &sid, &ts, &v);
        /* The canonical key is already in exposition syntax. */
        if (fprintf(f, "%s %.17g %lld\n", pw_batch_series_key(b, sid), v, (long long) ts) < 0)
            return PW_EIO;
    }
    return PW_OK;
}

pw_err
pw_output_batch(const pw_batch *b, const char *format, FILE *f)
{
    if (strcmp(format, "json") == 0)
        return out_json(b, f);
    if (strcmp(format, "prom") == 0)
        return out_prom(b, f);
    return PW_EINVAL;
}
