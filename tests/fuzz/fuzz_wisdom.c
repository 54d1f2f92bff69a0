/* fuzz_wisdom.c: the wisdom parser on any bytes. "@CPU@" (version 3's word), "@CLASS@" and
 * "@STEPPING@" (version 4's) in the input become this library's (so the seeds get past the
 * header); "@TABLE@" a table signature (version 3's, read and ignored). Every input is either
 * refused with EFORMAT/EIO (wisdom unchanged) or imported; an imported file exports and
 * imports again, and never crashes or leaks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmm_internal.h"

static char path[64], path2[64];

static void cleanup(void)
{
    unlink(path);
    unlink(path2);
}

static void put_expanded(FILE *f, const uint8_t *data, size_t size)
{
    const struct { const char *word, *value; } subst[] = { { "@TABLE@", "0123456789abcdef" },
        { "@CPU@", bmm__cpu_signature() }, { "@CLASS@", bmm__cpu_class() },
        { "@STEPPING@", bmm__cpu_stepping() } };
    for (size_t i = 0; i < size; i++) {
        size_t s = 0, len = 0;
        for (; s < sizeof subst / sizeof subst[0]; s++)
            if (size - i >= (len = strlen(subst[s].word)) && memcmp(data + i, subst[s].word, len) == 0)
                break;
        if (s < sizeof subst / sizeof subst[0]) {
            fputs(subst[s].value, f);
            i += len - 1;
        } else {
            fputc(data[i], f);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!*path) {  /* in memory where there is a tmpfs: export fsyncs */
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/fuzz_wisdom.%ld", dir, (long)getpid());
        snprintf(path2, sizeof path2, "%s/fuzz_wisdom.%ld.out", dir, (long)getpid());
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    put_expanded(f, data, size);
    fclose(f);
    bmm_wisdom_forget();
    bmm_status st = bmm_wisdom_import_file(path);
    if (st == BMM_OK) {
        /* what was accepted survives a round trip */
        if (bmm_wisdom_export_file(path2) != BMM_OK || bmm_wisdom_import_file(path2) != BMM_OK)
            abort();
    } else if (st != BMM_EFORMAT && st != BMM_ENOMEM) {
        abort();
    } else if (!*bmm_last_error()) {
        abort();  /* a refusal says why */
    }
    return 0;
}
