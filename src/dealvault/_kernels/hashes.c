/* One file of the batch kernels of dealvault._native (the overview is in module.c). */
#include "kernels.h"

/* ---- SHA-256: leaves, roots, subject lists ----------------------------------------- */

int
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

int
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

PyMethodDef dv_hash_methods[] = {
    {"leaf_hashes", leaf_hashes, METH_VARARGS, leaf_hashes_doc},
    {"merkle_root", merkle_root, METH_VARARGS, merkle_root_doc},
    {"subject_digests", subject_digests, METH_VARARGS, subject_digests_doc},
    {NULL, NULL, 0, NULL},
};
