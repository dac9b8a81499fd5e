/* dealvault._native: batch kernels of the hot paths, against OpenSSL's libcrypto, zlib and SQLite: one call per
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
 * dv_pack_rows     a SQLite aggregate (pack_register): a batch of customer rows as one blob
 *                  built inside SQLite, so the package build's reader makes no Python object
 *                  per value; unpack_rows gives the rows back (in a worker process)
 * open_pack        open_rows over such a pack, with no Python object per envelope
 *
 * Every function produces the bytes the Python code of dealvault.native produces (the
 * tests compare both); the envelope format is dealvault.crypto.envelope's. Inputs are
 * checked and turned into Python objects with the GIL held; the cryptography runs with the
 * GIL released, so threads of the same process can use both cores. While the GIL is
 * released another thread may change the caller's lists, so each function first takes a
 * tuple of their items (and open_rows a reference to each envelope): the bytes it reads
 * then stay alive until it returns.
 *
 * One file per group (envelopes.c, blind.c, hashes.c, audit_tails.c, audit_chunk.c,
 * json_decode.c, record_hashes.c, pack_rows.c, pack_open.c), each with its table of
 * functions; kernels.h holds what they share. This file holds the shared helpers and the module.
 */
#include "kernels.h"

/* ---- small helpers ---------------------------------------------------------------- */

EVP_CIPHER *aes_gcm = NULL;
EVP_MD *sha256_md = NULL;

int
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
PyObject *
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
Py_ssize_t
envelope_head_len(const unsigned char *p, Py_ssize_t len)
{
    if (len < FIXED_LEN || p[0] != 'D' || p[1] != 'V' || p[2] != 1 || p[3] != 1)
        return -1;
    Py_ssize_t head = FIXED_LEN + p[4] + 4;
    if (len < head + NONCE_LEN + TAG_LEN)
        return -1;
    return head;
}

/* ---- module ------------------------------------------------------------------------- */

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "dealvault._native",
    "Batch kernels of the hot paths (AES-256-GCM, BLAKE2b, SHA-256) against libcrypto.", -1,
    NULL,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    PyMethodDef *tables[] = {dv_envelope_methods, dv_blind_methods, dv_hash_methods, dv_audit_tail_methods, dv_audit_chunk_methods, dv_json_methods, dv_record_hash_methods, dv_pack_methods, dv_pack_open_methods};
    if (fetch_algorithms() < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (PyModule_AddFunctions(m, tables[i]) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    return m;
}
