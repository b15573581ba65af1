/* The unified record's Avro writer and reader in C: the common case of records_codec's
 * encode and decode.
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
 *
 *   read(data, header, loads) -> dict | None
 *
 * The record that records_codec.decode reads from ``data`` (after ``header``), built as its
 * from_avro builds it; ``loads`` is orjson.loads, for the JSON parts. The worker's table holds
 * the records as they are written (the output topic's bytes), and reads one back whenever its
 * record cache misses. None for anything but a well-formed record: records_codec then decodes
 * it with fastavro, which raises the error that says what is wrong.
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
    *str_property, *str_arrived, *str_missing, *kw_option;
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

/* A required item of ``dict``, borrowed into *out; UNUSUAL if it is absent. */
static int
required(PyObject *dict, PyObject *key, PyObject **out)
{
    *out = PyDict_GetItemWithError(dict, key);  /* NULL: absent, or an error (set) */
    if (*out == NULL) {
        return PyErr_Occurred() ? FAILED : UNUSUAL;
    }
    return DONE;
}

/* A required item of exactly ``type`` (dict, list), borrowed into *out. */
static int
typed_item(PyObject *dict, PyObject *key, PyTypeObject *type, PyObject **out)
{
    STEP(required(dict, key, out));
    return Py_IS_TYPE(*out, type) ? DONE : UNUSUAL;
}

/* The parts named by ``keys`` (NULL-terminated) of ``dict``, each a string. */
static int
put_strings_of(Buffer *buf, PyObject *dict, PyObject **keys)
{
    for (; *keys != NULL; keys++) {
        PyObject *part;
        STEP(required(dict, *keys, &part));
        STEP(put_string(buf, part));
    }
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
            PyObject *value;
            STEP(required(src, str_value, &value));
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
            PyObject *count;
            STEP(typed_item(fact, str_count, &PyLong_Type, &count));
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
            PyObject *attribute[] = {str_attribute, NULL};
            STEP(put_strings_of(buf, conflict, attribute));
            PyObject *claimed;
            STEP(typed_item(conflict, str_values, &PyList_Type, &claimed));
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
                    PyObject *value;
                    STEP(required(val, str_value, &value));
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
    PyObject *kind;
    STEP(typed_item(record, str_kind, &PyUnicode_Type, &kind));
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

    PyObject *status = PyDict_GetItemWithError(record, str_status);
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
    STEP(typed_item(record, str_fields, &PyDict_Type, &fields));
    STEP(put_fields(buf, fields, h));
    STEP(typed_item(record, str_facts, &PyDict_Type, &facts));
    STEP(put_facts(buf, facts));
    STEP(typed_item(record, str_completeness, &PyDict_Type, &completeness));
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
    STEP(typed_item(record, str_conflicts, &PyList_Type, &conflicts));
    STEP(put_conflicts(buf, conflicts, h));
    STEP(typed_item(record, str_history, &PyList_Type, &history));
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


/* ---- the reader ---------------------------------------------------------------------- */

typedef struct {
    const unsigned char *at;
    const unsigned char *end;
    PyObject *loads;
} Reader;

/* 0, or UNUSUAL for a varint that runs past the end or beyond 64 bits. */
static int
get_long(Reader *r, int64_t *out)
{
    uint64_t z = 0;
    int shift = 0;
    while (1) {
        if (r->at >= r->end || shift > 63) {
            return UNUSUAL;
        }
        unsigned char byte = *r->at++;
        z |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            break;
        }
        shift += 7;
    }
    *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    return DONE;
}

/* The bytes of a string or bytes value: its length, then as many bytes. */
static int
get_span(Reader *r, const char **data, Py_ssize_t *size)
{
    int64_t n;
    STEP(get_long(r, &n));
    if (n < 0 || n > r->end - r->at) {
        return UNUSUAL;
    }
    *data = (const char *)r->at;
    *size = (Py_ssize_t)n;
    r->at += n;
    return DONE;
}

/* A string, new reference into *out (NULL on anything but DONE). */
static int
get_string(Reader *r, PyObject **out)
{
    const char *data;
    Py_ssize_t size;
    *out = NULL;
    STEP(get_span(r, &data, &size));
    *out = PyUnicode_DecodeUTF8(data, size, NULL);
    if (*out == NULL) {
        PyErr_Clear();  /* not UTF-8: fastavro says so */
        return UNUSUAL;
    }
    return DONE;
}

/* A JSON string part, loaded: new reference into *out. */
static int
get_json(Reader *r, PyObject **out)
{
    const char *data;
    Py_ssize_t size;
    *out = NULL;
    STEP(get_span(r, &data, &size));
    PyObject *text = PyBytes_FromStringAndSize(data, size);
    if (text == NULL) {
        return FAILED;
    }
    *out = PyObject_CallOneArg(r->loads, text);
    Py_DECREF(text);
    if (*out == NULL) {
        PyErr_Clear();  /* not JSON: from_avro's loads raises the error */
        return UNUSUAL;
    }
    return DONE;
}

