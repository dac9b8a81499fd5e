/* Batch kernels of the hot paths, against OpenSSL's libcrypto and zlib: one call per batch.
 *
 * seal_rows     AES-256-GCM envelopes of a batch of customers, each under its own key
 * open_rows     the reverse, for the rows of customer_records
 * blind_many    keyed BLAKE2b-128 blind indexes of a column (RFC 7693, personalised)
 * leaf_hashes   SHA-256(prefix || item) of each item (RFC 9162 leaves)
 * merkle_root   the RFC 9162 root of a list of leaf hashes
 * subject_digests  hex SHA-256 of each stored subject list (zlib-inflated when compressed)
 * decode_objects   a batch of JSON objects of text values to Arrow string columns
 * record_hashes    RFC 9162 leaf hashes of the RFC 8785 JSON of records in Arrow columns
 *
 * Every function produces the bytes the Python code of dealvault.native produces (the
 * tests compare both); the envelope format is dealvault.crypto.envelope's. Inputs are
 * checked and turned into Python objects with the GIL held; the cryptography runs with the
 * GIL released, so threads of the same process can use both cores.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
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
static EVP_MAC *blake2b_mac = NULL;

static int
fetch_algorithms(void)
{
    if (aes_gcm == NULL)
        aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (sha256_md == NULL)
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (blake2b_mac == NULL)
        blake2b_mac = EVP_MAC_fetch(NULL, "BLAKE2BMAC", NULL);
    if (aes_gcm == NULL || sha256_md == NULL || blake2b_mac == NULL) {
        PyErr_SetString(PyExc_ImportError, "libcrypto lacks AES-256-GCM, SHA-256 or BLAKE2BMAC");
        return -1;
    }
    return 0;
}

/* A list of exactly n items, or a TypeError. */
static int
check_list(PyObject *obj, Py_ssize_t n, const char *what)
{
    if (!PyList_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a list", what);
        return -1;
    }
    if (n >= 0 && PyList_GET_SIZE(obj) != n) {
        PyErr_Format(PyExc_ValueError, "%s has %zd items, expected %zd", what,
                     PyList_GET_SIZE(obj), n);
        return -1;
    }
    return 0;
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
    PyObject *posts, *columns, *result = NULL;
    SealItem *items = NULL;
    unsigned char *aad = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    int failed = 0;

    if (!PyArg_ParseTuple(args, "y*y*y*LO!O!y*", &keys, &head, &prefix, &start, &PyTuple_Type,
                          &posts, &PyList_Type, &columns, &nonces))
        return NULL;
    Py_ssize_t ncat = PyTuple_GET_SIZE(posts);
    Py_ssize_t n = keys.len / KEY_LEN;
    if (keys.len % KEY_LEN || PyList_GET_SIZE(columns) != ncat ||
        nonces.len < (Py_ssize_t)NONCE_LEN * n * ncat) {
        PyErr_SetString(PyExc_ValueError, "seal_rows: keys, columns and nonces do not agree");
        goto done;
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
        if (check_list(PyList_GET_ITEM(columns, j), n, "seal_rows: a column") < 0)
            goto done;
    }
    items = PyMem_Calloc((size_t)(n * ncat) + 1, sizeof(SealItem));
    aad = PyMem_Malloc((size_t)(head.len + prefix.len + max_post + 24));
    result = PyList_New(ncat);
    if (items == NULL || aad == NULL || result == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t j = 0; j < ncat; j++) {
        PyObject *col = PyList_GET_ITEM(columns, j);
        PyObject *out = PyList_New(n);
        if (out == NULL)
            goto fail;
        PyList_SET_ITEM(result, j, out);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *v = PyList_GET_ITEM(col, i);
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
    Py_buffer prefix;
    OpenItem *items = NULL;
    unsigned char *aad = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    Py_ssize_t skipped = 0, kept = 0;
    int crypto_error = 0;

    if (!PyArg_ParseTuple(args, "O!O!y*O!", &PyList_Type, &rows, &PyList_Type, &keys, &prefix,
                          &PyTuple_Type, &suffixes))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(rows), ncat = PyTuple_GET_SIZE(suffixes);
    Py_ssize_t max_suffix = 0;
    if (check_list(keys, n, "open_rows: keys") < 0)
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
        PyObject *row = PyList_GET_ITEM(rows, i), *key = PyList_GET_ITEM(keys, i);
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
    /* pass 2, GIL released: decrypt. The row objects stay alive: `rows` holds them. */
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
        if (PyList_GET_ITEM(keys, i) == Py_None)
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
    PyObject *values, *result = NULL;
    const char **ptrs = NULL;
    Py_ssize_t *lens = NULL;
    unsigned char **outs = NULL;
    EVP_MAC_CTX *mac = NULL;
    int failed = 0;

    if (!PyArg_ParseTuple(args, "y*y*O!", &key, &person, &PyList_Type, &values))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(values);
    if (person.len > 16 || key.len < 1 || key.len > 64) {
        PyErr_SetString(PyExc_ValueError, "blind_many: key of 1-64 bytes, person of <= 16");
        goto done;
    }
    ptrs = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    lens = PyMem_Calloc((size_t)n + 1, sizeof(Py_ssize_t));
    outs = PyMem_Calloc((size_t)n + 1, sizeof(unsigned char *));
    result = PyList_New(n);
    if (ptrs == NULL || lens == NULL || outs == NULL || result == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(values, i);
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
    mac = EVP_MAC_CTX_new(blake2b_mac);
    size_t size = BLIND_LEN;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_CUSTOM, person.buf,
                                                  (size_t)person.len);
    params[1] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
    params[2] = OSSL_PARAM_construct_end();
    if (mac == NULL || !EVP_MAC_CTX_set_params(mac, params)) {
        PyErr_SetString(PyExc_RuntimeError, "blind_many: cannot set up BLAKE2BMAC");
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        if (outs[i] == NULL)
            continue;
        size_t outl = 0;
        if (!EVP_MAC_init(mac, key.buf, (size_t)key.len, NULL) ||
            !EVP_MAC_update(mac, (const unsigned char *)ptrs[i], (size_t)lens[i]) ||
            !EVP_MAC_final(mac, outs[i], &outl, BLIND_LEN) || outl != BLIND_LEN) {
            failed = 1;
            break;
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_RuntimeError, "blind_many: BLAKE2BMAC failed");
        goto fail;
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    EVP_MAC_CTX_free(mac);
    PyMem_Free(ptrs);
    PyMem_Free(lens);
    PyMem_Free(outs);
    PyBuffer_Release(&key);
    PyBuffer_Release(&person);
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
    PyObject *items, *result = NULL;
    Py_buffer prefix = {0};
    const char **ptrs = NULL;
    Py_ssize_t *lens = NULL;
    unsigned char **outs = NULL;
    EVP_MD_CTX *md = NULL;
    int failed = 0;
    static const unsigned char zero = 0;

    if (!PyArg_ParseTuple(args, "O!|y*", &PyList_Type, &items, &prefix))
        return NULL;
    const void *pre = prefix.buf != NULL ? prefix.buf : &zero;
    size_t pre_len = prefix.buf != NULL ? (size_t)prefix.len : 1;
    Py_ssize_t n = PyList_GET_SIZE(items);
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
        PyObject *v = PyList_GET_ITEM(items, i);
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
    PyMem_Free(ptrs);
    PyMem_Free(lens);
    PyMem_Free(outs);
    if (prefix.buf != NULL)
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
    PyObject *packs, *result = NULL;
    const unsigned char **ptrs = NULL;
    Py_ssize_t *lens = NULL;
    unsigned char **outs = NULL, *buf = NULL;
    EVP_MD_CTX *md = NULL;
    int failed = 0;
    static const char hexd[] = "0123456789abcdef";

    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &packs))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(packs);
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
        PyObject *v = PyList_GET_ITEM(packs, i);
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
    PyMem_Free(ptrs);
    PyMem_Free(lens);
    PyMem_Free(outs);
    PyMem_Free(buf);
    return result;
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
    {"leaf_hashes", leaf_hashes, METH_VARARGS, leaf_hashes_doc},
    {"merkle_root", merkle_root, METH_VARARGS, merkle_root_doc},
    {"subject_digests", subject_digests, METH_VARARGS, subject_digests_doc},
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
