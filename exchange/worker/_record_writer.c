/* The unified record's Avro writer in C: the common case of records_codec.encode.
 *
 * The join re-encodes a record whole with every window that changes it; written field by field
 * in Python that was the largest single cost of the worker after the fold (make bench-join,
 * py-spy). This writes the same bytes from the same dict in one pass, and knows nothing the
 * Python writer does not tell it:
 *
 *   write(record, header, values, completeness, dumps, sort_keys) -> bytes | None
 *
 *   header        MAGIC and the schema's fingerprint, written first
 *   values        records_codec._VALUES: a str value -> its JSON, written (length and bytes)
 *   completeness  records_codec._COMPLETENESS: orjson.dumps(map) -> the map, written
 *   dumps         orjson.dumps, called as dumps(value, option=sort_keys) for JSON parts
 *
 * Anything outside the common case (a part that is not a str, a count outside Avro's int, a
 * missing key, a container of another type, a string that is not UTF-8 encodable) returns
 * None, and records_codec writes that record in Python, which either writes the same bytes or
 * raises its own error. So the two writers cannot differ in what they refuse, and this one
 * need not say why (tests/unit/test_records_codec.py holds them to the same bytes).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    char *data;
    Py_ssize_t size;
    Py_ssize_t capacity;
} Buffer;

/* -1 with MemoryError set, else 0 */
static int
reserve(Buffer *buf, Py_ssize_t more)
{
    if (buf->size + more <= buf->capacity) {
        return 0;
    }
    Py_ssize_t capacity = buf->capacity * 2;
    if (capacity < buf->size + more) {
        capacity = buf->size + more;
    }
    char *data = PyMem_Realloc(buf->data, (size_t)capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    buf->data = data;
    buf->capacity = capacity;
    return 0;
}

static int
put_bytes(Buffer *buf, const char *data, Py_ssize_t size)
{
    if (reserve(buf, size) < 0) {
        return -1;
    }
    memcpy(buf->data + buf->size, data, (size_t)size);
    buf->size += size;
    return 0;
}

/* Avro's zig-zag varint (int and long). */
static int
put_long(Buffer *buf, int64_t n)
{
    if (reserve(buf, 10) < 0) {
        return -1;
    }
    uint64_t z = ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
    while (z > 0x7F) {
        buf->data[buf->size++] = (char)((z & 0x7F) | 0x80);
        z >>= 7;
    }
    buf->data[buf->size++] = (char)z;
    return 0;
}

static int
put_zero(Buffer *buf)
{
    return put_long(buf, 0);
}

/* Outcome of a step: written, not the common case (the caller returns None), or an error. */
enum { DONE = 0, UNUSUAL = 1, FAILED = -1 };

static int
put_string(Buffer *buf, PyObject *value)
{
    if (value == NULL || !PyUnicode_CheckExact(value)) {
        return UNUSUAL;
    }
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(value, &size);
    if (utf8 == NULL) {  /* lone surrogates: Python's str.encode refuses them too */
        PyErr_Clear();
        return UNUSUAL;
    }
    if (put_long(buf, size) < 0 || put_bytes(buf, utf8, size) < 0) {
        return FAILED;
    }
    return DONE;
}

/* An item of a dict, borrowed; NULL if absent (no error set) or on an error (set). */
static PyObject *
item(PyObject *dict, PyObject *key)
{
    return PyDict_GetItemWithError(dict, key);
}

/* The bytes object ``bytes_`` (new reference, consumed) appended as it is. */
static int
put_owned_bytes(Buffer *buf, PyObject *bytes_)
{
    if (bytes_ == NULL) {
        return FAILED;
    }
    if (!PyBytes_CheckExact(bytes_)) {
        Py_DECREF(bytes_);
        return UNUSUAL;
    }
    int rc = put_bytes(buf, PyBytes_AS_STRING(bytes_), PyBytes_GET_SIZE(bytes_)) < 0 ? FAILED
                                                                                      : DONE;
    Py_DECREF(bytes_);
    return rc;
}

typedef struct {
    PyObject *values;        /* str -> its JSON, written */
    PyObject *completeness;  /* JSON of a map -> the map, written */
    PyObject *dumps;         /* orjson.dumps */
    PyObject *sort_keys;     /* orjson.OPT_SORT_KEYS */
} Helpers;

static PyObject *str_kind, *str_key, *str_status, *str_fields, *str_facts, *str_completeness,
    *str_conflicts, *str_history, *str_value, *str_values, *str_department, *str_event_id,
    *str_occurred_at, *str_count, *str_attribute, *str_event_type, *str_enterprise,
    *str_property, *kw_option;
static PyObject *typed_keys;  /* frozenset of the parts written as typed Avro */

/* dumps(value, option=sort_keys), as records_codec._json writes it: length, then the JSON. */
static int
put_json(Buffer *buf, PyObject *value, Helpers *h)
{
    PyObject *args[3] = {NULL, value, h->sort_keys};
    PyObject *data = PyObject_Vectorcall(h->dumps, args + 1,
                                         1 | PY_VECTORCALL_ARGUMENTS_OFFSET, kw_option);
    if (data == NULL) {
        /* orjson refuses what it cannot write: the Python writer raises the same */
        PyErr_Clear();
        return UNUSUAL;
    }
    if (!PyBytes_CheckExact(data)) {
        Py_DECREF(data);
        return UNUSUAL;
    }
    int rc = DONE;
    if (put_long(buf, PyBytes_GET_SIZE(data)) < 0
        || put_bytes(buf, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)) < 0) {
        rc = FAILED;
    }
    Py_DECREF(data);
    return rc;
}

