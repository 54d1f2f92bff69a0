/* cpu.c: which ISAs this CPU and OS admit (cpuid + xgetbv), lowered by BMM_ARCH, and the CPU
 * signatures that wisdom and generated objects are keyed by. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmm_internal.h"
#include "bmm_simd.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int max_isa = BMM_ISA_C99, avx512_split, bf16, bw;
static char signature[160], cpu_class[160], cpu_stepping[16];

/* The name of a BMM_ISA_*, as kernel names and BMM_ARCH spell it. */
static const char *const ISA_NAME[BMM_ISA_COUNT] = BMM_ISA_WORDS;

static const char *isa_name(int isa)
{
    return isa > 0 && isa < BMM_ISA_COUNT ? ISA_NAME[isa] : "?";
}

/* BMM_ARCH's ISA, or 0 if it names none. */
static int isa_named(const char *name)
{
    for (int isa = BMM_ISA_C99; isa < BMM_ISA_COUNT; isa++)
        if (strcmp(name, isa_name(isa)) == 0)
            return isa;
    return 0;
}

#if BMM_HAVE_X86_SIMD
/* AVX512BW (16-bit masked loads and stores): pairs.c's and fma16.c's kernels. */
static int x86_avx512bw(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d) || a < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 30) & 1;
}

/* AVX512_BF16 (vdpbf16ps) and AVX512BW: pairs.c's kernels. */
static int x86_avx512_bf16(void)
{
    unsigned a, b, c, d;
    if (!x86_avx512bw())
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (a < 1)  /* a: leaf 7's last subleaf */
        return 0;
    __cpuid_count(7, 1, a, b, c, d);
    return (a >> 5) & 1;
}
#endif

static void detect(void)
{
    char vendor[13] = "unknown";
    unsigned family = 0, model = 0, stepping = 0;
#if BMM_HAVE_X86_SIMD
    unsigned a, b, c, d;
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        memcpy(vendor, &b, 4);
        memcpy(vendor + 4, &d, 4);
        memcpy(vendor + 8, &c, 4);
        vendor[12] = 0;
        __get_cpuid(1, &a, &b, &c, &d);
        family = (a >> 8) & 0xf;
        model = (a >> 4) & 0xf;
        stepping = a & 0xf;
        if (family == 0xf)
            family += (a >> 20) & 0xff;
        if (family >= 6)
            model += ((a >> 16) & 0xf) << 4;
    }
    max_isa = bmm__x86_max_isa();
    avx512_split = bmm__x86_avx512_split();
    bf16 = max_isa >= BMM_ISA_AVX512 && x86_avx512_bf16();
    bw = x86_avx512bw();
#endif
    const char *arch = getenv("BMM_ARCH");
    if (arch && *arch) {
        bf16 = 0;  /* BMM_ARCH names the most it admits: AVX512_BF16 is beyond "avx512" */
        int want = isa_named(arch);
        if (!want)  /* a typo must not admit more than asked for: no vector ISA */
            want = BMM_ISA_C99;
        if (want < max_isa)
            max_isa = want;
        char known[64] = "";
        for (int isa = BMM_ISA_C99; isa < BMM_ISA_COUNT; isa++)
            snprintf(known + strlen(known), sizeof known - strlen(known), " %s", isa_name(isa));
        bmm__note("BMM_ARCH=%s%s%s%s; admitting up to %s", arch, isa_named(arch) ? "" : " refused (use",
            isa_named(arch) ? "" : known, isa_named(arch) ? "" : ")", isa_name(max_isa));
    }
    bw = bw && max_isa >= BMM_ISA_AVX512;  /* (after BMM_ARCH: "avx512" admits it) */
    snprintf(signature, sizeof signature, "%s-%x-%x-%x-%s", vendor, family, model, stepping,
        isa_name(max_isa));
    snprintf(cpu_class, sizeof cpu_class, "%s-%x-%x-%s", vendor, family, model, isa_name(max_isa));
    snprintf(cpu_stepping, sizeof cpu_stepping, "%x", stepping);
}

int bmm__cpu_max_isa(void)
{
    pthread_once(&once, detect);
    return max_isa;
}

int bmm__cpu_avx512_split(void)
{
    pthread_once(&once, detect);
    return avx512_split;
}

int bmm__cpu_bf16(void)
{
    pthread_once(&once, detect);
    return bf16;
}

int bmm__cpu_f16(void)
{
    pthread_once(&once, detect);
    return bw;
}

int bmm__cpu_admits(int isa)
{
    return isa <= bmm__cpu_max_isa();
}

const char *bmm__cpu_signature(void)
{
    pthread_once(&once, detect);
    return signature;
}

const char *bmm__cpu_class(void)
{
    pthread_once(&once, detect);
    return cpu_class;
}

const char *bmm__cpu_stepping(void)
{
    pthread_once(&once, detect);
    return cpu_stepping;
}