/* The count of the next block of an array or map (0: the end); a negative count is followed
 * by the block's size in bytes, which is skipped. */
static int
get_block(Reader *r, int64_t *count)
{
    STEP(get_long(r, count));
    if (*count == INT64_MIN) {
        return UNUSUAL;  /* no such block: its negation overflows */
    }
    if (*count < 0) {
        int64_t size;
        STEP(get_long(r, &size));
        *count = -*count;
    }
    if (*count > r->end - r->at) {  /* every item takes at least a byte */
        return UNUSUAL;
    }
    return DONE;
}

/* Set dict[key] to a new reference ``value`` (consumed). */
static int
set_owned(PyObject *dict, PyObject *key, PyObject *value)
{
    int rc = PyDict_SetItem(dict, key, value) < 0 ? FAILED : DONE;
    Py_DECREF(value);
    return rc;
}

/* Strings read one after another into dict under ``keys`` (NULL-terminated). */
static int
get_strings_into(Reader *r, PyObject *dict, PyObject **keys)
{
    for (; *keys != NULL; keys++) {
        PyObject *value;
        STEP(get_string(r, &value));
        STEP(set_owned(dict, *keys, value));
    }
    return DONE;
}

typedef int (*ItemReader)(Reader *r, PyObject **out);

/* Avro blocks of ``item`` values into ``into``: a dict (each value after its string key) or
 * a list. */
static int
get_blocks(Reader *r, ItemReader item_reader, PyObject *into)
{
    int is_map = PyDict_CheckExact(into);
    int rc;
    int64_t count;
    while ((rc = get_block(r, &count)) == DONE && count > 0) {
        for (int64_t i = 0; i < count; i++) {
            PyObject *name = NULL, *value;
            if (is_map) {
                STEP(get_string(r, &name));
            }
            rc = item_reader(r, &value);
            if (rc == DONE) {
                rc = (is_map ? PyDict_SetItem(into, name, value) : PyList_Append(into, value))
                         < 0 ? FAILED : DONE;
                Py_DECREF(value);
            }
            Py_XDECREF(name);
            STEP(rc);
        }
    }
    return rc;
}

/* ``made`` (a new reference), filled with outcome ``rc``: into *out if DONE, else released. */
static int
kept(PyObject *made, int rc, PyObject **out)
{
    if (rc != DONE) {
        Py_DECREF(made);
        return rc;
    }
    *out = made;
    return DONE;
}

/* A map (``container`` a new dict) or array (a new list) of ``item`` values, into *out. */
static int
get_items(Reader *r, ItemReader item_reader, PyObject *container, PyObject **out)
{
    if (container == NULL) {
        return FAILED;
    }
    return kept(container, get_blocks(r, item_reader, container), out);
}

/* get_NAME: a new dict filled by fill_NAME, into *out (the items of maps and arrays). */
#define DICT_READER(name)                                                                        static int get_##name(Reader *r, PyObject **out)                                             {                                                                                                PyObject *dict = PyDict_New();                                                               return dict == NULL ? FAILED : kept(dict, fill_##name(r, dict), out);                    }

/* A sourced value (value_json first), as from_avro keeps it: its sources, then "value". */
static int
fill_sourced(Reader *r, PyObject *dict, PyObject **sources)
{
    PyObject *value;
    STEP(get_json(r, &value));
    int rc = get_strings_into(r, dict, sources);
    if (rc != DONE) {
        Py_DECREF(value);
        return rc;
    }
    return set_owned(dict, str_value, value);
}

static int
fill_field(Reader *r, PyObject *dict)
{
    PyObject *sources[] = {str_department, str_event_id, str_occurred_at, NULL};
    return fill_sourced(r, dict, sources);
}

DICT_READER(field)

static int
fill_fact(Reader *r, PyObject *dict)
{
    PyObject *parts[] = {str_event_id, str_occurred_at, NULL};
    STEP(get_strings_into(r, dict, parts));
    int64_t count;
    STEP(get_long(r, &count));
    if (count < INT32_MIN || count > INT32_MAX) {
        return UNUSUAL;
    }
    PyObject *value = PyLong_FromLongLong(count);
    if (value == NULL) {
        return FAILED;
    }
    return set_owned(dict, str_count, value);
}

DICT_READER(fact)

static int
fill_completeness(Reader *r, PyObject *dict)
{
    PyObject *arrived, *missing;
    STEP(get_items(r, get_string, PyList_New(0), &arrived));
    STEP(set_owned(dict, str_arrived, arrived));
    STEP(get_items(r, get_string, PyList_New(0), &missing));
    return set_owned(dict, str_missing, missing);
}

DICT_READER(completeness)

