/* Batch kernels of the hot paths, against OpenSSL's libcrypto, zlib and SQLite: one call per
 * batch.
 *
 * seal_rows     AES-256-GCM envelopes of a batch of customers, each under its own key
 * open_rows     the reverse, for the rows of customer_records
 * blind_many    keyed BLAKE2b-128 blind indexes of a column (RFC 7693, personalised; our own
 *               BLAKE2b below, so the key block is compressed once per column)
 * blind_column  the same over an Arrow string column's buffers
 * leaf_hashes   SHA-256(prefix || item) of each item (RFC 9162 leaves)
 * merkle_root   the RFC 9162 root of a list of leaf hashes
 * subject_digests  hex SHA-256 of each stored subject list (zlib-inflated when compressed)
 * body_tails    the seq and subject digest at the end of each audit event body
 * audit_chunk   every per-event check of audit verification on a chunk of rows, with their
 *               leaf hashes; also a SQLite aggregate (sqlite_register), so rows read by
 *               SQLite are checked where they lie, without a Python object per row
 * decode_objects   a batch of JSON objects of text values to Arrow string columns
 * record_hashes    RFC 9162 leaf hashes of the RFC 8785 JSON of records in Arrow columns
 *
 * Every function produces the bytes the Python code of dealvault.native produces (the
 * tests compare both); the envelope format is dealvault.crypto.envelope's. Inputs are
 * checked and turned into Python objects with the GIL held; the cryptography runs with the
 * GIL released, so threads of the same process can use both cores. While the GIL is
 * released another thread may change the caller's lists, so each function first takes a
 * tuple of their items (and open_rows a reference to each envelope): the bytes it reads
 * then stay alive until it returns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <openssl/evp.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define FIXED_LEN 5 /* magic "DV", format version, algorithm id, key-id length */
#define BLIND_LEN 16

/* ---- small helpers ---------------------------------------------------------------- */

static EVP_CIPHER *aes_gcm = NULL;
static EVP_MD *sha256_md = NULL;

static int
fetch_algorithms(void)
{
    if (aes_gcm == NULL)
        aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (sha256_md == NULL)
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (aes_gcm == NULL || sha256_md == NULL) {
        PyErr_SetString(PyExc_ImportError, "libcrypto lacks AES-256-GCM or SHA-256");
        return -1;
    }
    return 0;
}

/* A tuple of the items of a list of exactly n items (any number if n < 0), or NULL with a
 * TypeError or ValueError. The tuple keeps the items alive whatever happens to the list. */
static PyObject *
frozen_list(PyObject *obj, Py_ssize_t n, const char *what)
{
    if (!PyList_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a list", what);
        return NULL;
    }
    PyObject *t = PyList_AsTuple(obj);
    if (t != NULL && n >= 0 && PyTuple_GET_SIZE(t) != n) {
        PyErr_Format(PyExc_ValueError, "%s has %zd items, expected %zd", what,
                     PyTuple_GET_SIZE(t), n);
        Py_CLEAR(t);
    }
    return t;
}

/* Header length of an envelope, or -1 if it is not a well-formed version-1 AES-GCM one. */
static Py_ssize_t
envelope_head_len(const unsigned char *p, Py_ssize_t len)
{
    if (len < FIXED_LEN || p[0] != 'D' || p[1] != 'V' || p[2] != 1 || p[3] != 1)
        return -1;
    Py_ssize_t head = FIXED_LEN + p[4] + 4;
    if (len < head + NONCE_LEN + TAG_LEN)
        return -1;
    return head;
}

/* ---- BLAKE2b (RFC 7693), keyed and personalised -------------------------------------
 * Written for the blind indexes: the key block is compressed once per column, so a value of
 * up to 128 bytes costs one compression (libcrypto's BLAKE2BMAC sets the key up per value).
 * The tests compare it with hashlib.blake2b. */

static const uint64_t b2_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t b2_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static uint64_t
b2_load(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t
b2_rotr(uint64_t x, int n)
{
    return (x >> n) | (x << (64 - n));
}

#define B2_G(a, b, c, d, x, y)                                                                \
    do {                                                                                      \
        v[a] = v[a] + v[b] + (x);                                                             \
        v[d] = b2_rotr(v[d] ^ v[a], 32);                                                      \
        v[c] = v[c] + v[d];                                                                   \
        v[b] = b2_rotr(v[b] ^ v[c], 24);                                                      \
        v[a] = v[a] + v[b] + (y);                                                             \
        v[d] = b2_rotr(v[d] ^ v[a], 16);                                                      \
        v[c] = v[c] + v[d];                                                                   \
        v[b] = b2_rotr(v[b] ^ v[c], 63);                                                      \
    } while (0)

/* RFC 7693 section 3.2: compress one 128-byte block; t = bytes so far, last = final block */
static void
b2_compress(uint64_t h[8], const unsigned char block[128], uint64_t t, int last)
{
    uint64_t v[16], m[16];
    for (int i = 0; i < 16; i++)
        m[i] = b2_load(block + 8 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = b2_iv[i];
    }
    v[12] ^= t; /* messages stay far below 2**64 bytes: the high word of t is 0 */
    if (last)
        v[14] = ~v[14];
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = b2_sigma[r];
        B2_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        B2_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        B2_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        B2_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        B2_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        B2_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        B2_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        B2_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++)
        h[i] ^= v[i] ^ v[i + 8];
}

typedef struct {
    uint64_t start[8];   /* parameter block applied, nothing compressed */
    uint64_t keyed[8];   /* after the (non-final) key block */
    unsigned char key_block[128];
    size_t out_len;
} B2Keyed;

/* key of 1..64 bytes, personalisation of up to 16 (zero-padded), digest of out_len bytes */
static void
b2_setup(B2Keyed *k, const unsigned char *key, size_t key_len, const unsigned char *person,
         size_t person_len, size_t out_len)
{
    unsigned char pers[16] = {0};
    memcpy(pers, person, person_len);
    for (int i = 0; i < 8; i++)
        k->start[i] = b2_iv[i];
    k->start[0] ^= 0x01010000ULL ^ ((uint64_t)key_len << 8) ^ (uint64_t)out_len;
    k->start[6] ^= b2_load(pers);
    k->start[7] ^= b2_load(pers + 8);
    memset(k->key_block, 0, sizeof k->key_block);
    memcpy(k->key_block, key, key_len);
    memcpy(k->keyed, k->start, sizeof k->keyed);
    b2_compress(k->keyed, k->key_block, 128, 0);
    k->out_len = out_len;
}

static void
b2_digest(const B2Keyed *k, const unsigned char *data, size_t len, unsigned char *out)
{
    uint64_t h[8];
    unsigned char block[128];
    if (len == 0) { /* the key block is the last block */
        memcpy(h, k->start, sizeof h);
        b2_compress(h, k->key_block, 128, 1);
    } else {
        memcpy(h, k->keyed, sizeof h);
        uint64_t t = 128;
        while (len > 128) {
            t += 128;
            b2_compress(h, data, t, 0);
            data += 128;
            len -= 128;
        }
        memset(block, 0, sizeof block);
        memcpy(block, data, len);
        b2_compress(h, block, t + len, 1);
    }
    for (size_t i = 0; i < k->out_len; i++)
        out[i] = (unsigned char)(h[i / 8] >> (8 * (i % 8)));
}

/* ---- seal_rows ---------------------------------------------------------------------- */

typedef struct {
    const unsigned char *pt;
    Py_ssize_t pt_len;
    unsigned char *out; /* NULL: no payload */
} SealItem;

