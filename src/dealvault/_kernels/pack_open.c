/* One file of the batch kernels of dealvault._native (the overview is in module.c). */
#include "kernels.h"

/* ---- open_pack: open_rows (envelopes.c) over a pack, without a Python object per envelope */

PyDoc_STRVAR(open_pack_doc,
"open_pack(pack, keys, prefix, suffixes) -> (ids, subjects, payloads, skipped, failures)\n\n"
"open_rows over the rows of a pack (record_id, subject_id, *envelopes, ...) with its packed\n"
"keys (see unpack_rows): the same result, with no Python object made per envelope.\n"
"failures lists (opened row, column, row of the pack). ValueError when the pack or keys\n"
"are not well-formed, TypeError when a row does not hold an integer, a text and an\n"
"envelope (or NULL) per suffix.");

static PyObject *
open_pack(PyObject *self, PyObject *args)
{
    Py_buffer pack, keys, prefix;
    PyObject *suffixes, *result = NULL;
    PyObject *ids = NULL, *subjects = NULL, *payloads = NULL, *failures = NULL;
    OpenItem *items = NULL;
    unsigned char *aad = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    Py_ssize_t skipped = 0, kept = 0, max_suffix = 0;
    int crypto_error = 0;
    pack_head_t h;

    if (!PyArg_ParseTuple(args, "y*y*y*O!", &pack, &keys, &prefix, &PyTuple_Type, &suffixes))
        return NULL;
    Py_ssize_t ncat = PyTuple_GET_SIZE(suffixes);
    const unsigned char *k = keys.buf;
    if (!pack_head(pack.buf, (size_t)pack.len, (size_t)keys.len, &h))
        goto done;
    if (h.n > 0 && (Py_ssize_t)h.ncols < 2 + ncat) {
        PyErr_SetString(PyExc_ValueError, "open_pack: rows are too short");
        goto done;
    }
    for (Py_ssize_t j = 0; j < ncat; j++) {
        PyObject *s = PyTuple_GET_ITEM(suffixes, j);
        if (!PyBytes_Check(s)) {
            PyErr_SetString(PyExc_TypeError, "open_pack: suffixes must be bytes");
            goto done;
        }
        if (PyBytes_GET_SIZE(s) > max_suffix)
            max_suffix = PyBytes_GET_SIZE(s);
    }
    /* h.n <= pack.len / 8: the product cannot overflow */
    items = PyMem_Calloc((size_t)h.n * (size_t)ncat + 1, sizeof(OpenItem));
    aad = PyMem_Malloc((size_t)(FIXED_LEN + 255 + 4 + prefix.len + 24 + max_suffix));
    ids = PyList_New(0);
    subjects = PyList_New(0);
    payloads = PyList_New(ncat);
    failures = PyList_New(0);
    if (items == NULL || aad == NULL || ids == NULL || subjects == NULL || payloads == NULL ||
        failures == NULL) {
        if (!PyErr_Occurred())
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
    size_t pos = PACK_HEAD;
    for (uint64_t i = 0; i < h.n; i++) {
        int tag;
        size_t at, len;
        const unsigned char *key = k + 32 * i;
        if (!k[32 * h.n + i]) { /* no key: skipped, its values passed over */
            skipped++;
            for (uint32_t c = 0; c < h.ncols; c++)
                if (!pack_field(&h, &pos, &tag, &at, &len))
                    goto done;
            continue;
        }
        if (!pack_field(&h, &pos, &tag, &at, &len))
            goto done;
        if (tag != T_INT) {
            PyErr_SetString(PyExc_TypeError, "open_pack: a record id is not an integer");
            goto done;
        }
        long long rid = (long long)get_u64(h.p + at);
        PyObject *id = PyLong_FromLongLong(rid);
        int rc = id == NULL ? -1 : PyList_Append(ids, id);
        Py_XDECREF(id);
        if (rc < 0 || !pack_field(&h, &pos, &tag, &at, &len))
            goto done;
        if (tag != T_TEXT) {
            PyErr_SetString(PyExc_TypeError, "open_pack: a subject id is not a text");
            goto done;
        }
        PyObject *subject = PyUnicode_DecodeUTF8((const char *)h.p + at, (Py_ssize_t)len, NULL);
        rc = subject == NULL ? -1 : PyList_Append(subjects, subject);
        Py_XDECREF(subject);
        if (rc < 0)
            goto done;
        for (Py_ssize_t j = 0; j < ncat; j++) {
            PyObject *out = Py_None;
            OpenItem *it = &items[kept * ncat + j];
            if (!pack_field(&h, &pos, &tag, &at, &len))
                goto done;
            it->key = key;
            it->record_id = rid;
            it->row = (Py_ssize_t)i;
            if (tag == T_BLOB) {
                it->env = h.p + at;
                Py_ssize_t head = envelope_head_len(it->env, (Py_ssize_t)len);
                if (head < 0 || len - (size_t)head - NONCE_LEN - TAG_LEN > INT_MAX) {
                    it->bad = 1;
                } else {
                    it->head_len = head;
                    it->pt_len = (Py_ssize_t)(len - (size_t)head - NONCE_LEN - TAG_LEN);
                    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)it->pt_len);
                    if (out == NULL)
                        goto done;
                    it->out = (unsigned char *)PyBytes_AS_STRING(out);
                }
            } else if (tag != T_NULL) {
                PyErr_SetString(PyExc_TypeError, "open_pack: an envelope is not bytes");
                goto done;
            }
            if (out == Py_None)
                Py_INCREF(Py_None);
            rc = PyList_Append(PyList_GET_ITEM(payloads, j), out);
            Py_DECREF(out);
            if (rc < 0)
                goto done;
        }
        for (uint32_t c = (uint32_t)(2 + ncat); c < h.ncols; c++) /* trailing columns */
            if (!pack_field(&h, &pos, &tag, &at, &len))
                goto done;
        kept++;
    }
    if (pos != h.end) {
        malformed();
        goto done;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || !EVP_DecryptInit_ex2(ctx, aes_gcm, NULL, NULL, NULL)) {
        PyErr_SetString(PyExc_RuntimeError, "open_pack: cannot set up AES-256-GCM");
        goto done;
    }
    /* pass 2, GIL released: decrypt. The buffers of pack and keys stay exported (bytes do
     * not change; a bytearray cannot be resized meanwhile). */
    Py_BEGIN_ALLOW_THREADS
    crypto_error = open_items(ctx, items, kept, ncat, &prefix, suffixes, aad) < 0;
    Py_END_ALLOW_THREADS
    if (crypto_error) {
        PyErr_SetString(PyExc_RuntimeError, "open_pack: AES-256-GCM failed");
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
    PyMem_Free(items);
    PyMem_Free(aad);
    PyBuffer_Release(&pack);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&prefix);
    return result;
}

PyMethodDef dv_pack_open_methods[] = {
    {"open_pack", open_pack, METH_VARARGS, open_pack_doc},
    {NULL, NULL, 0, NULL},
};