/* The parts named by ``keys`` (NULL-terminated) of ``dict``, each a string. */
static int
put_strings_of(Buffer *buf, PyObject *dict, PyObject **keys)
{
    for (; *keys != NULL; keys++) {
        PyObject *part = item(dict, *keys);
        if (part == NULL && PyErr_Occurred()) {
            return FAILED;
        }
        int rc = put_string(buf, part);
        if (rc != DONE) {
            return rc;
        }
    }
    return DONE;
}

#define STEP(call)                                                                           \
    do {                                                                                     \
        int rc_ = (call);                                                                    \
        if (rc_ != DONE) {                                                                   \
            return rc_;                                                                      \
        }                                                                                    \
    } while (0)
#define WRITE(call)                                                                          \
    do {                                                                                     \
        if ((call) < 0) {                                                                    \
            return FAILED;                                                                   \
        }                                                                                    \
    } while (0)

/* A required item that must be a dict (exactly), borrowed into *out. */
static int
dict_item(PyObject *dict, PyObject *key, PyObject **out)
{
    PyObject *value = item(dict, key);
    if (value == NULL) {
        return PyErr_Occurred() ? FAILED : UNUSUAL;
    }
    if (!PyDict_CheckExact(value)) {
        return UNUSUAL;
    }
    *out = value;
    return DONE;
}

static int
list_item(PyObject *dict, PyObject *key, PyObject **out)
{
    PyObject *value = item(dict, key);
    if (value == NULL) {
        return PyErr_Occurred() ? FAILED : UNUSUAL;
    }
    if (!PyList_CheckExact(value)) {
        return UNUSUAL;
    }
    *out = value;
    return DONE;
}

static int
put_fields(Buffer *buf, PyObject *fields, Helpers *h)
{
    PyObject *parts[] = {str_department, str_event_id, str_occurred_at, NULL};
    if (PyDict_GET_SIZE(fields) > 0) {
        WRITE(put_long(buf, PyDict_GET_SIZE(fields)));
        Py_ssize_t pos = 0;
        PyObject *name, *src;
        while (PyDict_Next(fields, &pos, &name, &src)) {
            if (!PyDict_CheckExact(src)) {
                return UNUSUAL;
            }
            STEP(put_string(buf, name));
            PyObject *value = item(src, str_value);
            if (value == NULL) {
                return PyErr_Occurred() ? FAILED : UNUSUAL;
            }
            if (PyUnicode_CheckExact(value)) {
                STEP(put_owned_bytes(buf, PyObject_GetItem(h->values, value)));
            }
            else {
                STEP(put_json(buf, value, h));
            }
            STEP(put_strings_of(buf, src, parts));
        }
    }
    WRITE(put_zero(buf));
    return DONE;
}