PyDoc_STRVAR(seal_rows_doc,
"seal_rows(keys, head, prefix, start, posts, columns, nonces) -> list[list[bytes | None]]\n\n"
"Envelope column j of customer i under key i (keys: 32 bytes each): head || nonce ||\n"
"AES-256-GCM(nonce, payload, aad = head || prefix || str(start + i) || posts[j]). Nonce of\n"
"(i, j) is nonces[12 * (len(posts) * i + j):][:12]. None stays None.");

static PyObject *
seal_rows(PyObject *self, PyObject *args)
{
    Py_buffer keys, head, prefix, nonces;
    long long start;
    PyObject *posts, *columns, *cols = NULL, *result = NULL;
    SealItem *items = NULL;
    unsigned char *aad = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    int failed = 0;

    if (!PyArg_ParseTuple(args, "y*y*y*LO!O!y*", &keys, &head, &prefix, &start, &PyTuple_Type,
                          &posts, &PyList_Type, &columns, &nonces))
        return NULL;
    Py_ssize_t ncat = PyTuple_GET_SIZE(posts);
    Py_ssize_t n = keys.len / KEY_LEN;
    cols = PyTuple_New(ncat);
    if (cols == NULL)
        goto done;
    if (keys.len % KEY_LEN || PyList_GET_SIZE(columns) != ncat ||
        nonces.len < (Py_ssize_t)NONCE_LEN * n * ncat) {
        PyErr_SetString(PyExc_ValueError, "seal_rows: keys, columns and nonces do not agree");
        goto done;
    }
    if (n > 0 && start > LLONG_MAX - (n - 1)) { /* record ids are 64-bit, like the store's */
        PyErr_SetString(PyExc_OverflowError, "seal_rows: record ids beyond 64 bits");
        goto done;
    }
    for (Py_ssize_t j = 0; j < ncat; j++) {
        PyObject *col = PyList_GET_ITEM(columns, j);
        Py_INCREF(col); /* allocating may run other code, which may shrink `columns` */
        PyTuple_SET_ITEM(cols, j, col);
    }
    Py_ssize_t max_post = 0;
    for (Py_ssize_t j = 0; j < ncat; j++) {
        PyObject *p = PyTuple_GET_ITEM(posts, j);
        if (!PyBytes_Check(p)) {
            PyErr_SetString(PyExc_TypeError, "seal_rows: posts must be bytes");
            goto done;
        }
        if (PyBytes_GET_SIZE(p) > max_post)
            max_post = PyBytes_GET_SIZE(p);
        PyObject *col = frozen_list(PyTuple_GET_ITEM(cols, j), n, "seal_rows: a column");
        if (col == NULL)
            goto done;
        Py_SETREF(PyTuple_GET_ITEM(cols, j), col);
    }
    items = PyMem_Calloc((size_t)(n * ncat) + 1, sizeof(SealItem));
    aad = PyMem_Malloc((size_t)(head.len + prefix.len + max_post + 24));
    result = PyList_New(ncat);
    if (items == NULL || aad == NULL || result == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t j = 0; j < ncat; j++) {
        PyObject *col = PyTuple_GET_ITEM(cols, j);
        PyObject *out = PyList_New(n);
        if (out == NULL)
            goto fail;
        PyList_SET_ITEM(result, j, out);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *v = PyTuple_GET_ITEM(col, i);
            SealItem *it = &items[i * ncat + j];
            if (v == Py_None) {
                Py_INCREF(Py_None);
                PyList_SET_ITEM(out, i, Py_None);
                continue;
            }
            if (!PyBytes_Check(v)) {
                PyErr_SetString(PyExc_TypeError, "seal_rows: payloads must be bytes or None");
                goto fail;
            }
            it->pt = (const unsigned char *)PyBytes_AS_STRING(v);
            it->pt_len = PyBytes_GET_SIZE(v);
            PyObject *env = PyBytes_FromStringAndSize(NULL, head.len + NONCE_LEN + it->pt_len +
                                                                TAG_LEN);
            if (env == NULL)
                goto fail;
            it->out = (unsigned char *)PyBytes_AS_STRING(env);
            PyList_SET_ITEM(out, i, env);
        }
    }
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || !EVP_EncryptInit_ex2(ctx, aes_gcm, NULL, NULL, NULL)) {
        PyErr_SetString(PyExc_RuntimeError, "seal_rows: cannot set up AES-256-GCM");
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    const unsigned char *kb = keys.buf, *nb = nonces.buf;
    memcpy(aad, head.buf, (size_t)head.len);
    memcpy(aad + head.len, prefix.buf, (size_t)prefix.len);
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        int keyed = 0;
        Py_ssize_t at = head.len + prefix.len;
        at += snprintf((char *)aad + at, 24, "%lld", start + (long long)i);
        for (Py_ssize_t j = 0; j < ncat; j++) {
            SealItem *it = &items[i * ncat + j];
            if (it->out == NULL)
                continue;
            if (!keyed) {
                if (!EVP_EncryptInit_ex2(ctx, NULL, kb + KEY_LEN * i, NULL, NULL)) {
                    failed = 1;
                    break;
                }
                keyed = 1;
            }
            const unsigned char *nonce = nb + NONCE_LEN * (ncat * i + j);
            PyObject *p = PyTuple_GET_ITEM(posts, j);
            Py_ssize_t plen = PyBytes_GET_SIZE(p);
            memcpy(aad + at, PyBytes_AS_STRING(p), (size_t)plen);
            unsigned char *o = it->out;
            memcpy(o, head.buf, (size_t)head.len);
            memcpy(o + head.len, nonce, NONCE_LEN);
            unsigned char *ct = o + head.len + NONCE_LEN;
            int outl = 0, finl = 0;
            if (!EVP_EncryptInit_ex2(ctx, NULL, NULL, nonce, NULL) ||
                !EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)(at + plen)) ||
                !EVP_EncryptUpdate(ctx, ct, &outl, it->pt, (int)it->pt_len) ||
                !EVP_EncryptFinal_ex(ctx, ct + outl, &finl) ||
                !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, ct + it->pt_len)) {
                failed = 1;
                break;
            }
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_RuntimeError, "seal_rows: AES-256-GCM failed");
        goto fail;
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    EVP_CIPHER_CTX_free(ctx);
    Py_XDECREF(cols);
    PyMem_Free(items);
    PyMem_Free(aad);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&head);
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&nonces);
    return result;
}

/* ---- open_rows ---------------------------------------------------------------------- */

typedef struct {
    const unsigned char *env;
    PyObject *blob; /* the envelope, held until the end when the row is not a tuple */
    Py_ssize_t head_len;
    Py_ssize_t pt_len;
    unsigned char *out; /* NULL: no envelope */
    const unsigned char *key;
    long long record_id;
    int bad; /* malformed header, or authentication failed */
} OpenItem;

PyDoc_STRVAR(open_rows_doc,
"open_rows(rows, keys, prefix, suffixes) -> (ids, subjects, payloads, skipped, failures)\n\n"
"Open rows (record_id, subject_id, *envelopes, ...) with keys[i] (32 bytes, or None: the\n"
"row is skipped). Envelope j of a row is authenticated with aad = its own header ||\n"
"prefix || str(record_id) || suffixes[j]. payloads[j] lists column j of the opened rows.\n"
"failures lists (opened row, column, row) of envelopes that are malformed or fail\n"
"authentication; their payload is None and the caller reports them.");

