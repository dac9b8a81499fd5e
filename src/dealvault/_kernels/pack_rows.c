/* One file of the batch kernels of dealvault._native (the overview is in module.c). */
#include "kernels.h"

/* ---- packed reads: a batch of rows as one blob, built inside SQLite ------------------
 *
 * The aggregate dv_pack_rows(id, subject_id, v...) appends each row's values to one buffer
 * and returns it as a blob; unpack_rows turns it back into the rows Python's sqlite3 would
 * have given. The blob (all numbers little-endian):
 *
 *   header   "DVP1", u32 columns, u64 rows, u64 bytes of the row section,
 *            u64 offset of the last row's subject_id (its UTF-8 bytes), u64 its length
 *   rows     per row, per column: a tag, then  0 NULL | 1 INTEGER: i64 | 2 TEXT: u32
 *            length, UTF-8 | 3 BLOB: u32 length, bytes
 *   ids      per row, column 0 (the record id) as i64
 *
 * id must be an integer and subject_id a text that strictly increases from row to row (the
 * keyset order of the read); anything else (a REAL, another order, a value or a blob too
 * long) makes the result NULL and the caller reads the rows the ordinary way. open_pack
 * (pack_open.c) opens the envelopes of a pack where they lie. */

typedef struct {
    int started, ok;
    int ncols;
    unsigned char *buf; /* header space, then the row section */
    size_t len, cap;
    unsigned char *ids;
    size_t ids_cap;
    uint64_t n;
    size_t last_off, last_len; /* the previous row's subject_id, in buf */
} pack_t;

static void
put_u32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static void
put_u64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

uint64_t
get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = (v << 8) | p[k];
    return v;
}

static uint32_t
get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Room for `more` bytes after `len` in a PyMem_Raw buffer (no GIL needed); 0 when none. */
static int
reserve(unsigned char **buf, size_t *cap, size_t len, size_t more)
{
    if (more > SIZE_MAX / 2 - len)
        return 0;
    if (len + more <= *cap)
        return 1;
    size_t cap2 = *cap ? *cap : 1 << 16;
    while (cap2 < len + more)
        cap2 *= 2;
    unsigned char *p = PyMem_RawRealloc(*buf, cap2);
    if (p == NULL)
        return 0;
    *buf = p;
    *cap = cap2;
    return 1;
}

/* Append one value; 0 when it cannot be packed (another type, too long, out of memory). */
static int
pack_value(pack_t *a, sqlite3_value *v, size_t *at, size_t *vlen)
{
    const unsigned char *p = NULL;
    int n = 0, tag;
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
        if (!reserve(&a->buf, &a->cap, a->len, 1))
            return 0;
        a->buf[a->len++] = T_NULL;
        return 1;
    case SQLITE_INTEGER:
        if (!reserve(&a->buf, &a->cap, a->len, 9))
            return 0;
        a->buf[a->len] = T_INT;
        put_u64(a->buf + a->len + 1, (uint64_t)sqlite3_value_int64(v));
        a->len += 9;
        return 1;
    case SQLITE_TEXT:
        tag = T_TEXT;
        p = sqlite3_value_text(v); /* text first, then its length (SQLite's rule) */
        if (p == NULL)             /* out of memory */
            return 0;
        n = sqlite3_value_bytes(v);
        break;
    case SQLITE_BLOB:
        tag = T_BLOB;
        p = sqlite3_value_blob(v);
        n = sqlite3_value_bytes(v);
        if (p == NULL && n != 0)
            return 0;
        break;
    default: /* REAL */
        return 0;
    }
    if (n < 0 || !reserve(&a->buf, &a->cap, a->len, 5 + (size_t)n))
        return 0;
    a->buf[a->len] = (unsigned char)tag;
    put_u32(a->buf + a->len + 1, (uint32_t)n);
    if (n > 0)
        memcpy(a->buf + a->len + 5, p, (size_t)n);
    *at = a->len + 5;
    *vlen = (size_t)n;
    a->len += 5 + (size_t)n;
    return 1;
}

