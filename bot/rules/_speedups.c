/* The loops of the rule matcher that touch hundreds of values per story, in C.
 *
 * CheckSet: a story's key hashes and the filter of an index's (check hash, slot) pairs
 * against them. bot/rules/checkset.py holds the same in Python and says what it is
 * for. In Python every hash and every pair is an int object made and freed per story;
 * here they are plain 64-bit words in one table.
 *
 * singles(): a field's chunks looked up in the chunk cache, with their stems and the
 * set of them, in one pass (_Tokens in bot/rules/document.py, three passes in Python).
 *
 * near(): whether two stems occur as a phrase, or within N tokens, in one scan of a
 * field's stems. Positions.near in bot/rules/document.py does it in Python with a map
 * of each stem's first and last position, built per story.
 *
 * Each must agree exactly with its Python twin (tests/test_rules_speedups.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    uint64_t *keys;
    uint8_t *used;
    Py_ssize_t size;
    int bits; /* the table holds 1 << bits entries */
} CheckSet;

#define MIN_BITS 11

static inline size_t
slot_of(uint64_t value, int bits)
{
    /* Fibonacci hashing: spreads salted hashes and small values alike. */
    return (size_t)((value * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
}

static int
table_alloc(CheckSet *self, int bits)
{
    size_t n = (size_t)1 << bits;
    uint64_t *keys = PyMem_Malloc(n * sizeof(uint64_t));
    uint8_t *used = PyMem_Calloc(n, 1);
    if (keys == NULL || used == NULL) {
        PyMem_Free(keys);
        PyMem_Free(used);
        PyErr_NoMemory();
        return -1;
    }
    self->keys = keys;
    self->used = used;
    self->bits = bits;
    self->size = 0;
    return 0;
}

static inline int
contains(const CheckSet *self, uint64_t value)
{
    size_t mask = ((size_t)1 << self->bits) - 1;
    size_t i = slot_of(value, self->bits);
    while (self->used[i]) {
        if (self->keys[i] == value) {
            return 1;
        }
        i = (i + 1) & mask;
    }
    return 0;
}

static inline void
insert_unchecked(CheckSet *self, uint64_t value)
{
    size_t mask = ((size_t)1 << self->bits) - 1;
    size_t i = slot_of(value, self->bits);
    while (self->used[i]) {
        if (self->keys[i] == value) {
            return;
        }
        i = (i + 1) & mask;
    }
    self->used[i] = 1;
    self->keys[i] = value;
    self->size++;
}

static int
insert(CheckSet *self, uint64_t value)
{
    /* Kept at most half full, so probes stay short. */
    if ((self->size + 1) * 2 > ((Py_ssize_t)1 << self->bits)) {
        uint64_t *old_keys = self->keys;
        uint8_t *old_used = self->used;
        size_t old_n = (size_t)1 << self->bits;
        if (table_alloc(self, self->bits + 1) < 0) {
            self->keys = old_keys;
            self->used = old_used;
            return -1;
        }
        for (size_t i = 0; i < old_n; i++) {
            if (old_used[i]) {
                insert_unchecked(self, old_keys[i]);
            }
        }
        PyMem_Free(old_keys);
        PyMem_Free(old_used);
    }
    insert_unchecked(self, value);
    return 0;
}

static PyObject *
CheckSet_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "CheckSet() takes no arguments");
        return NULL;
    }
    CheckSet *self = (CheckSet *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    if (table_alloc(self, MIN_BITS) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void
CheckSet_dealloc(CheckSet *self)
{
    PyMem_Free(self->keys);
    PyMem_Free(self->used);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* add(value): adds one 64-bit value (a Python int in the int64 range). */
static PyObject *
CheckSet_add(CheckSet *self, PyObject *value)
{
    long long v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (insert(self, (uint64_t)v) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* add_hashes(objects, salt=0): adds hash(o) ^ salt for every object. */
static PyObject *
CheckSet_add_hashes(CheckSet *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "add_hashes(objects, salt=0)");
        return NULL;
    }
    uint64_t salt = 0;
    if (nargs == 2) {
        long long s = PyLong_AsLongLong(args[1]);
        if (s == -1 && PyErr_Occurred()) {
            return NULL;
        }
        salt = (uint64_t)s;
    }
    PyObject *iterator = PyObject_GetIter(args[0]);
    if (iterator == NULL) {
        return NULL;
    }
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        Py_hash_t h = PyObject_Hash(item);
        Py_DECREF(item);
        if (h == -1 || insert(self, (uint64_t)h ^ salt) < 0) {
            Py_DECREF(iterator);
            return NULL;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Adds to ``out`` the slot of every (check, slot) pair of one buffer whose check is held. */
static int
select_pairs(CheckSet *self, PyObject *buffer, PyObject *out)
{
    Py_buffer view;
    if (PyObject_GetBuffer(buffer, &view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (view.len % 16 != 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "a buffer of (check, slot) pairs has a torn pair");
        return -1;
    }
    const char *data = view.buf;
    Py_ssize_t pairs = view.len / 16;
    for (Py_ssize_t i = 0; i < pairs; i++) {
        uint64_t check;
        int64_t slot;
        memcpy(&check, data + 16 * i, 8);
        memcpy(&slot, data + 16 * i + 8, 8);
        if (contains(self, check)) {
            PyObject *number = PyLong_FromLongLong(slot);
            if (number == NULL || PySet_Add(out, number) < 0) {
                Py_XDECREF(number);
                PyBuffer_Release(&view);
                return -1;
            }
            Py_DECREF(number);
        }
    }
    PyBuffer_Release(&view);
    return 0;
}

/* select(packed, keys, out): for each of ``keys`` that ``packed`` (a dict of key ->
 * buffer of native int64 (check, slot) pairs) holds, adds to the set ``out`` every slot
 * whose check is in this set. */
static PyObject *
CheckSet_select(CheckSet *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_Check(args[0]) || !PySet_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "select(packed: dict, keys, out: set)");
        return NULL;
    }
    PyObject *packed = args[0], *out = args[2];
    PyObject *iterator = PyObject_GetIter(args[1]);
    if (iterator == NULL) {
        return NULL;
    }
    PyObject *key;
    while ((key = PyIter_Next(iterator)) != NULL) {
        PyObject *buffer = PyDict_GetItemWithError(packed, key); /* borrowed */
        Py_DECREF(key);
        if (buffer == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(iterator);
                return NULL;
            }
            continue;
        }
        Py_INCREF(buffer);
        int failed = select_pairs(self, buffer, out);
        Py_DECREF(buffer);
        if (failed) {
            Py_DECREF(iterator);
            return NULL;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static int
CheckSet_contains(CheckSet *self, PyObject *value)
{
    long long v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    return contains(self, (uint64_t)v);
}

static Py_ssize_t
CheckSet_len(CheckSet *self)
{
    return self->size;
}

static PyMethodDef CheckSet_methods[] = {
    {"add", (PyCFunction)CheckSet_add, METH_O, "Adds one int64 value."},
    {"add_hashes", (PyCFunction)(void (*)(void))CheckSet_add_hashes, METH_FASTCALL,
     "add_hashes(objects, salt=0): adds hash(o) ^ salt for each object."},
    {"select", (PyCFunction)(void (*)(void))CheckSet_select, METH_FASTCALL,
     "select(packed, keys, out): adds to out the slot of every (check, slot) pair under "
     "the keys whose check is held."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods CheckSet_as_sequence = {
    .sq_length = (lenfunc)CheckSet_len,
    .sq_contains = (objobjproc)CheckSet_contains,
};

static PyTypeObject CheckSetType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bot.rules._speedups.CheckSet",
    .tp_basicsize = sizeof(CheckSet),
    .tp_dealloc = (destructor)CheckSet_dealloc,
    .tp_as_sequence = &CheckSet_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A story's check hashes (64-bit values), and the index pairs they select.",
    .tp_methods = CheckSet_methods,
    .tp_new = CheckSet_new,
};

/* Whether token ``x`` equals ``key``, the same object or not. -1 on error. */
static inline int
same_token(PyObject *x, PyObject *key, Py_hash_t key_hash)
{
    if (x == key) {
        return 1;
    }
    Py_hash_t h = PyObject_Hash(x);
    if (h == -1) {
        return -1;
    }
    if (h != key_hash) {
        return 0;
    }
    return PyObject_RichCompareBool(x, key, Py_EQ);
}

/* near(tokens, a, b, slop, interned): with slop None, whether b comes right after a;
 * else whether a and b (two different keys) lie at most slop + 1 positions apart, in
 * either order. ``interned``: the caller vouches that every token is an interned string
 * (stems are), so tokens are compared by identity when the keys are interned too,
 * without reading each token. */
static PyObject *
near(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError,
                        "near(tokens: list, a, b, slop: int | None, interned: bool)");
        return NULL;
    }
    PyObject *tokens = args[0], *a = args[1], *b = args[2];
    Py_hash_t ha = PyObject_Hash(a), hb = PyObject_Hash(b);
    if (ha == -1 || hb == -1) {
        return NULL;
    }
    int vouched = PyObject_IsTrue(args[4]);
    if (vouched < 0) {
        return NULL;
    }
    int by_identity = vouched && PyUnicode_CheckExact(a) && PyUnicode_CHECK_INTERNED(a) &&
                      PyUnicode_CheckExact(b) && PyUnicode_CHECK_INTERNED(b);
    Py_ssize_t reach = -1; /* -1: a phrase */
    if (args[3] != Py_None) {
        reach = PyLong_AsSsize_t(args[3]);
        if (reach == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (reach < 0) {
            PyErr_SetString(PyExc_ValueError, "slop must not be negative");
            return NULL;
        }
        reach += 1;
    }
    Py_ssize_t last_a = PY_SSIZE_T_MIN / 2, last_b = PY_SSIZE_T_MIN / 2;
    /* The size is read each time round: comparing by equality may run a token's __eq__,
     * which could change the list (the token is held meanwhile). */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(tokens); i++) {
        PyObject *x = PyList_GET_ITEM(tokens, i);
        int is_a, is_b;
        if (by_identity) { /* no read of the token itself */
            is_a = x == a;
            is_b = !is_a && x == b;
        }
        else {
            Py_INCREF(x);
            is_a = same_token(x, a, ha);
            is_b = is_a == 0 ? same_token(x, b, hb) : 0;
            Py_DECREF(x);
            if (is_a < 0 || is_b < 0) {
                return NULL;
            }
        }
        if (is_a) {
            if (reach >= 0 && i - last_b <= reach) {
                Py_RETURN_TRUE;
            }
            last_a = i;
        }
        else if (is_b) {
            if (reach < 0 ? last_a == i - 1 : i - last_a <= reach) {
                Py_RETURN_TRUE;
            }
            last_b = i;
        }
    }
    Py_RETURN_FALSE;
}

/* singles(chunks, cache) -> (singles, stems, distinct stems): each chunk looked up in
 * ``cache`` (a mapping of chunk -> (stem, ...) tuple, which may work out a missing
 * chunk itself), its stem, and the set of them, in one pass. */
static PyObject *
chunk_singles(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "singles(chunks: list, cache)");
        return NULL;
    }
    PyObject *chunks = args[0], *cache = args[1];
    Py_ssize_t n = PyList_GET_SIZE(chunks);
    PyObject *singles = PyList_New(n);
    PyObject *stems = PyList_New(n);
    PyObject *distinct = PySet_New(NULL);
    if (singles == NULL || stems == NULL || distinct == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        /* The cache may run Python code for a new chunk; the list is the caller's own. */
        if (i >= PyList_GET_SIZE(chunks)) {
            PyErr_SetString(PyExc_RuntimeError, "the chunk list changed");
            goto fail;
        }
        PyObject *chunk = PyList_GET_ITEM(chunks, i);
        Py_INCREF(chunk);
        PyObject *single = PyObject_GetItem(cache, chunk);
        Py_DECREF(chunk);
        if (single == NULL) {
            goto fail;
        }
        if (!PyTuple_Check(single) || PyTuple_GET_SIZE(single) < 1) {
            Py_DECREF(single);
            PyErr_SetString(PyExc_TypeError, "the cache gave a value that is not a (stem, ...) tuple");
            goto fail;
        }
        PyObject *stem = PyTuple_GET_ITEM(single, 0);
        PyList_SET_ITEM(singles, i, single);
        Py_INCREF(stem);
        PyList_SET_ITEM(stems, i, stem);
        if (PySet_Add(distinct, stem) < 0) {
            goto fail;
        }
    }
    return Py_BuildValue("(NNN)", singles, stems, distinct);
fail:
    Py_XDECREF(singles);
    Py_XDECREF(stems);
    Py_XDECREF(distinct);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"near", (PyCFunction)(void (*)(void))near, METH_FASTCALL,
     "near(tokens, a, b, slop, interned): a then b (slop None), or a and b within slop "
     "other tokens in either order."},
    {"singles", (PyCFunction)(void (*)(void))chunk_singles, METH_FASTCALL,
     "singles(chunks, cache) -> (singles, stems, distinct stems), in one pass."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "bot.rules._speedups",
    .m_doc = "The rule matcher's loops in C (see bot/rules/speedups.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (PyType_Ready(&CheckSetType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&CheckSetType);
    if (PyModule_AddObject(module, "CheckSet", (PyObject *)&CheckSetType) < 0) {
        Py_DECREF(&CheckSetType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