static PyObject *
open_rows(PyObject *self, PyObject *args)
{
    PyObject *rows, *keys, *suffixes, *result = NULL;
    PyObject *ids = NULL, *subjects = NULL, *payloads = NULL, *failures = NULL;
    PyObject *rows_t = NULL, *keys_t = NULL;
    Py_buffer prefix;
    OpenItem *items = NULL;
    unsigned char *aad = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    Py_ssize_t skipped = 0, kept = 0;
    int crypto_error = 0;

    if (!PyArg_ParseTuple(args, "O!O!y*O!", &PyList_Type, &rows, &PyList_Type, &keys, &prefix,
                          &PyTuple_Type, &suffixes))
        return NULL;
    Py_ssize_t n = 0, ncat = PyTuple_GET_SIZE(suffixes);
    Py_ssize_t max_suffix = 0;
    rows_t = frozen_list(rows, -1, "open_rows: rows");
    if (rows_t == NULL)
        goto done;
    n = PyTuple_GET_SIZE(rows_t);
    keys_t = frozen_list(keys, n, "open_rows: keys");
    if (keys_t == NULL)
        goto done;
    for (Py_ssize_t j = 0; j < ncat; j++) {
        PyObject *s = PyTuple_GET_ITEM(suffixes, j);
        if (!PyBytes_Check(s)) {
            PyErr_SetString(PyExc_TypeError, "open_rows: suffixes must be bytes");
            goto done;
        }
        if (PyBytes_GET_SIZE(s) > max_suffix)
            max_suffix = PyBytes_GET_SIZE(s);
    }
    items = PyMem_Calloc((size_t)(n * ncat) + 1, sizeof(OpenItem));
    aad = PyMem_Malloc((size_t)(FIXED_LEN + 255 + 4 + prefix.len + 24 + max_suffix));
    ids = PyList_New(0);
    subjects = PyList_New(0);
    payloads = PyList_New(ncat);
    failures = PyList_New(0);
    if (items == NULL || aad == NULL || ids == NULL || subjects == NULL || payloads == NULL ||
        failures == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < ncat; j++) {
        PyObject *col = PyList_New(0);
        if (col == NULL)
            goto done;
        PyList_SET_ITEM(payloads, j, col);
    }
    /* pass 1, GIL held: check the rows, allocate the outputs */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyTuple_GET_ITEM(rows_t, i), *key = PyTuple_GET_ITEM(keys_t, i);
        if (key == Py_None) {
            skipped++;
            continue;
        }
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) != KEY_LEN) {
            PyErr_SetString(PyExc_ValueError, "open_rows: a key is not 32 bytes");
            goto done;
        }
        PyObject *seq = PySequence_Fast(row, "open_rows: a row is not a sequence");
        if (seq == NULL)
            goto done;
        if (PySequence_Fast_GET_SIZE(seq) < 2 + ncat) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_ValueError, "open_rows: a row is too short");
            goto done;
        }
        PyObject **cells = PySequence_Fast_ITEMS(seq);
        long long rid = PyLong_AsLongLong(cells[0]);
        if (rid == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            goto done;
        }
        if (PyList_Append(ids, cells[0]) < 0 || PyList_Append(subjects, cells[1]) < 0) {
            Py_DECREF(seq);
            goto done;
        }
        for (Py_ssize_t j = 0; j < ncat; j++) {
            PyObject *blob = cells[2 + j], *out = Py_None;
            OpenItem *it = &items[kept * ncat + j];
            it->key = (const unsigned char *)PyBytes_AS_STRING(key);
            it->record_id = rid;
            if (blob != Py_None) {
                if (!PyBytes_Check(blob)) {
                    Py_DECREF(seq);
                    PyErr_SetString(PyExc_TypeError, "open_rows: an envelope is not bytes");
                    goto done;
                }
                /* `rows_t` holds a tuple row, and so its cells; a row of another type may
                 * change or give out cells it does not keep: the kernel holds those */
                if (!PyTuple_CheckExact(row)) {
                    Py_INCREF(blob);
                    it->blob = blob;
                }
                it->env = (const unsigned char *)PyBytes_AS_STRING(blob);
                it->head_len = envelope_head_len(it->env, PyBytes_GET_SIZE(blob));
                if (it->head_len < 0) {
                    it->bad = 1;
                } else {
                    it->pt_len = PyBytes_GET_SIZE(blob) - it->head_len - NONCE_LEN - TAG_LEN;
                    out = PyBytes_FromStringAndSize(NULL, it->pt_len);
                    if (out == NULL) {
                        Py_DECREF(seq);
                        goto done;
                    }
                    it->out = (unsigned char *)PyBytes_AS_STRING(out);
                }
            }
            if (out == Py_None)
                Py_INCREF(Py_None);
            int rc = PyList_Append(PyList_GET_ITEM(payloads, j), out);
            Py_DECREF(out);
            if (rc < 0) {
                Py_DECREF(seq);
                goto done;
            }
        }
        Py_DECREF(seq);
        kept++;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || !EVP_DecryptInit_ex2(ctx, aes_gcm, NULL, NULL, NULL)) {
        PyErr_SetString(PyExc_RuntimeError, "open_rows: cannot set up AES-256-GCM");
        goto done;
    }
    /* pass 2, GIL released: decrypt. `rows_t` or `items` holds the envelopes, `keys_t` the
     * keys. */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < kept && !crypto_error; r++) {
        int keyed = 0;
        for (Py_ssize_t j = 0; j < ncat; j++) {
            OpenItem *it = &items[r * ncat + j];
            if (it->out == NULL)
                continue;
            if (!keyed) {
                if (!EVP_DecryptInit_ex2(ctx, NULL, it->key, NULL, NULL)) {
                    crypto_error = 1;
                    break;
                }
                keyed = 1;
            }
            Py_ssize_t at = it->head_len;
            memcpy(aad, it->env, (size_t)at);
            memcpy(aad + at, prefix.buf, (size_t)prefix.len);
            at += prefix.len;
            at += snprintf((char *)aad + at, 24, "%lld", it->record_id);
            PyObject *s = PyTuple_GET_ITEM(suffixes, j);
            memcpy(aad + at, PyBytes_AS_STRING(s), (size_t)PyBytes_GET_SIZE(s));
            at += PyBytes_GET_SIZE(s);
            const unsigned char *nonce = it->env + it->head_len;
            const unsigned char *ct = nonce + NONCE_LEN;
            int outl = 0, finl = 0;
            if (!EVP_DecryptInit_ex2(ctx, NULL, NULL, nonce, NULL) ||
                !EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)at) ||
                !EVP_DecryptUpdate(ctx, it->out, &outl, ct, (int)it->pt_len) ||
                !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                                     (void *)(ct + it->pt_len)) ||
                EVP_DecryptFinal_ex(ctx, it->out + outl, &finl) <= 0)
                it->bad = 1;
        }
    }
    Py_END_ALLOW_THREADS
    if (crypto_error) {
        PyErr_SetString(PyExc_RuntimeError, "open_rows: AES-256-GCM failed");
        goto done;
    }
    /* pass 3: name the envelopes that failed; never hand out their (unauthenticated) bytes */
    for (Py_ssize_t r = 0, i = 0; r < kept; i++) {
        if (PyTuple_GET_ITEM(keys_t, i) == Py_None)
            continue;
        for (Py_ssize_t j = 0; j < ncat; j++) {
            if (!items[r * ncat + j].bad)
                continue;
            PyObject *col = PyList_GET_ITEM(payloads, j);
            Py_INCREF(Py_None);
            if (PyList_SetItem(col, r, Py_None) < 0)
                goto done;
            PyObject *f = Py_BuildValue("(nnn)", r, j, i);
            if (f == NULL || PyList_Append(failures, f) < 0) {
                Py_XDECREF(f);
                goto done;
            }
            Py_DECREF(f);
        }
        r++;
    }
    result = Py_BuildValue("(OOOnO)", ids, subjects, payloads, skipped, failures);
