/* Batch kernels of the hot paths, against OpenSSL's libcrypto and zlib: one call per batch.
 *
 * seal_rows     AES-256-GCM envelopes of a batch of customers, each under its own key
 * open_rows     the reverse, for the rows of customer_records
 * blind_many    keyed BLAKE2b-128 blind indexes of a column (RFC 7693, personalised; our own
 *               BLAKE2b below, so the key block is compressed once per column)
 * blind_column  the same over an Arrow string column's buffers
 * leaf_hashes   SHA-256(prefix || item) of each item (RFC 9162 leaves)
 * merkle_root   the RFC 9162 root of a list of leaf hashes
 * subject_digests  hex SHA-256 of each stored subject list (zlib-inflated when compressed)
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
"The RFC 9162 Merkle tree hash of a non-empty list of 32-byte leaf hashes.");

static PyObject *
merkle_root(PyObject *self, PyObject *args)
{
    PyObject *leaves;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &leaves))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(leaves);
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
    for (Py_ssize_t i = 0; i < n; i++) {
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

/* ---- module ------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"seal_rows", seal_rows, METH_VARARGS, seal_rows_doc},
    {"open_rows", open_rows, METH_VARARGS, open_rows_doc},
    {"blind_many", blind_many, METH_VARARGS, blind_many_doc},
    {"blind_column", blind_column, METH_VARARGS, blind_column_doc},
    {"leaf_hashes", leaf_hashes, METH_VARARGS, leaf_hashes_doc},
    {"merkle_root", merkle_root, METH_VARARGS, merkle_root_doc},
    {"subject_digests", subject_digests, METH_VARARGS, subject_digests_doc},
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