static int
fill_conflict_value(Reader *r, PyObject *dict)
{
    /* department, then a sourced value: value_json, event_id, occurred_at */
    PyObject *department[] = {str_department, NULL};
    STEP(get_strings_into(r, dict, department));
    PyObject *sources[] = {str_event_id, str_occurred_at, NULL};
    return fill_sourced(r, dict, sources);
}

DICT_READER(conflict_value)

static int
fill_conflict(Reader *r, PyObject *dict)
{
    PyObject *attribute[] = {str_attribute, NULL};
    STEP(get_strings_into(r, dict, attribute));
    PyObject *values;
    STEP(get_items(r, get_conflict_value, PyList_New(0), &values));
    return set_owned(dict, str_values, values);
}

DICT_READER(conflict)

static int
fill_entry(Reader *r, PyObject *dict)
{
    PyObject *parts[] = {str_event_id, str_event_type, str_department, str_occurred_at, NULL};
    return get_strings_into(r, dict, parts);
}

DICT_READER(entry)

static int
fill_record(Reader *r, PyObject *record)
{
    int64_t kind;
    STEP(get_long(r, &kind));
    if (kind != 0 && kind != 1) {
        return UNUSUAL;
    }
    STEP(set_owned(record, str_kind, Py_NewRef(kind == 0 ? str_enterprise : str_property)));
    PyObject *key[] = {str_key, NULL};
    STEP(get_strings_into(r, record, key));
    int64_t branch;
    STEP(get_long(r, &branch));
    if (branch == 0) {
        STEP(set_owned(record, str_status, Py_NewRef(Py_None)));
    }
    else if (branch == 1) {
        PyObject *status[] = {str_status, NULL};
        STEP(get_strings_into(r, record, status));
    }
    else {
        return UNUSUAL;
    }
    PyObject *part;
    STEP(get_items(r, get_field, PyDict_New(), &part));
    STEP(set_owned(record, str_fields, part));
    STEP(get_items(r, get_fact, PyDict_New(), &part));
    STEP(set_owned(record, str_facts, part));
    STEP(get_items(r, get_completeness, PyDict_New(), &part));
    STEP(set_owned(record, str_completeness, part));
    STEP(get_items(r, get_conflict, PyList_New(0), &part));
    STEP(set_owned(record, str_conflicts, part));
    STEP(get_items(r, get_entry, PyList_New(0), &part));
    STEP(set_owned(record, str_history, part));
    PyObject *extra;
    STEP(get_json(r, &extra));
    int rc = DONE;
    if (!PyDict_CheckExact(extra) || PyDict_Update(record, extra) < 0) {
        PyErr_Clear();  /* record.update() of anything else: from_avro raises it */
        rc = UNUSUAL;
    }
    Py_DECREF(extra);
    if (rc == DONE && r->at != r->end) {
        rc = UNUSUAL;  /* bytes left over: not one record */
    }
    return rc;
}

static PyObject *
record_read(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "read(data, header, loads) takes 3 arguments, got %zd",
                     nargs);
        return NULL;
    }
    PyObject *data = args[0], *header = args[1];
    if (!PyBytes_CheckExact(data) || !PyBytes_CheckExact(header)) {
        Py_RETURN_NONE;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(data), head = PyBytes_GET_SIZE(header);
    if (size < head || memcmp(PyBytes_AS_STRING(data), PyBytes_AS_STRING(header),
                              (size_t)head) != 0) {
        Py_RETURN_NONE;
    }
    const unsigned char *start = (const unsigned char *)PyBytes_AS_STRING(data);
    Reader r = {start + head, start + size, args[2]};
    PyObject *record = PyDict_New();
    if (record == NULL) {
        return NULL;
    }
    int rc = fill_record(&r, record);
    if (rc == DONE) {
        return record;
    }
    Py_DECREF(record);
    if (rc == UNUSUAL) {
        Py_RETURN_NONE;
    }
    return NULL;
}

static PyMethodDef methods[] = {
    {"write", (PyCFunction)(void (*)(void))record_write, METH_FASTCALL,
     "write(record, header, values, completeness, dumps, sort_keys) -> bytes | None\n\n"
     "The unified record's single-object Avro encoding, or None outside the common case "
     "(see exchange.worker.records_codec.encode)."},
    {"read", (PyCFunction)(void (*)(void))record_read, METH_FASTCALL,
     "read(data, header, loads) -> dict | None\n\n"
     "The unified record in ``data``, or None for anything but a well-formed one "
     "(see exchange.worker.records_codec.decode)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "exchange.worker._record_codec",
    "The unified record's Avro writer and reader in C (see exchange.worker.records_codec).", -1,
    methods, NULL, NULL, NULL, NULL,
};

static PyObject *
intern(const char *text)
{
    return PyUnicode_InternFromString(text);
}

PyMODINIT_FUNC
PyInit__record_codec(void)
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
        {&str_arrived, "arrived"},
        {&str_missing, "missing"},
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
