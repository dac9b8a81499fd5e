/* One file of the batch kernels of dealvault._native (the overview is in module.c). */
#include "kernels.h"

/* ---- audit verification: checks of whole chunks of rows --------------------------- */

/* One column value of an event row: SQL NULL, text, a blob, an integer, or another type. */
enum { F_NULL, F_TEXT, F_BLOB, F_INT, F_OTHER };

typedef struct {
    int kind;
    const unsigned char *p;
    Py_ssize_t n;
    long long i;
} field_t;

enum { C_SEQ, C_BODY, C_PACKED, C_AT, C_ACTOR, C_ACTION, C_DEAL, C_DECISION, N_COLS };

/* What one check of a chunk needs: a digest context and a buffer to inflate into. */
typedef struct {
    EVP_MD_CTX *md;
    unsigned char *buf;
    size_t buf_len;
} audit_work_t;

#define PLAIN_MAX 400

/* JSON of a column the fast check can take: a string of at most PLAIN_MAX bytes needing no escapes (as json.dumps
 * writes it with ensure_ascii=False) or null. Appends to out; 0 when the column is of
 * another kind or needs escaping. */
static int
json_plain(const field_t *f, unsigned char *out, size_t cap, size_t *len)
{
    if (f->kind == F_NULL) {
        if (*len + 4 > cap)
            return 0;
        memcpy(out + *len, "null", 4);
        *len += 4;
        return 1;
    }
    if (f->kind != F_TEXT || f->n > PLAIN_MAX || *len + (size_t)f->n + 2 > cap)
        return 0;
    for (Py_ssize_t k = 0; k < f->n; k++)
        if (f->p[k] < 0x20 || f->p[k] == '"' || f->p[k] == '\\')
            return 0;
    out[(*len)++] = '"';
    memcpy(out + *len, f->p, (size_t)f->n);
    *len += (size_t)f->n;
    out[(*len)++] = '"';
    return 1;
}

static int
append(unsigned char *out, size_t cap, size_t *len, const char *s)
{
    size_t k = strlen(s);
    if (*len + k > cap)
        return 0;
    memcpy(out + *len, s, k);
    *len += k;
    return 1;
}

/* The searchable columns against the body, as SQLite stores them (columns.py's fast check,
 * only for values that need no JSON escapes): the body starts with
 * {"action":…,"actor":…,"at":"<at in the body's form>" and holds },"deal":…,"decision":…,
 * "objects":. 1 when they agree; 0 when the exact check must decide. */
static int
columns_agree(const field_t *c)
{
    unsigned char want[1024];
    size_t len = 0;
    const field_t *body = &c[C_BODY], *at = &c[C_AT];
    if (!(append(want, sizeof want, &len, "{\"action\":") &&
          json_plain(&c[C_ACTION], want, sizeof want, &len) &&
          append(want, sizeof want, &len, ",\"actor\":") &&
          json_plain(&c[C_ACTOR], want, sizeof want, &len) &&
          append(want, sizeof want, &len, ",\"at\":\"")))
        return 0;
    if (at->kind != F_TEXT || at->n != 32 || at->p[10] != ' ' ||
        memcmp(at->p + 26, "+00:00", 6) != 0)
        return 0;
    for (int k = 0; k < 32; k++)
        if (at->p[k] >= 0x80)
            return 0;
    memcpy(want + len, at->p, 10);
    want[len + 10] = 'T';
    memcpy(want + len + 11, at->p + 11, 12);
    want[len + 23] = 'Z';
    len += 24;
    if (body->n < (Py_ssize_t)len || memcmp(body->p, want, len) != 0)
        return 0;
    len = 0;
    if (!(append(want, sizeof want, &len, "},\"deal\":") &&
          json_plain(&c[C_DEAL], want, sizeof want, &len) &&
          append(want, sizeof want, &len, ",\"decision\":") &&
          json_plain(&c[C_DECISION], want, sizeof want, &len) &&
          append(want, sizeof want, &len, ",\"objects\":")))
        return 0;
    return memmem(body->p, (size_t)body->n, want, len) != NULL;
}

static int
hex_equal(const unsigned char *hex, const unsigned char *digest)
{
    static const char hexd[] = "0123456789abcdef";
    unsigned diff = 0;
    for (int k = 0; k < 32; k++)
        diff |= (unsigned)(hex[2 * k] ^ hexd[digest[k] >> 4]) |
                (unsigned)(hex[2 * k + 1] ^ hexd[digest[k] & 15]);
    return diff == 0;
}