static int
put_facts(Buffer *buf, PyObject *facts)
{
    PyObject *parts[] = {str_event_id, str_occurred_at, NULL};
    if (PyDict_GET_SIZE(facts) > 0) {
        WRITE(put_long(buf, PyDict_GET_SIZE(facts)));
        Py_ssize_t pos = 0;
        PyObject *name, *fact;
        while (PyDict_Next(facts, &pos, &name, &fact)) {
            if (!PyDict_CheckExact(fact)) {
                return UNUSUAL;
            }
            STEP(put_string(buf, name));
            STEP(put_strings_of(buf, fact, parts));
            PyObject *count = item(fact, str_count);
            if (count == NULL) {
                return PyErr_Occurred() ? FAILED : UNUSUAL;
            }
            if (!PyLong_CheckExact(count)) {
                return UNUSUAL;
            }
            int overflow;
            long long n = PyLong_AsLongLongAndOverflow(count, &overflow);
            if (overflow || (n == -1 && PyErr_Occurred()) || n < INT32_MIN || n > INT32_MAX) {
                PyErr_Clear();
                return UNUSUAL;  /* not an Avro int: the Python writer says so */
            }
            WRITE(put_long(buf, n));
        }
    }
    WRITE(put_zero(buf));
    return DONE;
}

static int
put_conflicts(Buffer *buf, PyObject *conflicts, Helpers *h)
{
    Py_ssize_t n = PyList_GET_SIZE(conflicts);
    if (n > 0) {
        WRITE(put_long(buf, n));
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *conflict = PyList_GET_ITEM(conflicts, i);
            if (!PyDict_CheckExact(conflict)) {
                return UNUSUAL;
            }
            PyObject *attribute = item(conflict, str_attribute);
            if (attribute == NULL && PyErr_Occurred()) {
                return FAILED;
            }
            STEP(put_string(buf, attribute));
            PyObject *claimed;
            STEP(list_item(conflict, str_values, &claimed));
            Py_ssize_t m = PyList_GET_SIZE(claimed);
            if (m > 0) {
                WRITE(put_long(buf, m));
                for (Py_ssize_t j = 0; j < m; j++) {
                    PyObject *val = PyList_GET_ITEM(claimed, j);
                    if (!PyDict_CheckExact(val)) {
                        return UNUSUAL;
                    }
                    PyObject *department[] = {str_department, NULL};
                    PyObject *rest[] = {str_event_id, str_occurred_at, NULL};
                    STEP(put_strings_of(buf, val, department));
                    PyObject *value = item(val, str_value);
                    if (value == NULL) {
                        return PyErr_Occurred() ? FAILED : UNUSUAL;
                    }
                    STEP(put_json(buf, value, h));
                    STEP(put_strings_of(buf, val, rest));
                }
            }
            WRITE(put_zero(buf));
        }
    }
    WRITE(put_zero(buf));
    return DONE;
}

static int
put_history(Buffer *buf, PyObject *history)
{
    PyObject *parts[] = {str_event_id, str_event_type, str_department, str_occurred_at, NULL};
    Py_ssize_t n = PyList_GET_SIZE(history);
    if (n > 0) {
        WRITE(put_long(buf, n));
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *entry = PyList_GET_ITEM(history, i);
            if (!PyDict_CheckExact(entry)) {
                return UNUSUAL;
            }
            STEP(put_strings_of(buf, entry, parts));
        }
    }
    WRITE(put_zero(buf));
    return DONE;
}

static int
put_record(Buffer *buf, PyObject *record, Helpers *h)
{
    PyObject *kind = item(record, str_kind);
    if (kind == NULL) {
        return PyErr_Occurred() ? FAILED : UNUSUAL;
    }
    if (!PyUnicode_CheckExact(kind)) {
        return UNUSUAL;
    }
    if (PyUnicode_Compare(kind, str_enterprise) == 0) {
        WRITE(put_long(buf, 0));
    }
    else if (PyUnicode_Compare(kind, str_property) == 0) {
        WRITE(put_long(buf, 1));
    }
    else {
        return UNUSUAL;
    }
    PyObject *key[] = {str_key, NULL};
    STEP(put_strings_of(buf, record, key));

    PyObject *status = item(record, str_status);
    if (status == NULL && PyErr_Occurred()) {
        return FAILED;
    }
    if (status == NULL || status == Py_None) {
        WRITE(put_long(buf, 0));
    }
    else {
        WRITE(put_long(buf, 1));
        STEP(put_string(buf, status));
    }

    PyObject *fields, *facts, *completeness, *conflicts, *history;
    STEP(dict_item(record, str_fields, &fields));
    STEP(put_fields(buf, fields, h));
    STEP(dict_item(record, str_facts, &facts));
    STEP(put_facts(buf, facts));
    STEP(dict_item(record, str_completeness, &completeness));
    if (PyDict_GET_SIZE(completeness) > 0) {
        PyObject *json = PyObject_CallOneArg(h->dumps, completeness);
        if (json == NULL) {
            PyErr_Clear();
            return UNUSUAL;
        }
        PyObject *written = PyObject_GetItem(h->completeness, json);
        Py_DECREF(json);
        STEP(put_owned_bytes(buf, written));
    }
    else {
        WRITE(put_zero(buf));
    }
    STEP(list_item(record, str_conflicts, &conflicts));
    STEP(put_conflicts(buf, conflicts, h));
    STEP(list_item(record, str_history, &history));
    STEP(put_history(buf, history));

    /* The rest of the record (the kind's own state) as one JSON document. */
    PyObject *extra = PyDict_New();
    if (extra == NULL) {
        return FAILED;
    }
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    int rc = DONE;
    while (PyDict_Next(record, &pos, &name, &value)) {
        int typed = PySet_Contains(typed_keys, name);
        if (typed < 0) {
            PyErr_Clear();
            rc = UNUSUAL;  /* an unhashable key cannot be in a dict: unreachable */
            break;
        }
        if (!typed && PyDict_SetItem(extra, name, value) < 0) {
            rc = FAILED;
            break;
        }
    }
    if (rc == DONE) {
        rc = put_json(buf, extra, h);
    }
    Py_DECREF(extra);
    return rc;
}