static void
pack_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    pack_t *a = sqlite3_aggregate_context(ctx, sizeof(pack_t));
    if (a == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (!a->started) {
        a->started = 1;
        a->ncols = argc;
        a->len = PACK_HEAD;
        a->ok = argc >= 2 && reserve(&a->buf, &a->cap, 0, PACK_HEAD);
    }
    if (!a->ok)
        return;
    if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER ||
        sqlite3_value_type(argv[1]) != SQLITE_TEXT ||
        !reserve(&a->ids, &a->ids_cap, 8 * (size_t)a->n, 8)) {
        a->ok = 0;
        return;
    }
    put_u64(a->ids + 8 * a->n, (uint64_t)sqlite3_value_int64(argv[0]));
    size_t at = 0, len = 0, ignored_at, ignored_len;
    for (int k = 0; k < argc; k++)
        if (!pack_value(a, argv[k], k == 1 ? &at : &ignored_at, k == 1 ? &len : &ignored_len)) {
            a->ok = 0;
            return;
        }
    if (a->n > 0) { /* strictly after the previous subject_id (SQLite's BINARY order) */
        size_t m = len < a->last_len ? len : a->last_len;
        int c = memcmp(a->buf + at, a->buf + a->last_off, m);
        if (c < 0 || (c == 0 && len <= a->last_len)) {
            a->ok = 0;
            return;
        }
    }
    a->last_off = at;
    a->last_len = len;
    a->n++;
}

static void
pack_final(sqlite3_context *ctx)
{
    pack_t *a = sqlite3_aggregate_context(ctx, 0);
    if (a == NULL) { /* no rows: an empty pack */
        unsigned char head[PACK_HEAD] = {0};
        memcpy(head, PACK_MAGIC, 4);
        sqlite3_result_blob(ctx, head, PACK_HEAD, SQLITE_TRANSIENT);
        return;
    }
    size_t ids_len = 8 * (size_t)a->n;
    sqlite3_int64 limit = sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1);
    int ok = a->ok && reserve(&a->buf, &a->cap, a->len, ids_len) &&
             (sqlite3_uint64)(a->len + ids_len) <= (sqlite3_uint64)limit;
    if (ok) {
        if (ids_len > 0)
            memcpy(a->buf + a->len, a->ids, ids_len);
        memcpy(a->buf, PACK_MAGIC, 4);
        put_u32(a->buf + 4, (uint32_t)a->ncols);
        put_u64(a->buf + 8, a->n);
        put_u64(a->buf + 16, a->len - PACK_HEAD);
        put_u64(a->buf + 24, a->last_off);
        put_u64(a->buf + 32, a->last_len);
        /* SQLite frees the buffer when it is done with it */
        sqlite3_result_blob64(ctx, a->buf, a->len + ids_len, PyMem_RawFree);
    } else {
        sqlite3_result_null(ctx);
        PyMem_RawFree(a->buf);
    }
    PyMem_RawFree(a->ids);
    a->buf = a->ids = NULL;
    a->ok = 0;
}

#ifndef SQLITE_DIRECTONLY /* SQLite before 3.30 */
#define SQLITE_DIRECTONLY 0
#endif

/* Called by SQLite for each connection it opens; never an error (see audit_chunk.c). */
static int
pack_init(sqlite3 *db, const char **err, const void *api)
{
    (void)err;
    (void)api;
    (void)sqlite3_create_function_v2(db, "dv_pack_rows", -1, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                     NULL, NULL, pack_step, pack_final, NULL);
    return SQLITE_OK;
}

PyDoc_STRVAR(pack_register_doc,
"pack_register() -> str\n\n"
"Give every SQLite connection opened from now on in this process the aggregate\n"
"dv_pack_rows(id, subject_id, ...) (see unpack_rows); returns the version of the SQLite\n"
"library this module uses.");

static PyObject *
pack_register(PyObject *self, PyObject *args)
{
    if (sqlite3_auto_extension((void (*)(void))pack_init) != SQLITE_OK) {
        PyErr_SetString(PyExc_RuntimeError, "pack_register: sqlite3_auto_extension failed");
        return NULL;
    }
    return PyUnicode_FromString(sqlite3_libversion());
}

/* ---- the other side: the rows back as Python objects ----------------------------------- */

PyObject *
malformed(void)
{
    PyErr_SetString(PyExc_ValueError, "not a well-formed pack of rows");
    return NULL;
}

/* The header of a pack of size bytes with keys_len bytes of packed keys; 0 with a
 * ValueError when either is not well-formed. */
int
pack_head(const unsigned char *p, size_t size, size_t keys_len, pack_head_t *h)
{
    if (size < PACK_HEAD || memcmp(p, PACK_MAGIC, 4) != 0) {
        malformed();
        return 0;
    }
    uint32_t ncols = get_u32(p + 4);
    uint64_t n = get_u64(p + 8), body = get_u64(p + 16);
    uint64_t last_off = get_u64(p + 24), last_len = get_u64(p + 32);
    /* every row takes at least one byte per column and 8 bytes of id; the last subject id
     * lies inside the pack (Python reads it, pack_summary) */
    if ((ncols < 2 && n > 0) || body > size - PACK_HEAD || n > (size - PACK_HEAD - body) / 8 ||
        (size - PACK_HEAD - body) != 8 * n || (n > 0 && body / ncols < n) ||
        last_off > PACK_HEAD + body || last_len > PACK_HEAD + body - last_off ||
        keys_len / 33 != n || keys_len % 33 != 0) {
        malformed();
        return 0;
    }
    h->p = p;
    h->end = PACK_HEAD + (size_t)body;
    h->ncols = ncols;
    h->n = n;
    return 1;
}

