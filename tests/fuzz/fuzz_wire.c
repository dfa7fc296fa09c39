/*
 * fuzz_wire.c - libFuzzer target for the frame and ack decoders.
 *
 * Besides "no crash, no out-of-bounds read" (ASan/UBSan), it checks what the
 * decoder promises about a frame it accepts: every sample names a series in
 * the dictionary, every value is finite, labels are sorted and unique.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pw_frame f;
    pw_ack   ack;
    char     err[256];

    if (pw_wire_decode(data, size, &f, err, sizeof err) == PW_OK) {
        for (size_t i = 0; i < f.nsamples; i++)
            if (f.samples[i].series >= f.nseries || !isfinite(f.samples[i].value))
                abort();
        for (size_t i = 0; i < f.nseries; i++)
            for (size_t j = 1; j < f.series[i].nlabels; j++)
                if (strcmp(f.series[i].labels[j - 1].name, f.series[i].labels[j].name) >= 0)
                    abort();
        if (f.hdr.seq == 0 || f.hdr.agent_id[0] == '\0')
            abort();
        pw_frame_release(&f);
    } else if (f.arena_ != NULL) {
        abort();                 /* a failed decode must leave nothing to free */
    }
    (void) pw_wire_decode_ack(data, size, &ack);
    return 0;
}