/* Every per-event check of verify_events on one SQLite row, the fast way: 1 when all pass
 * (leaf gets the leaf hash), 0 when one does not (the caller goes the exact way), -1 when
 * the digest itself failed. */
static int
event_ok(audit_work_t *w, long long want_seq, const field_t *c, unsigned char *leaf)
{
    static const unsigned char zero = 0;
    const field_t *body = &c[C_BODY], *packed = &c[C_PACKED];
    tail_t t;
    if (c[C_SEQ].kind != F_INT || c[C_SEQ].i != want_seq || body->kind != F_BLOB ||
        !tail_search(body->p, body->n, &t) || small_number(body->p + t.seq_at, t.seq_len) != want_seq)
        return 0;
    if (packed->kind == F_NULL) {
        if (t.digest_at >= 0)
            return 0;
    } else {
        unsigned char digest[32];
        if (packed->kind != F_BLOB || packed->n == 0 || t.digest_at < 0)
            return 0;
        int ok = packed->p[0] == 'x'
                     ? digest_inflated(w->md, packed->p, packed->n, w->buf, w->buf_len, digest)
                     : sha256_parts(w->md, packed->p, (size_t)packed->n, NULL, 0, NULL, 0, digest);
        if (!ok || !hex_equal(body->p + t.digest_at, digest))
            return 0;
    }
    if (!columns_agree(c))
        return 0;
    return sha256_parts(w->md, &zero, 1, body->p, (size_t)body->n, NULL, 0, leaf) ? 1 : -1;
}

static int
audit_work_init(audit_work_t *w)
{
    w->buf_len = 1 << 16;
    w->md = EVP_MD_CTX_new();
    w->buf = PyMem_RawMalloc(w->buf_len);
    return w->md != NULL && w->buf != NULL;
}

static void
audit_work_free(audit_work_t *w)
{
    EVP_MD_CTX_free(w->md);
    PyMem_RawFree(w->buf);
    w->md = NULL;
    w->buf = NULL;
}

static int
field_of_object(PyObject *v, field_t *f)
{
    f->p = NULL;
    f->n = 0;
    if (v == Py_None) {
        f->kind = F_NULL;
    } else if (PyBytes_Check(v)) {
        f->kind = F_BLOB;
        f->p = (const unsigned char *)PyBytes_AS_STRING(v);
        f->n = PyBytes_GET_SIZE(v);
    } else if (PyUnicode_Check(v)) {
        f->kind = F_TEXT;
        f->p = (const unsigned char *)PyUnicode_AsUTF8AndSize(v, &f->n);
        if (f->p == NULL) { /* not encodable (a lone surrogate): the exact check decides */
            PyErr_Clear();
            f->kind = F_OTHER;
        }
    } else if (PyLong_CheckExact(v)) {
        int overflow;
        f->i = PyLong_AsLongLongAndOverflow(v, &overflow);
        f->kind = overflow || (f->i == -1 && PyErr_Occurred()) ? F_OTHER : F_INT;
        PyErr_Clear();
    } else {
        f->kind = F_OTHER;
    }
    return 0;
}

PyDoc_STRVAR(audit_chunk_doc,
"audit_chunk(start, rows) -> bytes | None\n\n"
"The leaf hashes (32 bytes each, concatenated) of rows (seq, body, packed, at, actor,\n"
"action, deal, decision) as read from SQLite, when every row passes every per-event check\n"
"of the verifier: seq start+i, the body's tail names that seq, the subject list matches the\n"
"digest the body names, the searchable columns agree with the body. None when one does not\n"
"(the verifier then checks the rows one by one, exactly). The SQLite aggregate\n"
"dv_audit_leaves(start, seq, body, packed, at, actor, action, deal, decision) does the same\n"
"inside SQLite, on connections opened after sqlite_register().");