done:
    EVP_CIPHER_CTX_free(ctx);
    Py_XDECREF(ids);
    Py_XDECREF(subjects);
    Py_XDECREF(payloads);
    Py_XDECREF(failures);
    if (items != NULL)
        for (Py_ssize_t k = 0; k < n * ncat; k++)
            Py_XDECREF(items[k].blob);
    Py_XDECREF(rows_t);
    Py_XDECREF(keys_t);
    PyMem_Free(items);
    PyMem_Free(aad);
    PyBuffer_Release(&prefix);
    return result;
}

/* ---- blind_many --------------------------------------------------------------------- */

PyDoc_STRVAR(blind_many_doc,
"blind_many(key, person, values) -> list[bytes | None]\n\n"
"BLAKE2b-128 in keyed mode with the personalisation `person` (at most 16 bytes) of each\n"
"value's UTF-8 bytes; None stays None. The same bytes as hashlib.blake2b(value, key=key,\n"
"person=person, digest_size=16).");

static PyObject *
blind_many(PyObject *self, PyObject *args)
{
    Py_buffer key, person;
    PyObject *values, *vals = NULL, *result = NULL;
    const char **ptrs = NULL;
    Py_ssize_t *lens = NULL;
    unsigned char **outs = NULL;
    B2Keyed b2;

    if (!PyArg_ParseTuple(args, "y*y*O!", &key, &person, &PyList_Type, &values))
        return NULL;
    if (person.len > 16 || key.len < 1 || key.len > 64) {
        PyErr_SetString(PyExc_ValueError, "blind_many: key of 1-64 bytes, person of <= 16");
        goto done;
    }
    vals = frozen_list(values, -1, "blind_many: values");
    if (vals == NULL)
        goto done;
    Py_ssize_t n = PyTuple_GET_SIZE(vals);
    ptrs = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    lens = PyMem_Calloc((size_t)n + 1, sizeof(Py_ssize_t));
    outs = PyMem_Calloc((size_t)n + 1, sizeof(unsigned char *));
    result = PyList_New(n);
    if (ptrs == NULL || lens == NULL || outs == NULL || result == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(vals, i);
        if (v == Py_None) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(result, i, Py_None);
            continue;
        }
        if (!PyUnicode_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "blind_many: values must be str or None");
            goto fail;
        }
        ptrs[i] = PyUnicode_AsUTF8AndSize(v, &lens[i]);
        if (ptrs[i] == NULL)
            goto fail;
        PyObject *out = PyBytes_FromStringAndSize(NULL, BLIND_LEN);
        if (out == NULL)
            goto fail;
        outs[i] = (unsigned char *)PyBytes_AS_STRING(out);
        PyList_SET_ITEM(result, i, out);
    }
    b2_setup(&b2, key.buf, (size_t)key.len, person.buf, (size_t)person.len, BLIND_LEN);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        if (outs[i] != NULL)
            b2_digest(&b2, (const unsigned char *)ptrs[i], (size_t)lens[i], outs[i]);
    Py_END_ALLOW_THREADS
    goto done;
fail:
    Py_CLEAR(result);
done:
    Py_XDECREF(vals);
    PyMem_Free(ptrs);
    PyMem_Free(lens);
    PyMem_Free(outs);
    PyBuffer_Release(&key);
    PyBuffer_Release(&person);
    return result;
}

PyDoc_STRVAR(blind_column_doc,
"blind_column(key, person, offsets, data, n, start, wide) -> bytes\n\n"
"blind_many over an Arrow string column without Python objects: value i is\n"
"data[offsets[start + i]:offsets[start + i + 1]] (offsets int64 when wide, else int32).\n"
"Returns the n 16-byte digests back to back; null slots hash their (empty) bytes and\n"
"the caller masks them.");

static PyObject *
blind_column(PyObject *self, PyObject *args)
{
    Py_buffer key, person, offsets, data;
    Py_ssize_t n, start;
    int wide;
    PyObject *result = NULL;
    B2Keyed b2;

    if (!PyArg_ParseTuple(args, "y*y*y*y*nnp", &key, &person, &offsets, &data, &n, &start,
                          &wide))
        return NULL;
    Py_ssize_t width = wide ? 8 : 4, avail = offsets.len / width; /* offsets given */
    /* start + n + 1 <= avail, written so that a huge start or n cannot overflow */
    if (person.len > 16 || key.len < 1 || key.len > 64 || n < 0 || start < 0 ||
        start >= avail || n > avail - start - 1) {
        PyErr_SetString(PyExc_ValueError, "blind_column: bad key, person or offsets");
        goto done;
    }
    const int64_t *o64 = offsets.buf;
    const int32_t *o32 = offsets.buf;
    /* every span must lie inside the data buffer and be ordered */
    for (Py_ssize_t i = start; i < start + n; i++) {
        long long a = wide ? o64[i] : o32[i], b = wide ? o64[i + 1] : o32[i + 1];
        if (a < 0 || b < a || b > data.len) {
            PyErr_SetString(PyExc_ValueError, "blind_column: offsets outside the data");
            goto done;
        }
    }
    result = PyBytes_FromStringAndSize(NULL, n * BLIND_LEN);
    if (result == NULL)
        goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *bytes = data.buf;
    b2_setup(&b2, key.buf, (size_t)key.len, person.buf, (size_t)person.len, BLIND_LEN);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t k = start + i;
        long long a = wide ? o64[k] : o32[k], b = wide ? o64[k + 1] : o32[k + 1];
        b2_digest(&b2, bytes + a, (size_t)(b - a), out + BLIND_LEN * i);
    }
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&key);
    PyBuffer_Release(&person);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    return result;
}

/* ---- SHA-256: leaves, roots, subject lists ----------------------------------------- */

static int
sha256_parts(EVP_MD_CTX *md, const void *a, size_t alen, const void *b, size_t blen,
             const void *c, size_t clen, unsigned char *out)
{
    return EVP_DigestInit_ex2(md, sha256_md, NULL) && EVP_DigestUpdate(md, a, alen) &&
           (blen == 0 || EVP_DigestUpdate(md, b, blen)) &&
           (clen == 0 || EVP_DigestUpdate(md, c, clen)) && EVP_DigestFinal_ex(md, out, NULL);
}

PyDoc_STRVAR(leaf_hashes_doc,
"leaf_hashes(items, prefix=b'\\x00') -> list[bytes]\n\n"
"SHA-256(prefix || item) of each bytes item (RFC 9162 leaf hashes with the default).");