/* The value at *pos without a Python object: its tag, and where its bytes (or its 8-byte
 * integer) start and how many; 0 with a ValueError when it runs past the row section. */
int
pack_field(const pack_head_t *h, size_t *pos, int *tag, size_t *at, size_t *len)
{
    size_t i = *pos;
    if (i >= h->end)
        goto bad;
    *tag = h->p[i++];
    if (*tag == T_NULL) {
        *at = i;
        *len = 0;
    } else if (*tag == T_INT) {
        if (h->end - i < 8)
            goto bad;
        *at = i;
        *len = 8;
    } else if ((*tag == T_TEXT || *tag == T_BLOB) && h->end - i >= 4) {
        *len = get_u32(h->p + i);
        *at = i + 4;
        if (h->end - *at < *len)
            goto bad;
    } else {
        goto bad;
    }
    *pos = *at + *len;
    return 1;
bad:
    malformed();
    return 0;
}

/* The value at *pos as a Python object, or NULL with an exception. */
static PyObject *
unpack_value(const pack_head_t *h, size_t *pos)
{
    int tag;
    size_t at, len;
    if (!pack_field(h, pos, &tag, &at, &len))
        return NULL;
    switch (tag) {
    case T_NULL:
        Py_RETURN_NONE;
    case T_INT:
        return PyLong_FromLongLong((long long)get_u64(h->p + at));
    case T_TEXT:
        return PyUnicode_DecodeUTF8((const char *)h->p + at, (Py_ssize_t)len, NULL);
    default:
        return PyBytes_FromStringAndSize((const char *)h->p + at, (Py_ssize_t)len);
    }
}

PyDoc_STRVAR(unpack_rows_doc,
"unpack_rows(pack, keys) -> (rows, keys)\n\n"
"The rows (tuples of int, str, bytes or None) of a pack made by the SQLite aggregate\n"
"dv_pack_rows, and the customer keys of a packed key list: keys holds 32 bytes per row,\n"
"then one byte per row, 0 where the row has no key (None). ValueError when either is not\n"
"well-formed.");

static PyObject *
unpack_rows(PyObject *self, PyObject *args)
{
    Py_buffer pack, keys;
    PyObject *rows = NULL, *key_list = NULL, *result = NULL;
    pack_head_t h;
    if (!PyArg_ParseTuple(args, "y*y*", &pack, &keys))
        return NULL;
    const unsigned char *k = keys.buf;
    if (!pack_head(pack.buf, (size_t)pack.len, (size_t)keys.len, &h))
        goto done;
    rows = PyList_New((Py_ssize_t)h.n);
    key_list = PyList_New((Py_ssize_t)h.n);
    if (rows == NULL || key_list == NULL)
        goto done;
    size_t pos = PACK_HEAD;
    for (uint64_t i = 0; i < h.n; i++) {
        PyObject *row = PyTuple_New(h.ncols);
        if (row == NULL)
            goto done;
        PyList_SET_ITEM(rows, (Py_ssize_t)i, row);
        for (uint32_t c = 0; c < h.ncols; c++) {
            PyObject *v = unpack_value(&h, &pos);
            if (v == NULL)
                goto done;
            PyTuple_SET_ITEM(row, c, v);
        }
        PyObject *key;
        if (k[32 * h.n + i]) {
            key = PyBytes_FromStringAndSize((const char *)k + 32 * i, 32);
            if (key == NULL)
                goto done;
        } else {
            key = Py_NewRef(Py_None);
        }
        PyList_SET_ITEM(key_list, (Py_ssize_t)i, key);
    }
    if (pos != h.end) {
        malformed();
        goto done;
    }
    result = PyTuple_Pack(2, rows, key_list);
done:
    Py_XDECREF(rows);
    Py_XDECREF(key_list);
    PyBuffer_Release(&pack);
    PyBuffer_Release(&keys);
    return result;
}

PyMethodDef dv_pack_methods[] = {
    {"pack_register", pack_register, METH_NOARGS, pack_register_doc},
    {"unpack_rows", unpack_rows, METH_VARARGS, unpack_rows_doc},
    {NULL, NULL, 0, NULL},
};
