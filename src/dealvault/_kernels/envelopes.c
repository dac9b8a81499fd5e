/* One file of the batch kernels of dealvault._native (the overview is in module.c). */
#include "kernels.h"

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

/* Decrypt items[0 .. kept*ncat) in place, row by row (one key set-up per row): an envelope
 * is authenticated with aad = its header || prefix || str(record_id) || suffixes[j]; a
 * failure sets its `bad`. Runs with the GIL released (suffixes is a tuple of bytes the caller
 * holds); `aad` is large enough for the longest. Returns 0, or -1 when OpenSSL itself failed. */
int
open_items(EVP_CIPHER_CTX *ctx, OpenItem *items, Py_ssize_t kept, Py_ssize_t ncat,
           const Py_buffer *prefix, PyObject *suffixes, unsigned char *aad)
{
    for (Py_ssize_t r = 0; r < kept; r++) {
        int keyed = 0;
        for (Py_ssize_t j = 0; j < ncat; j++) {
            OpenItem *it = &items[r * ncat + j];
            if (it->out == NULL)
                continue;
            if (!keyed) {
                if (!EVP_DecryptInit_ex2(ctx, NULL, it->key, NULL, NULL))
                    return -1;
                keyed = 1;
            }
            Py_ssize_t at = it->head_len;
            memcpy(aad, it->env, (size_t)at);
            memcpy(aad + at, prefix->buf, (size_t)prefix->len);
            at += prefix->len;
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
    return 0;
}

/* Pass 3 of open_rows and open_pack: each envelope that failed gets None as its payload
 * (never its unauthenticated bytes) and a (opened row, column, input row) entry in
 * `failures`, for the caller's careful path. GIL held; 0, or -1 with an exception set. */
int
name_failures(const OpenItem *items, Py_ssize_t kept, Py_ssize_t ncat, PyObject *payloads,
              PyObject *failures)
{
    for (Py_ssize_t r = 0; r < kept; r++)
        for (Py_ssize_t j = 0; j < ncat; j++) {
            const OpenItem *it = &items[r * ncat + j];
            if (!it->bad)
                continue;
            Py_INCREF(Py_None);
            if (PyList_SetItem(PyList_GET_ITEM(payloads, j), r, Py_None) < 0)
                return -1;
            PyObject *f = Py_BuildValue("(nnn)", r, j, it->row);
            if (f == NULL || PyList_Append(failures, f) < 0) {
                Py_XDECREF(f);
                return -1;
            }
            Py_DECREF(f);
        }
    return 0;
}

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
            it->row = i;
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
    crypto_error = open_items(ctx, items, kept, ncat, &prefix, suffixes, aad) < 0;
    Py_END_ALLOW_THREADS
    if (crypto_error) {
        PyErr_SetString(PyExc_RuntimeError, "open_rows: AES-256-GCM failed");
        goto done;
    }
    if (name_failures(items, kept, ncat, payloads, failures) < 0)
        goto done;
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

PyMethodDef dv_envelope_methods[] = {
    {"seal_rows", seal_rows, METH_VARARGS, seal_rows_doc},
    {"open_rows", open_rows, METH_VARARGS, open_rows_doc},
    {NULL, NULL, 0, NULL},
};
