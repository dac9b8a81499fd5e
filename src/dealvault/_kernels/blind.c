/* One file of the batch kernels of dealvault._native (the overview is in module.c). */
#include "kernels.h"

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

PyMethodDef dv_blind_methods[] = {
    {"blind_many", blind_many, METH_VARARGS, blind_many_doc},
    {"blind_column", blind_column, METH_VARARGS, blind_column_doc},
    {NULL, NULL, 0, NULL},
};