static PyObject *
leaf_hashes(PyObject *self, PyObject *args)
{
    PyObject *items, *frozen = NULL, *result = NULL;
    Py_buffer prefix = {0};
    const char **ptrs = NULL;
    Py_ssize_t *lens = NULL;
    unsigned char **outs = NULL;
    EVP_MD_CTX *md = NULL;
    int failed = 0;
    static const unsigned char zero = 0;

    if (!PyArg_ParseTuple(args, "O!|y*", &PyList_Type, &items, &prefix))
        return NULL;
    int given = prefix.obj != NULL; /* an empty prefix may come with a NULL buffer */
    const void *pre = given ? prefix.buf : &zero;
    size_t pre_len = given ? (size_t)prefix.len : 1;
    frozen = frozen_list(items, -1, "leaf_hashes: items");
    if (frozen == NULL)
        goto done;
    Py_ssize_t n = PyTuple_GET_SIZE(frozen);
    ptrs = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    lens = PyMem_Calloc((size_t)n + 1, sizeof(Py_ssize_t));
    outs = PyMem_Calloc((size_t)n + 1, sizeof(unsigned char *));
    result = PyList_New(n);
    md = EVP_MD_CTX_new();
    if (ptrs == NULL || lens == NULL || outs == NULL || result == NULL || md == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(frozen, i);
        if (!PyBytes_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "leaf_hashes: items must be bytes");
            goto fail;
        }
        ptrs[i] = PyBytes_AS_STRING(v);
        lens[i] = PyBytes_GET_SIZE(v);
        PyObject *out = PyBytes_FromStringAndSize(NULL, 32);
        if (out == NULL)
            goto fail;
        outs[i] = (unsigned char *)PyBytes_AS_STRING(out);
        PyList_SET_ITEM(result, i, out);
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !failed; i++)
        failed = !sha256_parts(md, pre, pre_len, ptrs[i], (size_t)lens[i], NULL, 0, outs[i]);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_RuntimeError, "leaf_hashes: SHA-256 failed");
        goto fail;
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    EVP_MD_CTX_free(md);
    Py_XDECREF(frozen);
    PyMem_Free(ptrs);
    PyMem_Free(lens);
    PyMem_Free(outs);
    if (given)
        PyBuffer_Release(&prefix);
    return result;
}

PyDoc_STRVAR(merkle_root_doc,
"merkle_root(leaves) -> bytes\n\n"
"The RFC 9162 Merkle tree hash of a non-empty list of 32-byte leaf hashes, or of bytes\n"
"holding them one after another.");

static PyObject *
merkle_root(PyObject *self, PyObject *args)
{
    PyObject *leaves;
    if (!PyArg_ParseTuple(args, "O", &leaves))
        return NULL;
    int packed = PyBytes_Check(leaves);
    if (!packed && !PyList_Check(leaves)) {
        PyErr_SetString(PyExc_TypeError, "merkle_root: leaves must be a list or bytes");
        return NULL;
    }
    if (packed && PyBytes_GET_SIZE(leaves) % 32 != 0) {
        PyErr_SetString(PyExc_ValueError, "merkle_root: leaves must be 32 bytes each");
        return NULL;
    }
    Py_ssize_t n = packed ? PyBytes_GET_SIZE(leaves) / 32 : PyList_GET_SIZE(leaves);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "merkle_root: no leaves");
        return NULL;
    }
    unsigned char *level = PyMem_Malloc((size_t)n * 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (level == NULL || md == NULL) {
        PyMem_Free(level);
        EVP_MD_CTX_free(md);
        return PyErr_NoMemory();
    }
    if (packed)
        memcpy(level, PyBytes_AS_STRING(leaves), (size_t)n * 32);
    for (Py_ssize_t i = 0; !packed && i < n; i++) {
        PyObject *v = PyList_GET_ITEM(leaves, i);
        if (!PyBytes_Check(v) || PyBytes_GET_SIZE(v) != 32) {
            PyMem_Free(level);
            EVP_MD_CTX_free(md);
            PyErr_SetString(PyExc_ValueError, "merkle_root: leaves must be 32 bytes each");
            return NULL;
        }
        memcpy(level + 32 * i, PyBytes_AS_STRING(v), 32);
    }
    int failed = 0;
    static const unsigned char node = 1;
    Py_BEGIN_ALLOW_THREADS
    /* bottom-up: pair neighbours, carry an odd last node up unchanged; this is the same
     * tree as RFC 9162's split at the largest power of two below n */
    while (n > 1 && !failed) {
        Py_ssize_t m = 0;
        for (Py_ssize_t i = 0; i + 1 < n; i += 2, m++)
            failed |= !sha256_parts(md, &node, 1, level + 32 * i, 32, level + 32 * (i + 1), 32,
                                    level + 32 * m);
        if (n & 1) {
            memmove(level + 32 * m, level + 32 * (n - 1), 32);
            m++;
        }
        n = m;
    }
    Py_END_ALLOW_THREADS
    PyObject *root = failed ? NULL : PyBytes_FromStringAndSize((char *)level, 32);
    if (failed)
        PyErr_SetString(PyExc_RuntimeError, "merkle_root: SHA-256 failed");
    PyMem_Free(level);
    EVP_MD_CTX_free(md);
    return root;
}

PyDoc_STRVAR(subject_digests_doc,
"subject_digests(packs) -> list[bytes | None]\n\n"
"Hex SHA-256 (as ASCII bytes) of each stored subject list: zlib-inflated first when it\n"
"starts with b'x', as stored otherwise; None stays None. ValueError if one does not\n"
"inflate (the caller then goes item by item).");

#define HEX_LEN 64

static int
digest_inflated(EVP_MD_CTX *md, const unsigned char *p, Py_ssize_t len, unsigned char *buf,
                size_t buf_len, unsigned char *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)len;
    int ok = EVP_DigestInit_ex2(md, sha256_md, NULL), rc = Z_OK;
    while (ok && rc != Z_STREAM_END) {
        zs.next_out = buf;
        zs.avail_out = (uInt)buf_len;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            ok = 0;
            break;
        }
        ok = EVP_DigestUpdate(md, buf, buf_len - zs.avail_out);
        if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)
            ok = 0; /* truncated stream */
    }
    /* like zlib.decompress, bytes after the end of the stream are ignored */
    inflateEnd(&zs);
    return ok && EVP_DigestFinal_ex(md, out, NULL);
}

static PyObject *
subject_digests(PyObject *self, PyObject *args)
{
    PyObject *packs, *frozen = NULL, *result = NULL;
    const unsigned char **ptrs = NULL;
    Py_ssize_t *lens = NULL;
    unsigned char **outs = NULL, *buf = NULL;
    EVP_MD_CTX *md = NULL;
    int failed = 0;
    static const char hexd[] = "0123456789abcdef";

    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &packs))
        return NULL;
    frozen = frozen_list(packs, -1, "subject_digests: packs");
    if (frozen == NULL)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(frozen);
    size_t buf_len = 1 << 16;
    ptrs = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    lens = PyMem_Calloc((size_t)n + 1, sizeof(Py_ssize_t));
    outs = PyMem_Calloc((size_t)n + 1, sizeof(unsigned char *));
    buf = PyMem_Malloc(buf_len);
    result = PyList_New(n);
    md = EVP_MD_CTX_new();
    if (!ptrs || !lens || !outs || !buf || !result || !md) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(frozen, i);
        if (v == Py_None || (PyBytes_Check(v) && PyBytes_GET_SIZE(v) == 0)) {
            /* `p and …` in Python: an empty pack stays as it is */
            Py_INCREF(v);
            PyList_SET_ITEM(result, i, v);
            continue;
        }
        if (!PyBytes_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "subject_digests: packs must be bytes or None");
            goto fail;
        }
        ptrs[i] = (const unsigned char *)PyBytes_AS_STRING(v);
        lens[i] = PyBytes_GET_SIZE(v);
        PyObject *out = PyBytes_FromStringAndSize(NULL, HEX_LEN);
        if (out == NULL)
            goto fail;
        outs[i] = (unsigned char *)PyBytes_AS_STRING(out);
        PyList_SET_ITEM(result, i, out);
    }
    Py_BEGIN_ALLOW_THREADS
    unsigned char digest[32];
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        if (outs[i] == NULL)
            continue;
        int ok = ptrs[i][0] == 'x'
                     ? digest_inflated(md, ptrs[i], lens[i], buf, buf_len, digest)
                     : sha256_parts(md, ptrs[i], (size_t)lens[i], NULL, 0, NULL, 0, digest);
        if (!ok) {
            failed = 1;
            break;
        }
        for (int k = 0; k < 32; k++) {
            outs[i][2 * k] = (unsigned char)hexd[digest[k] >> 4];
            outs[i][2 * k + 1] = (unsigned char)hexd[digest[k] & 15];
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_ValueError, "subject_digests: a subject list does not inflate");
        goto fail;
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    EVP_MD_CTX_free(md);
    Py_DECREF(frozen);
    PyMem_Free(ptrs);
    PyMem_Free(lens);
    PyMem_Free(outs);
    PyMem_Free(buf);
    return result;
}