static PyObject *
record_write(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError,
                     "write(record, header, values, completeness, dumps, sort_keys) takes 6 "
                     "arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *record = args[0], *header = args[1];
    if (!PyDict_CheckExact(record) || !PyBytes_CheckExact(header)) {
        Py_RETURN_NONE;
    }
    Helpers h = {args[2], args[3], args[4], args[5]};
    Buffer buf = {NULL, 0, 0};
    if (reserve(&buf, 8192) < 0) {
        return NULL;
    }
    int rc = put_bytes(&buf, PyBytes_AS_STRING(header), PyBytes_GET_SIZE(header)) < 0
                 ? FAILED
                 : put_record(&buf, record, &h);
    PyObject *out = NULL;
    if (rc == DONE) {
        out = PyBytes_FromStringAndSize(buf.data, buf.size);
    }
    else if (rc == UNUSUAL) {
        out = Py_NewRef(Py_None);
    }
    PyMem_Free(buf.data);
    return out;
}

static PyMethodDef methods[] = {
    {"write", (PyCFunction)(void (*)(void))record_write, METH_FASTCALL,
     "write(record, header, values, completeness, dumps, sort_keys) -> bytes | None\n\n"
     "The unified record's single-object Avro encoding, or None outside the common case "
     "(see exchange.worker.records_codec.encode)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "exchange.worker._record_writer",
    "The unified record's Avro writer in C (see exchange.worker.records_codec.encode).", -1,
    methods, NULL, NULL, NULL, NULL,
};

static PyObject *
intern(const char *text)
{
    return PyUnicode_InternFromString(text);
}

PyMODINIT_FUNC
PyInit__record_writer(void)
{
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        {&str_kind, "kind"},
        {&str_key, "key"},
        {&str_status, "status"},
        {&str_fields, "fields"},
        {&str_facts, "facts"},
        {&str_completeness, "completeness"},
        {&str_conflicts, "conflicts"},
        {&str_history, "history"},
        {&str_value, "value"},
        {&str_values, "values"},
        {&str_department, "department"},
        {&str_event_id, "event_id"},
        {&str_occurred_at, "occurred_at"},
        {&str_count, "count"},
        {&str_attribute, "attribute"},
        {&str_event_type, "event_type"},
        {&str_enterprise, "enterprise"},
        {&str_property, "property"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (*names[i].slot == NULL && (*names[i].slot = intern(names[i].text)) == NULL) {
            return NULL;
        }
    }
    if (kw_option == NULL) {
        /* interned: orjson knows its keyword arguments by identity */
        PyObject *option = intern("option");
        if (option == NULL) {
            return NULL;
        }
        kw_option = PyTuple_Pack(1, option);
        Py_DECREF(option);
        if (kw_option == NULL) {
            return NULL;
        }
    }
    if (typed_keys == NULL) {
        PyObject *typed = Py_BuildValue("(OOOOOOOO)", str_kind, str_key, str_status, str_fields,
                                        str_facts, str_completeness, str_conflicts, str_history);
        if (typed == NULL) {
            return NULL;
        }
        typed_keys = PyFrozenSet_New(typed);
        Py_DECREF(typed);
        if (typed_keys == NULL) {
            return NULL;
        }
    }
    return PyModule_Create(&module);
}
