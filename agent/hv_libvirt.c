/*
 * hv_libvirt.c - the libvirt hypervisor source: any libvirt URI
 * (qemu:///system, qemu+ssh://host/system, test:///default, test:///FILE.xml).
 *
 * The connection is read-only (virConnectOpenReadOnly): hypervisor mode only
 * reads, and libvirt's read-only socket needs no polkit rule or root.
 *
 * Every domain's figures come from one virConnectGetAllDomainStats call per
 * round (state, cpu, balloon, vcpu, interface and block groups), so 500
 * domains cost one round trip, not 500. Its typed parameters go into the
 * round unchanged. Some drivers leave groups out (libvirt 9.0's test driver
 * answers with state.* only; KVM reports no block capacity for a disk QEMU
 * has not opened); for those gaps, and only for them, this file adds
 * parameters under the same names from other calls:
 *
 *   vcpu.current, balloon.maximum, balloon.current  virDomainGetInfo, when the
 *        record has no vcpu.current or no balloon.maximum (one call per such domain)
 *   block.count, block.N.name, block.N.path,        the domain definition's
 *   block.N.capacity, block.N.allocation           <disk device='disk'> elements and
 *        the storage volume each one's source is (virStorageVolGetInfo), when the
 *        record has no block.* group or lacks a disk's capacity
 *   meta.title, meta.description                    the definition's <title>, <description>
 *
 * Definitions change rarely and cost a round trip each, so they are cached
 * per domain and re-read every HV_DEF_REFRESH rounds, spread over the rounds
 * by UUID so 500 domains do not all refresh together. virDomainGetBlockInfo is
 * not used: the test driver answers it with made-up constants.
 */
#include "hypervisor.h"
#include "sort.h"

#include <expat.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HV_DEF_REFRESH   30u          /* rounds between re-reads of a definition */
#define HV_DEF_MAX_DISKS 64u
#define HV_DEF_MAX_TEXT  1024u        /* title and description are cut here */
#define HV_DEF_MAX_XML   (4u << 20)

#define HV_STATS (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON \
                  | VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK)

typedef struct hv_disk hv_disk;
typedef struct hv_def hv_def;

/* A disk of a domain definition, with its volume's size if one was found. */
struct hv_disk {
    char     dev[32];         /* target dev: "vda" */
    char    *path;            /* source file or dev; NULL for pool/volume sources */
    char    *pool, *volume;   /* <source pool= volume=> */
    bool     have_size;
    uint64_t capacity, allocation;
};

/* What the definition of one domain says (cached between rounds). */
struct hv_def {
    char     uuid[VIR_UUID_STRING_BUFLEN];
    char    *title, *description;
    hv_disk  disks[HV_DEF_MAX_DISKS];
    size_t   ndisks;
    uint64_t refresh_at;      /* round at which to read it again */
    bool     kept;            /* still in use this round (hv_domains) */
};

struct pw_hv_source {
    virConnectPtr conn;
    uint64_t      round;
    hv_def      **defs;       /* sorted by uuid, owned */
    size_t        ndefs;
};

/* libvirt prints every error to stderr unless told otherwise; we report
 * errors ourselves, once per streak, from virGetLastErrorMessage(). */
static void
hv_silent(void *data, virErrorPtr e)
{
    (void) data;
    (void) e;
}

static bool
hv_accepts(const char *uri)
{
    /* driver[+transport]://[host]/path; replay:// is matched before this. */
    return strstr(uri, "://") != NULL;
}

static void
hv_def_free(hv_def *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->ndisks; i++) {
        free(d->disks[i].path);
        free(d->disks[i].pool);
        free(d->disks[i].volume);
    }
    free(d->title);
    free(d->description);
    free(d);
}

static void
hv_close(pw_hv_source *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ndefs; i++)
        hv_def_free(s->defs[i]);
    free(s->defs);
    if (s->conn != NULL)
        virConnectClose(s->conn);
    free(s);
}

static pw_err
hv_open(const char *uri, pw_hv_source **out, char *err, size_t errlen)
{
    pw_hv_source *s;

    *out = NULL;
    /* Before any other call, and harmless when repeated (libvirt runs it once). */
    if (virInitialize() != 0) {
        snprintf(err, errlen, "libvirt: cannot initialize");
        return PW_EIO;
    }
    virSetErrorFunc(NULL, hv_silent);
    if ((s = calloc(1, sizeof *s)) == NULL)
        return PW_ENOMEM;
    if ((s->conn = virConnectOpenReadOnly(uri)) == NULL) {
        snprintf(err, errlen, "cannot connect to %s: %s", uri, virGetLastErrorMessage());
        free(s);
        return PW_ENET;
    }
    *out = s;
    return PW_OK;
}