/* ---- audit verification -------------------------------------------------------------- */

/* The end of a canonical event body, exactly as verify.py's regex _TAIL (a search from
 * 320 bytes before the end):
 *   "seq":(0|[1-9][0-9]*),("session":"[^"\\]{0,80}",)?
 *   "subjects":(null|{"count":[0-9]+,"digest":"sha256:([0-9a-f]{64})"}),"v":[0-9]+}
 * Every part is decided by its next byte, so the regex never backtracks into another match
 * at the same start: matching once per start, leftmost start first, finds the regex's match. */

#define TAIL_BYTES 320

typedef struct {
    Py_ssize_t seq_at, seq_len; /* the digits of "seq" */
    Py_ssize_t digest_at;       /* the 64 hex digits of the subject digest, or -1 (null) */
} tail_t;

static int
lit(const unsigned char *s, Py_ssize_t n, Py_ssize_t *i, const char *word)
{
    size_t k = strlen(word);
    if (n - *i < (Py_ssize_t)k || memcmp(s + *i, word, k) != 0)
        return 0;
    *i += (Py_ssize_t)k;
    return 1;
}

static Py_ssize_t
digits(const unsigned char *s, Py_ssize_t n, Py_ssize_t i)
{
    Py_ssize_t j = i;
    while (j < n && s[j] >= '0' && s[j] <= '9')
        j++;
    return j - i;
}

/* 1 for the bytes [0-9a-f] */
static const unsigned char lower_hex[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
};

/* The match starting at i: 1 and its parts, or 0. */
static int
tail_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, tail_t *t)
{
    if (!lit(s, n, &i, "\"seq\":"))
        return 0;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return 0;
    Py_ssize_t d = s[i] == '0' ? 1 : digits(s, n, i); /* "0" must be followed by the comma */
    t->seq_at = i;
    t->seq_len = d;
    i += d;
    if (!lit(s, n, &i, ","))
        return 0;
    Py_ssize_t j = i;
    if (lit(s, n, &j, "\"session\":\"")) {
        Py_ssize_t k = 0;
        while (j + k < n && k <= 80 && s[j + k] != '"' && s[j + k] != '\\')
            k++;
        j += k;
        if (k <= 80 && lit(s, n, &j, "\",")) /* else the group is skipped: "subjects" must follow */
            i = j;
    }
    if (!lit(s, n, &i, "\"subjects\":"))
        return 0;
    if (lit(s, n, &i, "null")) {
        t->digest_at = -1;
    } else {
        if (!lit(s, n, &i, "{\"count\":") || (d = digits(s, n, i)) == 0)
            return 0;
        i += d;
        if (!lit(s, n, &i, ",\"digest\":\"sha256:") || n - i < 64)
            return 0;
        unsigned bad = 0; /* without a branch per digit: random hex digits mispredict */
        for (int k = 0; k < 64; k++)
            bad |= !lower_hex[s[i + k]];
        if (bad)
            return 0;
        t->digest_at = i;
        i += 64;
        if (!lit(s, n, &i, "\"}"))
            return 0;
    }
    if (!lit(s, n, &i, ",\"v\":") || (d = digits(s, n, i)) == 0)
        return 0;
    i += d;
    return lit(s, n, &i, "}");
}

static int
tail_search(const unsigned char *s, Py_ssize_t n, tail_t *t)
{
    Py_ssize_t i = n > TAIL_BYTES ? n - TAIL_BYTES : 0;
    const unsigned char *hit;
    /* a match starts with "seq": (each place it occurs, leftmost first) */
    while (i < n && (hit = memmem(s + i, (size_t)(n - i), "\"seq\":", 6)) != NULL) {
        i = hit - s;
        if (tail_at(s, n, i, t))
            return 1;
        i++;
    }
    return 0;
}

/* The digits as an int64, or -1 when there are more than 18 (no seq is that large). */
static long long
small_number(const unsigned char *s, Py_ssize_t len)
{
    if (len > 18)
        return -1;
    long long v = 0;
    for (Py_ssize_t k = 0; k < len; k++)
        v = v * 10 + (s[k] - '0');
    return v;
}

PyDoc_STRVAR(body_tails_doc,
"body_tails(bodies) -> list[tuple[int, bytes | None] | None]\n\n"
"For each event body, what verify.py's _TAIL finds searching from 320 bytes before its\n"
"end: (the seq in the body, the hex subject digest or None when it says null), or None\n"
"when there is no match.");

static PyObject *
body_tails(PyObject *self, PyObject *args)
{
    PyObject *bodies;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &bodies))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(bodies);
    PyObject *result = PyList_New(n);
    if (result == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(bodies, i), *item;
        if (!PyBytes_Check(v)) {
            Py_DECREF(result);
            PyErr_SetString(PyExc_TypeError, "body_tails: bodies must be bytes");
            return NULL;
        }
        const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(v);
        tail_t t;
        if (!tail_search(s, PyBytes_GET_SIZE(v), &t)) {
            item = Py_NewRef(Py_None);
        } else {
            long long small = small_number(s + t.seq_at, t.seq_len);
            PyObject *seq;
            if (small >= 0) {
                seq = PyLong_FromLongLong(small);
            } else {
                PyObject *text = PyUnicode_FromStringAndSize((const char *)s + t.seq_at, t.seq_len);
                seq = text == NULL ? NULL : PyLong_FromUnicodeObject(text, 10);
                Py_XDECREF(text);
            }
            item = seq == NULL ? NULL
                   : t.digest_at < 0
                       ? Py_BuildValue("(NO)", seq, Py_None)
                       : Py_BuildValue("(Ny#)", seq, (const char *)s + t.digest_at, (Py_ssize_t)64);
        }
        if (item == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(result, i, item);
    }
    return result;
}

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

/* ---- package build ------------------------------------------------------------------ */

/* A growable byte buffer (malloc'd; used with the GIL released). */
typedef struct {
    unsigned char *buf;
    size_t len, cap;
} GrowBuf;

static int
grow(GrowBuf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *p = realloc(b->buf, cap);
    if (p == NULL)
        return -1;
    b->buf = p;
    b->cap = cap;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (s[0] >= 0x80), or 0 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t
utf8_seq(const unsigned char *s, const unsigned char *end)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - s) < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return n;
}

static const unsigned char *
skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int
hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    unsigned v = 0;
    if (end - p < 4)
        return -1;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* The JSON string at p (just after its opening quote), unescaped and appended to out.
 * Returns the position after the closing quote, or NULL when the string is malformed,
 * holds an unpaired surrogate or invalid UTF-8, or memory runs out. */