static PyObject *
audit_chunk(PyObject *self, PyObject *args)
{
    long long start;
    PyObject *rows;
    if (!PyArg_ParseTuple(args, "LO!", &start, &PyList_Type, &rows))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(rows);
    PyObject *out = PyBytes_FromStringAndSize(NULL, 32 * n);
    audit_work_t w;
    if (out == NULL)
        return NULL;
    if (!audit_work_init(&w)) {
        audit_work_free(&w);
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    unsigned char *leaves = (unsigned char *)PyBytes_AS_STRING(out);
    int ok = 1;
    for (Py_ssize_t i = 0; i < n && ok == 1; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        field_t c[N_COLS];
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != N_COLS) {
            PyErr_SetString(PyExc_TypeError, "audit_chunk: rows must be tuples of 8 columns");
            ok = -2;
            break;
        }
        for (int k = 0; k < N_COLS; k++)
            field_of_object(PyTuple_GET_ITEM(row, k), &c[k]);
        ok = event_ok(&w, start + i, c, leaves + 32 * i);
    }
    audit_work_free(&w);
    if (ok == 1)
        return out;
    Py_DECREF(out);
    if (ok == -1)
        PyErr_SetString(PyExc_RuntimeError, "audit_chunk: SHA-256 failed");
    if (ok < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The same inside SQLite: an aggregate over the rows of one chunk, in seq order. */

typedef struct {
    int started, ok;
    long long next;
    unsigned char *leaves;
    size_t n, cap;
    audit_work_t w;
} agg_t;

static void
field_of_value(sqlite3_value *v, field_t *f)
{
    f->p = NULL;
    f->n = 0;
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
        f->kind = F_NULL;
        break;
    case SQLITE_INTEGER:
        f->kind = F_INT;
        f->i = sqlite3_value_int64(v);
        break;
    case SQLITE_BLOB:
        f->kind = F_BLOB;
        f->p = sqlite3_value_blob(v);
        f->n = sqlite3_value_bytes(v);
        if (f->p == NULL) /* a zero-length blob */
            f->p = (const unsigned char *)"";
        break;
    case SQLITE_TEXT:
        f->kind = F_TEXT;
        f->p = sqlite3_value_text(v);
        f->n = sqlite3_value_bytes(v);
        if (f->p == NULL)
            f->kind = F_OTHER;
        break;
    default:
        f->kind = F_OTHER;
    }
}

static void
agg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    agg_t *a = sqlite3_aggregate_context(ctx, sizeof(agg_t));
    if (a == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (!a->started) {
        a->started = 1;
        a->next = sqlite3_value_int64(argv[0]);
        a->ok = audit_work_init(&a->w);
    }
    if (!a->ok)
        return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1024;
        unsigned char *grown = PyMem_RawRealloc(a->leaves, 32 * cap);
        if (grown == NULL) {
            a->ok = 0;
            return;
        }
        a->leaves = grown;
        a->cap = cap;
    }
    field_t c[N_COLS];
    for (int k = 0; k < N_COLS; k++)
        field_of_value(argv[1 + k], &c[k]);
    a->ok = event_ok(&a->w, a->next, c, a->leaves + 32 * a->n) == 1;
    a->next++;
    a->n++;
}

static void
agg_final(sqlite3_context *ctx)
{
    agg_t *a = sqlite3_aggregate_context(ctx, 0);
    if (a == NULL) { /* no rows */
        sqlite3_result_zeroblob(ctx, 0);
        return;
    }
    audit_work_free(&a->w);
    if (a->ok) { /* SQLite frees the leaves when it is done with them */
        sqlite3_result_blob64(ctx, a->leaves, 32 * (sqlite3_uint64)a->n, PyMem_RawFree);
    } else {
        sqlite3_result_null(ctx);
        PyMem_RawFree(a->leaves);
    }
    a->leaves = NULL;
}

#ifndef SQLITE_DIRECTONLY /* SQLite before 3.30 */
#define SQLITE_DIRECTONLY 0
#endif

/* Called by SQLite for each connection it opens. Never an error: that would fail the open;
 * a connection without the function only makes the verifier read rows. DIRECTONLY: not
 * callable from a trigger or view a database file brings along. */
static int
sqlite_init(sqlite3 *db, const char **err, const void *api)
{
    (void)err;
    (void)api;
    (void)sqlite3_create_function_v2(db, "dv_audit_leaves", 1 + N_COLS,
                                     SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, NULL, agg_step,
                                     agg_final, NULL);
    return SQLITE_OK;
}

PyDoc_STRVAR(sqlite_register_doc,
"sqlite_register() -> str\n\n"
"Give every SQLite connection opened from now on in this process the aggregate\n"
"dv_audit_leaves (see audit_chunk); returns the version of the SQLite library this module\n"
"uses. Connections get the function only when Python's sqlite3 uses that same library.");

static PyObject *
sqlite_register(PyObject *self, PyObject *args)
{
    if (sqlite3_auto_extension((void (*)(void))sqlite_init) != SQLITE_OK) {
        PyErr_SetString(PyExc_RuntimeError, "sqlite_register: sqlite3_auto_extension failed");
        return NULL;
    }
    return PyUnicode_FromString(sqlite3_libversion());
}

PyMethodDef dv_audit_chunk_methods[] = {
    {"audit_chunk", audit_chunk, METH_VARARGS, audit_chunk_doc},
    {"sqlite_register", sqlite_register, METH_NOARGS, sqlite_register_doc},
    {NULL, NULL, 0, NULL},
};
