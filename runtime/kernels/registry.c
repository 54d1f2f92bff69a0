/* registry.c: the kernel tables, walked by descriptor; applicability and the static rule come
 * from bmm_select.h. Also owns the configuration epoch that upper layers compare to know
 * whether a choice they cached may be stale. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmm_internal.h"
#include "bmm_table_default.h"

/* bmm_select.h admits a kernel of BMM_NEEDS_PACKABLE_B for columns up to BMM_PACK_MAX long,
 * which it copies to its stack buffer of BMM_PACK_BYTES. */
_Static_assert(BMM_PACK_MAX * sizeof(double) <= BMM_PACK_BYTES, "BMM_PACK_MAX outgrows the buffer");

/* The built-in table, then those registered at run time (bmm_register_kernels). Slots are
 * written once, under the lock, before the count that publishes them; readers take the
 * count with acquire and walk without locking. */
#define MAX_TABLES BMM__MAX_TABLES
#define MAX_USER_TABLES 64  /* the built-in table and those of bmm_register_kernels */
#ifdef BMM_NO_DEFAULT_KERNELS /* built with -DBMM_DEFAULT_KERNELS=OFF: registered tables only */
static const bmm_kernel_table *tables[MAX_TABLES];
static atomic_size_t ntables = 0;
#else
static const bmm_kernel_table *tables[MAX_TABLES] = { &bmm_table_default };
static atomic_size_t ntables = 1;
#endif
static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;
/* generated[t]: tables[t] came from generation on demand (outside the count of tables). */
static unsigned char generated[MAX_TABLES];
static atomic_uint epoch = 1;

/* What every kernel of a part shares, so that choosing skips a part of another shape without
 * reading its kernels (a generated part holds one dtype and shape: a few dozen parts are read
 * instead of a thousand descriptors). uniform 0: the kernels differ; read them all. */
typedef struct {
    int uniform, dtype;
    int32_t n, m, p;
} part_summary;

/* summaries[t][i] of tables[t]->parts[i], written with the table's slot (the built-in table's
 * at first use); NULL (out of memory): no part is skipped. */
static part_summary *summaries[MAX_TABLES];
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

/* names[t]: tables[t]'s kernels by name, open addressing over a power of two (wisdom import
 * looks up every entry's kernel); written with the summaries. NULL: walk the table. */
typedef struct {
    const bmm_kernel_desc **slot;
    size_t mask;
} name_index;
static name_index names[MAX_TABLES];

static size_t hash_name(const char *s)
{
    return bmm__hash_slot(s, strlen(s));
}

static name_index index_names(const bmm_kernel_table *t)
{
    size_t count = bmm__table_kernel_count(t), size = 16;
    while (size < 2 * count)
        size *= 2;
    name_index x = { calloc(size, sizeof *x.slot), size - 1 };
    for (int32_t i = 0; x.slot && i < t->nparts; i++)
        for (int32_t j = 0; j < t->parts[i].count; j++) {
            const bmm_kernel_desc *k = &t->parts[i].kernels[j];
            size_t h = hash_name(k->name) & x.mask;
            while (x.slot[h] && strcmp(x.slot[h]->name, k->name) != 0)
                h = (h + 1) & x.mask;
            if (!x.slot[h])  /* a name twice: the first, as a walk finds it */
                x.slot[h] = k;
        }
    return x;
}

static part_summary *summarize(const bmm_kernel_table *t)
{
    part_summary *s = calloc(t->nparts > 0 ? (size_t)t->nparts : 1, sizeof *s);
    for (int32_t i = 0; s && i < t->nparts; i++) {
        const bmm_kernel_part *pt = &t->parts[i];
        const bmm_kernel_desc *k0 = pt->kernels;
        s[i].uniform = pt->count > 0;
        for (int32_t j = 1; s[i].uniform && j < pt->count; j++) {
            const bmm_kernel_desc *k = &pt->kernels[j];
            s[i].uniform = k->dtype == k0->dtype && k->n == k0->n && k->m == k0->m && k->p == k0->p;
        }
        if (s[i].uniform)
            s[i].dtype = k0->dtype, s[i].n = k0->n, s[i].m = k0->m, s[i].p = k0->p;
    }
    return s;
}

static void summarize_builtin(void)
{
#ifndef BMM_NO_DEFAULT_KERNELS
    summaries[0] = summarize(&bmm_table_default);
    names[0] = index_names(&bmm_table_default);
#endif
}

/* Part i of table t may hold a kernel for call c. */
static int part_may_apply(size_t t, int32_t i, const bmm_call *c)
{
    const part_summary *s = summaries[t] ? &summaries[t][i] : NULL;
    if (!s || !s->uniform)
        return 1;
    const bmm_call_key *q = &c->key;
    return s->dtype == q->dtype && (s->n == 0 || s->n == q->n) && (s->m == 0 || s->m == q->m)
        && (s->p == 0 || s->p == q->p);
}