static const unsigned char *
json_string(const unsigned char *p, const unsigned char *end, GrowBuf *out)
{
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80)
            p++;
        if (p > run) {
            if (grow(out, (size_t)(p - run)) < 0)
                return NULL;
            memcpy(out->buf + out->len, run, (size_t)(p - run));
            out->len += (size_t)(p - run);
        }
        if (p >= end)
            return NULL;
        unsigned char c = *p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL; /* a raw control character: not JSON */
        if (c >= 0x80) {
            size_t n = utf8_seq(p, end);
            if (n == 0)
                return NULL;
            if (grow(out, n) < 0)
                return NULL;
            memcpy(out->buf + out->len, p, n);
            out->len += n;
            p += n;
            continue;
        }
        /* a backslash */
        if (end - p < 2)
            return NULL;
        unsigned char e = p[1], one;
        p += 2;
        switch (e) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, end, &cp) < 0)
                return NULL;
            p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return NULL;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return NULL;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (grow(out, 4) < 0)
                return NULL;
            unsigned char *w = out->buf + out->len;
            if (cp < 0x80) {
                w[0] = (unsigned char)cp;
                out->len += 1;
            } else if (cp < 0x800) {
                w[0] = (unsigned char)(0xC0 | (cp >> 6));
                w[1] = (unsigned char)(0x80 | (cp & 0x3F));
                out->len += 2;
            } else if (cp < 0x10000) {
                w[0] = (unsigned char)(0xE0 | (cp >> 12));
                w[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                w[2] = (unsigned char)(0x80 | (cp & 0x3F));
                out->len += 3;
            } else {
                w[0] = (unsigned char)(0xF0 | (cp >> 18));
                w[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                w[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                w[3] = (unsigned char)(0x80 | (cp & 0x3F));
                out->len += 4;
            }
            continue;
        }
        default:
            return NULL;
        }
        if (grow(out, 1) < 0)
            return NULL;
        out->buf[out->len++] = one;
    }
    return NULL;
}

typedef struct {
    GrowBuf data;
    int64_t *offsets;      /* n + 1 */
    unsigned char *valid;  /* (n + 7) / 8, bit r of row r (least significant first) */
    Py_ssize_t nulls;
} DecodedColumn;

/* Decode one payload (a JSON object of text or null values, keys among the nf fields)
 * into row r of the columns. Returns 0, or -1 when the payload is anything else. */
static int
decode_object(const unsigned char *p, const unsigned char *end, const char **names,
              const Py_ssize_t *name_lens, Py_ssize_t nf, DecodedColumn *cols, Py_ssize_t r,
              unsigned char *seen, GrowBuf *keybuf)
{
    memset(seen, 0, (size_t)nf);
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (p >= end || *p != '"')
                return -1;
            keybuf->len = 0;
            p = json_string(p + 1, end, keybuf);
            if (p == NULL)
                return -1;
            const unsigned char *key = keybuf->buf;
            Py_ssize_t klen = (Py_ssize_t)keybuf->len, j = 0;
            while (j < nf && (name_lens[j] != klen ||
                              (klen > 0 && memcmp(names[j], key, (size_t)klen) != 0)))
                j++;
            if (j == nf || seen[j])
                return -1; /* a key outside the fields, or twice */
            seen[j] = 1;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return -1;
            p = skip_ws(p + 1, end);
            if (p < end && *p == '"') {
                p = json_string(p + 1, end, &cols[j].data);
                if (p == NULL)
                    return -1;
                cols[j].valid[r >> 3] |= (unsigned char)(1u << (r & 7));
            } else if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
                p += 4;
            } else {
                return -1;
            }
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p = skip_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return -1;
        }
    }
    return skip_ws(p, end) == end ? 0 : -1;
}

PyDoc_STRVAR(decode_objects_doc,
"decode_objects(payloads, fields) -> [(offsets, data, validity, nulls), ...] or None\n\n"
"Each payload (bytes, or None) a JSON object whose keys are among fields (str) and whose\n"
"values are strings or null: per field, an Arrow large_string column (int64 offsets, UTF-8\n"
"data, validity bitmap, null count); a missing key or a None payload is null. None when\n"
"any payload is something else (another key, a key twice, another value type, malformed\n"
"JSON or UTF-8): the caller then takes the general decoder, which names the fault.");

static PyObject *
decode_objects(PyObject *self, PyObject *args)
{
    PyObject *payloads, *fields, *result = NULL;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &payloads, &PyTuple_Type, &fields))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(payloads), nf = PyTuple_GET_SIZE(fields);
    const char **names = PyMem_Calloc((size_t)nf + 1, sizeof(char *));
    Py_ssize_t *name_lens = PyMem_Calloc((size_t)nf + 1, sizeof(Py_ssize_t));
    const unsigned char **starts = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    Py_ssize_t *lens = PyMem_Calloc((size_t)n + 1, sizeof(Py_ssize_t));
    DecodedColumn *cols = PyMem_Calloc((size_t)nf + 1, sizeof(DecodedColumn));
    unsigned char *seen = PyMem_Calloc((size_t)nf + 1, 1);
    size_t vbytes = (size_t)(n + 7) / 8;
    GrowBuf keybuf = {NULL, 0, 0};
    int failed = 0, oom = 0;
    if (names == NULL || name_lens == NULL || starts == NULL || lens == NULL || cols == NULL ||
        seen == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < nf; j++) {
        PyObject *f = PyTuple_GET_ITEM(fields, j);
        if (!PyUnicode_Check(f)) {
            PyErr_SetString(PyExc_TypeError, "decode_objects: fields must be str");
            goto done;
        }
        names[j] = PyUnicode_AsUTF8AndSize(f, &name_lens[j]);
        if (names[j] == NULL)
            goto done;
        cols[j].offsets = PyMem_Calloc((size_t)n + 1, sizeof(int64_t));
        cols[j].valid = PyMem_Calloc(vbytes + 1, 1);
        if (cols[j].offsets == NULL || cols[j].valid == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(payloads, i);
        if (item == Py_None)
            continue;
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "decode_objects: a payload is not bytes");
            goto done;
        }
        starts[i] = (const unsigned char *)PyBytes_AS_STRING(item);
        lens[i] = PyBytes_GET_SIZE(item);
    }
    /* the list holds the payloads alive; the caller does not change it meanwhile */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        if (starts[i] != NULL &&
            decode_object(starts[i], starts[i] + lens[i], names, name_lens, nf, cols, i, seen,
                          &keybuf) < 0)
            failed = 1;
        for (Py_ssize_t j = 0; j < nf; j++)
            cols[j].offsets[i + 1] = (int64_t)cols[j].data.len;
    }
    for (Py_ssize_t j = 0; j < nf && !failed; j++) {
        if (cols[j].data.buf == NULL && grow(&cols[j].data, 1) < 0)
            oom = 1;
        Py_ssize_t set = 0;
        for (size_t b = 0; b < vbytes; b++)
            set += __builtin_popcount(cols[j].valid[b]);
        cols[j].nulls = n - set;
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        /* memory may have run out in json_string too: then the general decoder answers */
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    if (oom) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyList_New(nf);
    if (result == NULL)
        goto done;
    for (Py_ssize_t j = 0; j < nf; j++) {
        PyObject *t = Py_BuildValue(
            "(y#y#y#n)", (const char *)cols[j].offsets, (Py_ssize_t)((n + 1) * 8),
            (const char *)cols[j].data.buf, (Py_ssize_t)cols[j].data.len,
            (const char *)cols[j].valid, (Py_ssize_t)vbytes, cols[j].nulls);
        if (t == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, j, t);
    }
done:
    if (cols != NULL)
        for (Py_ssize_t j = 0; j < nf; j++) {
            free(cols[j].data.buf);
            PyMem_Free(cols[j].offsets);
            PyMem_Free(cols[j].valid);
        }
    PyMem_Free(cols);
    PyMem_Free(names);
    PyMem_Free(name_lens);
    PyMem_Free(starts);
    PyMem_Free(lens);
    PyMem_Free(seen);
    free(keybuf.buf);
    return result;
}