/* The error of a failed call: PW_ENET if the connection is gone, else rc. */
static pw_err
hv_fail(pw_hv_source *s, pw_err rc, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, virGetLastErrorMessage());
    return virConnectIsAlive(s->conn) == 1 ? rc : PW_ENET;
}

static pw_err
hv_node(pw_hv_source *s, pw_hv_node *out, char *err, size_t errlen)
{
    virNodeInfo ni;

    memset(out, 0, sizeof *out);
    s->round++;
    if (virNodeGetInfo(s->conn, &ni) != 0)
        return hv_fail(s, PW_EIO, "virNodeGetInfo", err, errlen);
    /* sockets is per NUMA node, cores per socket, threads per core. */
    out->sockets = ni.nodes * ni.sockets;
    out->cores = ni.nodes * ni.sockets * ni.cores;
    out->threads = ni.cpus;
    out->mhz = ni.mhz;
    out->memory_bytes = (uint64_t) ni.memory * 1024u;
    return PW_OK;
}

static pw_err
hv_pools(pw_hv_source *s, pw_hv_round *r, char *err, size_t errlen)
{
    virStoragePoolPtr *pools = NULL;
    int                n;
    pw_err             rc = PW_OK;

    n = virConnectListAllStoragePools(s->conn, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
    if (n < 0)
        return hv_fail(s, PW_ENOENT, "virConnectListAllStoragePools", err, errlen);
    for (int i = 0; i < n; i++) {
        virStoragePoolInfo pi;

        if (rc == PW_OK && virStoragePoolGetInfo(pools[i], &pi) == 0)
            rc = pw_hv_round_add_pool(r, virStoragePoolGetName(pools[i]), pi.capacity,
                                      pi.allocation, pi.available);
        virStoragePoolFree(pools[i]);
    }
    free(pools);
    return rc;
}

/* --- domain definitions (expat) --- */

typedef struct hv_xml {
    hv_def *def;
    int     depth;
    int     in;               /* 1 title, 2 description: collecting text */
    bool    in_disk;          /* inside <devices><disk device='disk'> */
    hv_disk disk;
    size_t  textlen;
    char    text[HV_DEF_MAX_TEXT + 1];
    bool    nomem;
} hv_xml;

static const char *
hv_attr(const XML_Char **a, const char *name)
{
    for (; a[0] != NULL; a += 2)
        if (strcmp(a[0], name) == 0)
            return a[1];
    return NULL;
}

static char *
hv_dup(hv_xml *x, const char *s)
{
    char *p;

    if (s == NULL)
        return NULL;
    if ((p = strdup(s)) == NULL)
        x->nomem = true;
    return p;
}

static void XMLCALL
hv_xml_start(void *data, const XML_Char *el, const XML_Char **attr)
{
    hv_xml     *x = data;
    const char *v;

    x->depth++;
    /* <domain>=1, <title>/<description>/<devices>=2, <disk>=3, <source>/<target>=4 */
    if (x->depth == 2 && (strcmp(el, "title") == 0 || strcmp(el, "description") == 0)) {
        x->in = el[0] == 't' ? 1 : 2;
        x->textlen = 0;
    } else if (x->depth == 3 && strcmp(el, "disk") == 0) {
        v = hv_attr(attr, "device");
        x->in_disk = v == NULL || strcmp(v, "disk") == 0;
        memset(&x->disk, 0, sizeof x->disk);
    } else if (x->depth == 4 && x->in_disk && strcmp(el, "source") == 0) {
        if ((v = hv_attr(attr, "file")) != NULL || (v = hv_attr(attr, "dev")) != NULL)
            x->disk.path = x->disk.path ? x->disk.path : hv_dup(x, v);
        if (hv_attr(attr, "pool") != NULL && hv_attr(attr, "volume") != NULL && x->disk.pool == NULL) {
            x->disk.pool = hv_dup(x, hv_attr(attr, "pool"));
            x->disk.volume = hv_dup(x, hv_attr(attr, "volume"));
        }
    } else if (x->depth == 4 && x->in_disk && strcmp(el, "target") == 0
               && (v = hv_attr(attr, "dev")) != NULL) {
        snprintf(x->disk.dev, sizeof x->disk.dev, "%s", v);
    }
}

static void XMLCALL
hv_xml_end(void *data, const XML_Char *el)
{
    hv_xml *x = data;
    hv_def *d = x->def;

    if (x->depth == 2 && x->in != 0) {
        x->text[x->textlen] = '\0';
        if (x->in == 1 && d->title == NULL)
            d->title = hv_dup(x, x->text);
        else if (x->in == 2 && d->description == NULL)
            d->description = hv_dup(x, x->text);
        x->in = 0;
    } else if (x->depth == 3 && x->in_disk && strcmp(el, "disk") == 0) {
        if (x->disk.dev[0] != '\0' && d->ndisks < HV_DEF_MAX_DISKS) {
            d->disks[d->ndisks++] = x->disk;
        } else {
            free(x->disk.path);
            free(x->disk.pool);
            free(x->disk.volume);
        }
        memset(&x->disk, 0, sizeof x->disk);
        x->in_disk = false;
    }
    x->depth--;
}

static void XMLCALL
hv_xml_text(void *data, const XML_Char *s, int len)
{
    hv_xml *x = data;
    size_t  n = (size_t) len;

    if (x->in == 0)
        return;
    if (n > HV_DEF_MAX_TEXT - x->textlen)
        n = HV_DEF_MAX_TEXT - x->textlen;
    /* Cut at a UTF-8 character boundary: a label value must be valid UTF-8. */
    if (n < (size_t) len)
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
            n--;
    memcpy(x->text + x->textlen, s, n);
    x->textlen += n;
}

/* Size of a disk's volume, found by path or by pool and volume name. */
static void
hv_disk_size(pw_hv_source *s, hv_disk *k)
{
    virStorageVolPtr  vol = NULL;
    virStoragePoolPtr pool;
    virStorageVolInfo vi;

    if (k->path != NULL) {
        vol = virStorageVolLookupByPath(s->conn, k->path);
    } else if (k->pool != NULL && (pool = virStoragePoolLookupByName(s->conn, k->pool)) != NULL) {
        vol = virStorageVolLookupByName(pool, k->volume);
        virStoragePoolFree(pool);
    }
    if (vol == NULL)
        return;                 /* not in any pool: no size, not an error */
    if (virStorageVolGetInfo(vol, &vi) == 0) {
        k->have_size = true;
        k->capacity = vi.capacity;
        k->allocation = vi.allocation;
    }
    virStorageVolFree(vol);
}

/* Reads dom's definition into a new *out. PW_ENET if the connection died. */
static pw_err
hv_def_read(pw_hv_source *s, virDomainPtr dom, const char *uuid, hv_def **out)
{
    hv_def    *d;
    hv_xml     x;
    char      *xml;
    XML_Parser p;
    pw_err     rc = PW_OK;

    *out = NULL;
    if ((xml = virDomainGetXMLDesc(dom, 0)) == NULL)
        return virConnectIsAlive(s->conn) == 1 ? PW_EIO : PW_ENET;
    if ((d = calloc(1, sizeof *d)) == NULL || (p = XML_ParserCreate("UTF-8")) == NULL) {
        free(d);
        free(xml);
        return PW_ENOMEM;
    }
    snprintf(d->uuid, sizeof d->uuid, "%s", uuid);
    memset(&x, 0, sizeof x);
    x.def = d;
    XML_SetUserData(p, &x);
    XML_SetElementHandler(p, hv_xml_start, hv_xml_end);
    XML_SetCharacterDataHandler(p, hv_xml_text);
    if (strlen(xml) > HV_DEF_MAX_XML
        || XML_Parse(p, xml, (int) strlen(xml), 1) == XML_STATUS_ERROR)
        rc = PW_EPROTO;
    if (x.nomem)
        rc = PW_ENOMEM;
    /* A disk the parser was inside of when it stopped. */
    free(x.disk.path);
    free(x.disk.pool);
    free(x.disk.volume);
    XML_ParserFree(p);
    free(xml);
    if (rc != PW_OK) {
        hv_def_free(d);
        return rc;
    }
    for (size_t i = 0; i < d->ndisks; i++)
        hv_disk_size(s, &d->disks[i]);
    *out = d;
    return PW_OK;
}

static int
hv_def_cmp(const void *key, const void *elem)
{
    return strcmp(key, (*(hv_def *const *) elem)->uuid);
}

/* Spreads refreshes over HV_DEF_REFRESH rounds by the UUID's first hex digits. */
static uint64_t
hv_def_spread(const char *uuid)
{
    uint64_t h = 0;

    for (int i = 0; i < 8 && uuid[i] != '\0'; i++)
        h = h * 31 + (unsigned char) uuid[i];
    return h % HV_DEF_REFRESH;
}

/*
 * The definition of dom for this round: the cached one (marked kept) or one
 * read now. *def may be NULL (unreadable definition: the domain keeps its
 * bulk figures).
 */
static pw_err
hv_def_get(pw_hv_source *s, virDomainPtr dom, const char *uuid, hv_def **def)
{
    hv_def **hit = s->ndefs ? bsearch(uuid, s->defs, s->ndefs, sizeof *s->defs, hv_def_cmp) : NULL;
    hv_def  *old = hit ? *hit : NULL;
    pw_err   rc;

    *def = NULL;
    if (old != NULL && s->round < old->refresh_at) {
        old->kept = true;
        *def = old;
        return PW_OK;
    }
    if ((rc = hv_def_read(s, dom, uuid, def)) == PW_ENET || rc == PW_ENOMEM)
        return rc;
    if (*def == NULL) {          /* unreadable now: the old one rather than nothing */
        if (old != NULL)
            old->kept = true;
        *def = old;
        return PW_OK;
    }
    (*def)->refresh_at = s->round + (old == NULL ? 1 + hv_def_spread(uuid) : HV_DEF_REFRESH);
    return PW_OK;
}

/* Copies one libvirt typed parameter into the round. */
static pw_err
hv_param(pw_hv_round *r, const virTypedParameter *tp)
{
    pw_hv_param p = { .field = tp->field, .type = (pw_hv_type) tp->type };

    switch (tp->type) {
    case VIR_TYPED_PARAM_INT:     p.v.i = tp->value.i; break;
    case VIR_TYPED_PARAM_UINT:    p.v.u = tp->value.ui; break;
    case VIR_TYPED_PARAM_LLONG:   p.v.i = tp->value.l; break;
    case VIR_TYPED_PARAM_ULLONG:  p.v.u = tp->value.ul; break;
    case VIR_TYPED_PARAM_DOUBLE:  p.v.d = tp->value.d; break;
    case VIR_TYPED_PARAM_BOOLEAN: p.v.i = tp->value.b ? 1 : 0; break;
    case VIR_TYPED_PARAM_STRING:
        if (tp->value.s == NULL)
            return PW_OK;
        p.v.s = tp->value.s;
        break;
    default:
        return PW_OK;           /* a type newer than this build: skip it */
    }
    return pw_hv_round_add_param(r, &p);
}

static const virTypedParameter *
hv_find(const virDomainStatsRecord *rec, const char *field)
{
    for (int i = 0; i < rec->nparams; i++)
        if (strcmp(rec->params[i].field, field) == 0)
            return &rec->params[i];
    return NULL;
}

/* The bulk-stats block index whose name is dev, or -1. */
static int
hv_block_index(const virDomainStatsRecord *rec, const char *dev)
{
    char field[VIR_TYPED_PARAM_FIELD_LENGTH];

    for (int i = 0; i < 256; i++) {
        const virTypedParameter *p;

        snprintf(field, sizeof field, "block.%d.name", i);
        if ((p = hv_find(rec, field)) == NULL)
            return -1;
        if (p->type == VIR_TYPED_PARAM_STRING && p->value.s && strcmp(p->value.s, dev) == 0)
            return i;
    }
    return -1;
}

/* What the definition adds: title, description, disks bulk stats lacked. */
static pw_err
hv_def_params(pw_hv_round *r, const virDomainStatsRecord *rec, const hv_def *d)
{
    char   field[VIR_TYPED_PARAM_FIELD_LENGTH];
    bool   bulk = hv_find(rec, "block.count") != NULL;
    pw_err rc = PW_OK;

    if (d->title != NULL && d->title[0] != '\0')
        rc = pw_hv_round_add_str(r, "meta.title", d->title);
    if (rc == PW_OK && d->description != NULL && d->description[0] != '\0')
        rc = pw_hv_round_add_str(r, "meta.description", d->description);
    if (rc == PW_OK && !bulk)
        rc = pw_hv_round_add_u64(r, "block.count", PW_HV_UINT, d->ndisks);
    for (size_t i = 0; i < d->ndisks && rc == PW_OK; i++) {
        const hv_disk *k = &d->disks[i];
        int            n = bulk ? hv_block_index(rec, k->dev) : (int) i;

        if (n < 0)
            continue;
        if (!bulk) {
            snprintf(field, sizeof field, "block.%d.name", n);
            rc = pw_hv_round_add_str(r, field, k->dev);
            snprintf(field, sizeof field, "block.%d.path", n);
            if (rc == PW_OK && k->path != NULL)
                rc = pw_hv_round_add_str(r, field, k->path);
        }
        if (!k->have_size)
            continue;
        snprintf(field, sizeof field, "block.%d.capacity", n);
        if (rc == PW_OK && hv_find(rec, field) == NULL)
            rc = pw_hv_round_add_u64(r, field, PW_HV_ULLONG, k->capacity);
        snprintf(field, sizeof field, "block.%d.allocation", n);
        if (rc == PW_OK && hv_find(rec, field) == NULL)
            rc = pw_hv_round_add_u64(r, field, PW_HV_ULLONG, k->allocation);
    }
    return rc == PW_ETOOBIG ? PW_OK : rc;
}

/* One bulk-stats record into the round, with the gaps filled. */
static pw_err
hv_record(pw_hv_source *s, pw_hv_round *r, const virDomainStatsRecord *rec, hv_def **newdefs,
          size_t *nnew)
{
    char          uuid[VIR_UUID_STRING_BUFLEN];
    const char   *name = virDomainGetName(rec->dom);
    virDomainInfo di;
    hv_def       *def = NULL;
    pw_err        rc;

    if (virDomainGetUUIDString(rec->dom, uuid) != 0 || name == NULL)
        return PW_OK;           /* vanished while we looked: next round */
    if ((rc = pw_hv_round_add_domain(r, uuid, name)) != PW_OK)
        return rc == PW_ETOOBIG ? PW_OK : rc;
    for (int i = 0; i < rec->nparams; i++)
        if ((rc = hv_param(r, &rec->params[i])) != PW_OK && rc != PW_ETOOBIG)
            return rc;
    if ((hv_find(rec, "vcpu.current") == NULL || hv_find(rec, "balloon.maximum") == NULL)
        && virDomainGetInfo(rec->dom, &di) == 0) {
        if (hv_find(rec, "vcpu.current") == NULL)
            pw_hv_round_add_u64(r, "vcpu.current", PW_HV_UINT, di.nrVirtCpu);
        if (hv_find(rec, "balloon.maximum") == NULL)
            pw_hv_round_add_u64(r, "balloon.maximum", PW_HV_ULLONG, di.maxMem);
        if (hv_find(rec, "balloon.current") == NULL)
            pw_hv_round_add_u64(r, "balloon.current", PW_HV_ULLONG, di.memory);
    }
    if ((rc = hv_def_get(s, rec->dom, uuid, &def)) != PW_OK)
        return rc;
    if (def == NULL)
        return PW_OK;
    newdefs[(*nnew)++] = def;
    return hv_def_params(r, rec, def);
}

static int
hv_def_sort(const void *a, const void *b)
{
    return strcmp((*(hv_def *const *) a)->uuid, (*(hv_def *const *) b)->uuid);
}

static pw_err
hv_domains(pw_hv_source *s, pw_hv_round *r, char *err, size_t errlen)
{
    virDomainStatsRecordPtr *recs = NULL;
    hv_def                 **newdefs = NULL;
    size_t                   nnew = 0;
    int                      n;
    pw_err                   rc = PW_OK;

    if ((n = virConnectGetAllDomainStats(s->conn, HV_STATS, &recs, 0)) < 0)
        return hv_fail(s, PW_EIO, "virConnectGetAllDomainStats", err, errlen);
    if (n > 0 && (newdefs = calloc((size_t) n, sizeof *newdefs)) == NULL) {
        rc = PW_ENOMEM;
        goto out;
    }
    for (int i = 0; i < n && rc == PW_OK; i++)
        rc = hv_record(s, r, recs[i], newdefs, &nnew);
    if (rc == PW_ENET)
        snprintf(err, errlen, "connection lost while reading domain definitions");
    else if (rc != PW_OK)
        snprintf(err, errlen, "domain statistics: %s", pw_strerror(rc));
out:
    /* This round's definitions become the cache; the rest (domains gone,
     * definitions re-read) go. */
    for (size_t i = 0; i < s->ndefs; i++)
        if (!s->defs[i]->kept)
            hv_def_free(s->defs[i]);
    free(s->defs);
    for (size_t i = 0; i < nnew; i++)
        newdefs[i]->kept = false;
    pw_qsort(newdefs, nnew, sizeof *newdefs, hv_def_sort);
    s->defs = newdefs;
    s->ndefs = nnew;
    if (recs != NULL)
        virDomainStatsRecordListFree(recs);
    return rc;
}

const pw_hv_source_ops pw_hv_libvirt = {
    .name = "libvirt",
    .accepts = hv_accepts,
    .open = hv_open,
    .close = hv_close,
    .node = hv_node,
    .pools = hv_pools,
    .domains = hv_domains,
};