static size_t table_count(void)
{
    return atomic_load_explicit(&ntables, memory_order_acquire);
}

unsigned bmm__config_epoch(void)
{
    return atomic_load_explicit(&epoch, memory_order_acquire);
}

unsigned bmm_config_generation(void)
{
    return bmm__config_epoch();
}

void bmm__config_changed(void)
{
    atomic_fetch_add_explicit(&epoch, 1, memory_order_acq_rel);
}

const bmm_kernel_desc *bmm__kernel_next(bmm__kernel_iter *it)
{
    for (size_t nt = table_count(); it->table < nt; it->table++, it->part = 0, it->index = 0) {
        const bmm_kernel_table *t = tables[it->table];
        for (; it->part < t->nparts; it->part++, it->index = 0)
            if (it->index < t->parts[it->part].count)
                return &t->parts[it->part].kernels[it->index++];
    }
    return NULL;
}

size_t bmm__kernel_count(void)
{
    size_t n = 0, nt = table_count();
    for (size_t t = 0; t < nt; t++)
        n += bmm__table_kernel_count(tables[t]);
    return n;
}

const bmm_kernel_desc *bmm_kernel_at(int64_t i)
{
    size_t nt = table_count();
    for (size_t t = 0; t < nt && i >= 0; t++)
        for (int32_t j = 0; j < tables[t]->nparts; j++) {
            const bmm_kernel_part *pt = &tables[t]->parts[j];
            if (i < pt->count)
                return &pt->kernels[i];
            i -= pt->count;
        }
    return NULL;
}

int bmm_kernel_runs_here(const bmm_kernel_desc *k)
{
    return k && bmm__cpu_admits(k->isa);
}

/* Names go into wisdom files as single words: 1 to BMM__NAME_MAX printable characters, no space. */
static int name_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || n >= BMM__NAME_MAX)
            return 0;
    return n > 0;
}

static const char *descriptor_error(const bmm_kernel_desc *k)
{
    if (!name_ok(k->name))
        return "a kernel name is empty, too long or has spaces or control characters";
    if (bmm__elem_bytes(k->dtype) == 0 || k->n < 0 || k->m < 0 || k->p < 0
        || k->layout < BMM_LAYOUT_BF || k->layout >= BMM_LAYOUT_COUNT
        || k->isa < BMM_ISA_C99 || k->isa >= BMM_ISA_COUNT
        || k->scalars < 0 || k->scalars >= BMM_SCALARS_COUNT
        || k->form < BMM_FORM_UNROLL || k->form >= BMM_FORM_COUNT || k->tile < 0 || k->vectors < 0 || k->lanes < 1
        || (k->needs & ~(unsigned)BMM_NEEDS_ALL))
        return "a kernel descriptor is malformed";
    if (k->isa == BMM_ISA_C99 && !k->fn)
        return "a portable C kernel has no function";
    return NULL;
}

static const char *table_error(const bmm_kernel_table *t)
{
    if (!name_ok(t->spec_name) || !name_ok(t->version) || !name_ok(t->spec_hash))
        return "spec_name, version and spec_hash must be set, short, without spaces or "
               "control characters";
    if (t->nparts < 0 || (t->nparts > 0 && !t->parts))
        return "nparts must be >= 0 and parts set";
    for (int32_t i = 0; i < t->nparts; i++) {
        const bmm_kernel_part *pt = &t->parts[i];
        if (pt->count < 0 || (pt->count > 0 && !pt->kernels))
            return "a part has a negative count or no kernels";
        for (int32_t j = 0; j < pt->count; j++) {
            const char *bad = descriptor_error(&pt->kernels[j]);
            if (bad)
                return bad;
        }
    }
    return NULL;
}

size_t bmm__table_kernel_count(const bmm_kernel_table *t)
{
    size_t n = 0;
    for (int32_t i = 0; i < t->nparts; i++)
        n += (size_t)t->parts[i].count;
    return n;
}