/* Append s (valid UTF-8) as an RFC 8785 string body: ECMAScript's JSON.stringify escapes. */
static int
jcs_escape(GrowBuf *out, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (grow(out, n * 6) < 0)
        return -1;
    unsigned char *w = out->buf + out->len;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = s[k];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *w++ = c;
            continue;
        }
        *w++ = '\\';
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\b': *w++ = 'b'; break;
        case '\t': *w++ = 't'; break;
        case '\n': *w++ = 'n'; break;
        case '\f': *w++ = 'f'; break;
        case '\r': *w++ = 'r'; break;
        default:
            *w++ = 'u';
            *w++ = '0';
            *w++ = '0';
            *w++ = (unsigned char)hex[c >> 4];
            *w++ = (unsigned char)hex[c & 15];
        }
    }
    out->len = (size_t)(w - out->buf);
    return 0;
}

typedef struct {
    Py_buffer key, valid, offsets, data;
    Py_ssize_t offset; /* of the array in its buffers (a slice) */
} RecordColumn;

PyDoc_STRVAR(record_hashes_doc,
"record_hashes(n, columns) -> list[bytes]\n\n"
"The RFC 9162 leaf hash SHA-256(0x00 || RFC 8785 JSON) of each of n records whose text\n"
"columns are given in RFC 8785 key order as (key, validity, offsets, data, offset): key the\n"
"JSON member name with its quotes and colon, then an Arrow large_string array's buffers\n"
"(validity None: no nulls) and its offset; a null is written null.");

static PyObject *
record_hashes(PyObject *self, PyObject *args)
{
    PyObject *columns, *result = NULL;
    Py_ssize_t n;
    RecordColumn *cols = NULL;
    unsigned char **outs = NULL;
    GrowBuf json = {NULL, 0, 0};
    EVP_MD_CTX *md = NULL;
    Py_ssize_t nc = 0, parsed = 0;
    int failed = 0;

    if (!PyArg_ParseTuple(args, "nO!", &n, &PyList_Type, &columns))
        return NULL;
    nc = PyList_GET_SIZE(columns);
    cols = PyMem_Calloc((size_t)nc + 1, sizeof(RecordColumn));
    outs = PyMem_Calloc((size_t)n + 1, sizeof(unsigned char *));
    md = EVP_MD_CTX_new();
    if (n < 0 || cols == NULL || outs == NULL || md == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; parsed < nc; parsed++) {
        RecordColumn *c = &cols[parsed];
        PyObject *valid;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(columns, parsed), "y*Oy*y*n", &c->key, &valid,
                              &c->offsets, &c->data, &c->offset))
            goto done;
        if (valid != Py_None && PyObject_GetBuffer(valid, &c->valid, PyBUF_SIMPLE) < 0) {
            PyBuffer_Release(&c->key);
            PyBuffer_Release(&c->offsets);
            PyBuffer_Release(&c->data);
            goto done;
        }
        const int64_t *off = (const int64_t *)c->offsets.buf + c->offset;
        if (c->offset < 0 || c->offsets.len < (c->offset + n + 1) * 8 ||
            (c->valid.buf != NULL && c->valid.len * 8 < c->offset + n) || off[0] < 0 ||
            off[n] > c->data.len) {
            parsed++;
            PyErr_SetString(PyExc_ValueError, "record_hashes: a column is shorter than n");
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            if (off[i + 1] < off[i]) {
                parsed++;
                PyErr_SetString(PyExc_ValueError, "record_hashes: offsets go backwards");
                goto done;
            }
    }
    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *out = PyBytes_FromStringAndSize(NULL, 32);
        if (out == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        outs[i] = (unsigned char *)PyBytes_AS_STRING(out);
        PyList_SET_ITEM(result, i, out);
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        json.len = 0;
        if (grow(&json, 2) < 0) {
            failed = 1;
            break;
        }
        json.buf[json.len++] = 0x00; /* the leaf prefix */
        json.buf[json.len++] = '{';
        for (Py_ssize_t j = 0; j < nc && !failed; j++) {
            RecordColumn *c = &cols[j];
            Py_ssize_t at = c->offset + i;
            const unsigned char *v = c->valid.buf;
            int present = v == NULL || (v[at >> 3] >> (at & 7)) & 1;
            if (grow(&json, (size_t)c->key.len + 6) < 0) {
                failed = 1;
                break;
            }
            if (j > 0)
                json.buf[json.len++] = ',';
            memcpy(json.buf + json.len, c->key.buf, (size_t)c->key.len);
            json.len += (size_t)c->key.len;
            if (!present) {
                memcpy(json.buf + json.len, "null", 4);
                json.len += 4;
                continue;
            }
            const int64_t *off = (const int64_t *)c->offsets.buf + at;
            json.buf[json.len++] = '"';
            if (jcs_escape(&json, (const unsigned char *)c->data.buf + off[0],
                           (size_t)(off[1] - off[0])) < 0 ||
                grow(&json, 2) < 0) {
                failed = 1;
                break;
            }
            json.buf[json.len++] = '"';
        }
        if (failed || grow(&json, 1) < 0) {
            failed = 1;
            break;
        }
        json.buf[json.len++] = '}';
        failed = !sha256_parts(md, json.buf, json.len, NULL, 0, NULL, 0, outs[i]);
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_RuntimeError, "record_hashes: out of memory or SHA-256 failed");
    }
done:
    for (Py_ssize_t j = 0; j < parsed && cols != NULL; j++) {
        PyBuffer_Release(&cols[j].key);
        PyBuffer_Release(&cols[j].offsets);
        PyBuffer_Release(&cols[j].data);
        if (cols[j].valid.buf != NULL)
            PyBuffer_Release(&cols[j].valid);
    }
    free(json.buf);
    EVP_MD_CTX_free(md);
    PyMem_Free(cols);
    PyMem_Free(outs);
    return result;
}

/* ---- module ------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"seal_rows", seal_rows, METH_VARARGS, seal_rows_doc},
    {"open_rows", open_rows, METH_VARARGS, open_rows_doc},
    {"blind_many", blind_many, METH_VARARGS, blind_many_doc},
    {"blind_column", blind_column, METH_VARARGS, blind_column_doc},
    {"leaf_hashes", leaf_hashes, METH_VARARGS, leaf_hashes_doc},
    {"merkle_root", merkle_root, METH_VARARGS, merkle_root_doc},
    {"subject_digests", subject_digests, METH_VARARGS, subject_digests_doc},
    {"body_tails", body_tails, METH_VARARGS, body_tails_doc},
    {"audit_chunk", audit_chunk, METH_VARARGS, audit_chunk_doc},
    {"sqlite_register", sqlite_register, METH_NOARGS, sqlite_register_doc},
    {"decode_objects", decode_objects, METH_VARARGS, decode_objects_doc},
    {"record_hashes", record_hashes, METH_VARARGS, record_hashes_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "dealvault._native",
    "Batch kernels of the hot paths (AES-256-GCM, BLAKE2b, SHA-256) against libcrypto.", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    if (fetch_algorithms() < 0)
        return NULL;
    return PyModule_Create(&module);
}
