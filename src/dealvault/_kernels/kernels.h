/* What the files of dealvault._native share: libraries, sizes, shared helpers, the tables
 * of functions each file defines. Only PyInit__native is exported (-fvisibility=hidden). */
#ifndef DEALVAULT_KERNELS_H
#define DEALVAULT_KERNELS_H

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

/* module.c */
extern EVP_CIPHER *aes_gcm;
extern EVP_MD *sha256_md;
int fetch_algorithms(void);
PyObject *frozen_list(PyObject *obj, Py_ssize_t n, const char *what);
Py_ssize_t envelope_head_len(const unsigned char *p, Py_ssize_t len);

/* envelopes.c: one envelope to open (open_rows, open_pack) */
typedef struct {
    const unsigned char *env;
    PyObject *blob; /* open_rows: the envelope, held until the end when the row is not a tuple */
    Py_ssize_t head_len;
    Py_ssize_t pt_len;
    unsigned char *out; /* NULL: no envelope */
    const unsigned char *key;
    long long record_id;
    Py_ssize_t row; /* the row's place in the input (rows without a key included) */
    int bad;        /* malformed header, or authentication failed */
} OpenItem;

int open_items(EVP_CIPHER_CTX *ctx, OpenItem *items, Py_ssize_t kept, Py_ssize_t ncat,
               const Py_buffer *prefix, PyObject *suffixes, unsigned char *aad);
int name_failures(const OpenItem *items, Py_ssize_t kept, Py_ssize_t ncat, PyObject *payloads,
                  PyObject *failures);

/* hashes.c */
int sha256_parts(EVP_MD_CTX *md, const void *a, size_t alen, const void *b, size_t blen,
                 const void *c, size_t clen, unsigned char *out);
int digest_inflated(EVP_MD_CTX *md, const unsigned char *p, Py_ssize_t len, unsigned char *buf,
                    size_t buf_len, unsigned char *out);

/* audit_tails.c */
#define TAIL_BYTES 320

typedef struct {
    Py_ssize_t seq_at, seq_len; /* the digits of "seq" */
    Py_ssize_t digest_at;       /* the 64 hex digits of the subject digest, or -1 (null) */
} tail_t;

int lit(const unsigned char *s, Py_ssize_t n, Py_ssize_t *i, const char *word);
Py_ssize_t digits(const unsigned char *s, Py_ssize_t n, Py_ssize_t i);
int tail_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, tail_t *t);
int tail_search(const unsigned char *s, Py_ssize_t n, tail_t *t);
long long small_number(const unsigned char *s, Py_ssize_t len);

/* json_decode.c */
/* A growable byte buffer (malloc'd; used with the GIL released). */
typedef struct {
    unsigned char *buf;
    size_t len, cap;
} GrowBuf;

int grow(GrowBuf *b, size_t more);

/* pack_rows.c: packs of rows built by the SQLite aggregate dv_pack_rows (format there) */
#define PACK_HEAD 40
#define PACK_MAGIC "DVP1"
enum { T_NULL, T_INT, T_TEXT, T_BLOB };

typedef struct {
    const unsigned char *p;
    size_t end; /* end of the row section */
    uint32_t ncols;
    uint64_t n;
} pack_head_t;

uint64_t get_u64(const unsigned char *p);
PyObject *malformed(void);
int pack_head(const unsigned char *p, size_t size, size_t keys_len, pack_head_t *h);
int pack_field(const pack_head_t *h, size_t *pos, int *tag, size_t *at, size_t *len);

/* the tables of functions, one per file */
extern PyMethodDef dv_envelope_methods[];
extern PyMethodDef dv_blind_methods[];
extern PyMethodDef dv_hash_methods[];
extern PyMethodDef dv_audit_tail_methods[];
extern PyMethodDef dv_audit_chunk_methods[];
extern PyMethodDef dv_json_methods[];
extern PyMethodDef dv_record_hash_methods[];
extern PyMethodDef dv_pack_methods[];
extern PyMethodDef dv_pack_open_methods[];

#endif