static bmm_status add_table(const bmm_kernel_table *table, int gen)
{
    if (!table)
        return bmm__fail(BMM_EINVAL, "table is NULL");
    if (table->abi != BMM_KERNEL_ABI)
        return bmm__fail(BMM_EUNSUPPORTED, "kernel table made for kernel ABI %d, this library "
            "takes ABI %d: regenerate it with this bmmgen", (int)table->abi, BMM_KERNEL_ABI);
    const char *bad = table_error(table);
    if (bad)
        return bmm__fail(BMM_EINVAL, "kernel table \"%s\": %s",
            table->spec_name ? table->spec_name : "?", bad);
    bmm_status st = BMM_OK;
    pthread_mutex_lock(&register_lock);
    size_t nt = table_count(), users = 0;
    int known = 0;
    for (size_t t = 0; t < nt; t++) {
        known |= tables[t] == table;
        users += !generated[t];
    }
    if (!known && (nt == MAX_TABLES || (!gen && users == MAX_USER_TABLES))) {
        st = bmm__fail(BMM_ENOMEM, "kernel table \"%s\": already %d tables registered",
            table->spec_name, gen ? MAX_TABLES : MAX_USER_TABLES);
    } else if (!known) {
        tables[nt] = table;
        generated[nt] = (unsigned char)gen;
        summaries[nt] = summarize(table);
        names[nt] = index_names(table);
        atomic_store_explicit(&ntables, nt + 1, memory_order_release);
    }
    pthread_mutex_unlock(&register_lock);
    if (st == BMM_OK && !known) {
        bmm__config_changed();  /* one-shot calls may now have a specialized kernel */
        bmm__note("registered kernel table \"%s\" (%s, hash %s)", table->spec_name,
            table->version, table->spec_hash);
    }
    return st;
}

bmm_status bmm_register_kernels(const bmm_kernel_table *table)
{
    return add_table(table, 0);
}

bmm_status bmm__register_generated(const bmm_kernel_table *table)
{
    return add_table(table, 1);
}

size_t bmm__registry_room(void)
{
    return MAX_TABLES - table_count();
}

int bmm__kernel_generated(const bmm_kernel_desc *k)
{
    for (size_t t = 0, nt = table_count(); t < nt; t++)
        for (int32_t i = 0; generated[t] && i < tables[t]->nparts; i++) {
            const bmm_kernel_part *pt = &tables[t]->parts[i];  /* addresses: k may be elsewhere */
            uintptr_t a = (uintptr_t)k, lo = (uintptr_t)pt->kernels;
            if (a >= lo && a < lo + (uintptr_t)pt->count * sizeof *pt->kernels)
                return 1;
        }
    return 0;
}

const bmm_kernel_desc *bmm__kernel_by_name(const char *name)
{
    pthread_once(&builtin_once, summarize_builtin);
    size_t h = hash_name(name);
    for (size_t t = 0, nt = table_count(); t < nt; t++) {
        const name_index *x = &names[t];
        if (!x->slot) {  /* no index (out of memory): walk this table */
            for (int32_t i = 0; i < tables[t]->nparts; i++)
                for (int32_t j = 0; j < tables[t]->parts[i].count; j++)
                    if (strcmp(tables[t]->parts[i].kernels[j].name, name) == 0)
                        return &tables[t]->parts[i].kernels[j];
            continue;
        }
        for (size_t i = h & x->mask; x->slot[i]; i = (i + 1) & x->mask)
            if (strcmp(x->slot[i]->name, name) == 0)
                return x->slot[i];
    }
    return NULL;
}

int bmm__kernel_applies(const bmm_kernel_desc *k, const bmm_call *c)
{
    return bmm__applies(k, c, bmm__cpu_max_isa());
}

size_t bmm__candidates(const bmm_call *call, const bmm_kernel_desc **out, size_t max)
{
    size_t found = 0;
    int isa = bmm__cpu_max_isa();
    const bmm_call cc = *call, *c = &cc;  /* a local copy: stores through out cannot alias it,
                                           * so its fields stay in registers (8% of a plan) */
    pthread_once(&builtin_once, summarize_builtin);
    for (size_t t = 0, nt = table_count(); t < nt; t++)
        for (int32_t i = 0; i < tables[t]->nparts; i++)
            for (int32_t j = 0; part_may_apply(t, i, c) && j < tables[t]->parts[i].count; j++) {
                const bmm_kernel_desc *k = &tables[t]->parts[i].kernels[j];
                if (bmm__applies(k, c, isa)) {
                    if (found < max)
                        out[found] = k;
                    found++;
                }
            }
    /* the static rule's order, best first (a stable insertion sort: a few dozen at most) */
    for (size_t i = 1; i < found && i < max; i++) {
        const bmm_kernel_desc *k = out[i];
        int64_t s = bmm__rule_score(k, c);
        size_t j = i;
        for (; j > 0 && bmm__rule_score(out[j - 1], c) < s; j--)
            out[j] = out[j - 1];
        out[j] = k;
    }
    return found;
}

const bmm_kernel_desc *bmm__estimate(const bmm_call *call)
{
    const bmm_kernel_desc *best = NULL;
    int64_t best_score = -1;
    int isa = bmm__cpu_max_isa();
    const bmm_call cc = *call, *c = &cc;  /* a local copy, as in bmm__candidates */
    pthread_once(&builtin_once, summarize_builtin);
    for (size_t t = 0, nt = table_count(); t < nt; t++)
        for (int32_t i = 0; i < tables[t]->nparts; i++)
            if (part_may_apply(t, i, c))
                bmm__pick(tables[t]->parts[i].kernels, (size_t)tables[t]->parts[i].count, c,
                    isa, &best, &best_score);
    return best;
}
