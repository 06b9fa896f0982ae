/*
 * Nested JSON arrays of numbers -> a packed float64 buffer and a shape, with no
 * Python object per value.
 *
 * parse(buf: bytes, pos: int) -> (bytearray, shape: tuple[int, ...], end: int) | None
 *
 * `pos` indexes the '[' that opens the array; `end` is the index just after its
 * ']'.
 *
 * find_data(buf: bytes) -> list[(start, end, bytearray, shape)]
 *
 * Every member `"data": [...]` of the JSON text whose array parse() accepts, in
 * order (KServe V2's tensors). Strings are skipped whole (escapes included), so
 * a "data" inside a string value is never taken for a key. The array must be rectangular, hold only JSON numbers at its innermost
 * level and nothing empty. Anything else -- strings, booleans, null, objects,
 * ragged rows, empty arrays, numbers that do not fit a double, integers too big
 * to stay exact in a double, malformed JSON -- returns None, and the caller
 * parses the body the general way (which also produces its error messages).
 *
 * Numbers are converted exactly as a correct JSON parser does: decimal values
 * with at most 19 significant digits whose mantissa fits 53 bits and whose
 * power of ten is within 1e22 take Clinger's fast path (one correctly rounded
 * IEEE multiplication or division); all others go to CPython's correctly
 * rounded, locale-independent PyOS_string_to_double. Digits are read up to
 * eight at a time (digit_run), and the values gather in a scratch buffer kept
 * between calls.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

static const double POW10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

typedef struct {
    const char *p;
    const char *end;
    int leaf; /* depth at which the numbers sit, -1 until the first number */
    Py_ssize_t dims[MAX_DEPTH];
    double *out;
    Py_ssize_t n;
    Py_ssize_t cap;
} Scan;

static inline const char *skip_spaces(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
    }
    return p;
}

static inline void skip_ws(Scan *s) { s->p = skip_spaces(s->p, s->end); }

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/* 8 bytes read as one little-endian word (digit_run); elsewhere digits are read one at a time */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORD_DIGITS 1
#else
#define WORD_DIGITS 0
#endif

static const uint64_t POW10_U64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/*
 * The run of decimal digits at the start of the 8 bytes at p (which must all be
 * readable): how many there are (0-8), and their value in *value.
 *
 * Subtracting '0' from every byte leaves a digit's byte at 0-9; a byte below '0'
 * borrows (high bit set) and a byte above '9' reaches 0x80 once 0x76 is added.
 * Borrows only travel towards later bytes, so the first flagged byte is the
 * first non-digit. The digits are then moved to the top of the word (the bytes
 * below them are zero, i.e. leading zeros) and combined pairwise: 8 digits in
 * three multiplications instead of one per digit.
 */
#if WORD_DIGITS
static inline int digit_run(const char *p, uint64_t *value) {
    uint64_t word, x, flags;
    int n;
    memcpy(&word, p, 8);
    x = word - UINT64_C(0x3030303030303030);
    flags = (x | (x + UINT64_C(0x7676767676767676))) & UINT64_C(0x8080808080808080);
    n = flags ? __builtin_ctzll(flags) >> 3 : 8;
    if (n == 0) {
        *value = 0;
        return 0;
    }
    x <<= 8 * (8 - n);
    x = x * 10 + (x >> 8);
    x = (((x & UINT64_C(0x000000FF000000FF)) * UINT64_C(0x000F424000000064)) +
         (((x >> 16) & UINT64_C(0x000000FF000000FF)) * UINT64_C(0x0000271000000001))) >>
        32;
    *value = (uint32_t)x;
    return n;
}
#endif

/*
 * The digits at p, added to *mantissa (while at most 19 are kept: beyond that
 * *exact is cleared and the rest are only counted in *dropped). Returns the end.
 */
static inline const char *read_digits(const char *p, const char *end, uint64_t *mantissa, int *digits,
                                      int *exact, long *dropped) {
    for (;;) {
        uint64_t value;
        int n;
#if WORD_DIGITS
        if (end - p >= 8) {
            n = digit_run(p, &value);
        } else
#endif
        {
            value = 0;
            n = 0;
            while (p + n < end && is_digit(p[n])) {
                value = value * 10 + (uint64_t)(p[n] - '0');
                n++;
            }
        }
        if (n == 0) {
            return p;
        }
        if (*exact && *digits + n <= 19) {
            *mantissa = *mantissa * POW10_U64[n] + value;
            *digits += n;
        } else {
            *exact = 0;
            *dropped += n;
        }
        p += n;
        if (n < 8) {
            return p;
        }
    }
}

/* One JSON number at s->p; 0 and the value on success, -1 otherwise. */
static int parse_number(Scan *s, double *value) {
    const char *p = s->p;
    const char *end = s->end;
    const char *start = p;
    int negative = 0;
    uint64_t mantissa = 0;
    int digits = 0;     /* digits kept in the mantissa (leading zeros of a fraction included) */
    int exact = 1;      /* every digit fits in the mantissa */
    int integer = 1;    /* no fraction and no exponent */
    long dropped = 0;   /* digits beyond the 19 kept */
    long exp10 = 0;

    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p >= end || !is_digit(*p)) {
        return -1;
    }
    if (*p == '0') {
        p++; /* JSON has no other leading zero: a digit after it ends the number (and fails later) */
    } else {
        p = read_digits(p, end, &mantissa, &digits, &exact, &dropped);
    }
    if (p < end && *p == '.') {
        integer = 0;
        p++;
        if (p >= end || !is_digit(*p)) {
            return -1;
        }
        {
            int before = digits;
            p = read_digits(p, end, &mantissa, &digits, &exact, &dropped);
            exp10 -= digits - before; /* the fraction digits kept in the mantissa */
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        long e = 0;
        int sign = 1;
        integer = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            sign = *p == '-' ? -1 : 1;
            p++;
        }
        if (p >= end || !is_digit(*p)) {
            return -1;
        }
        while (p < end && is_digit(*p)) {
            if (e < 100000) {
                e = e * 10 + (*p - '0');
            }
            p++;
        }
        exp10 += sign * e;
    }
    s->p = p;
    if (integer && (digits > 15 || dropped)) {
        return -1; /* an integer that may not survive a double: the general parser keeps it exact */
    }
    if (integer && mantissa == 0) {
        negative = 0; /* the integer -0 is 0 (only a float has a negative zero) */
    }
    if (exact && mantissa <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)mantissa;
        v = exp10 < 0 ? v / POW10[-exp10] : v * POW10[exp10];
        *value = negative ? -v : v;
        return 0;
    }
    {
        char *stop = NULL;
        double v = PyOS_string_to_double(start, &stop, NULL);
        if (v == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return -1;
        }
        if (stop != p || !isfinite(v)) {
            return -1;
        }
        *value = v;
    }
    return 0;
}

/*
 * The values are gathered in one scratch buffer that is kept between calls (the
 * GIL is held throughout, so calls never overlap) and copied out once the array
 * is known to be good; only a buffer grown past SCRATCH_KEEP values is let go.
 */
#define SCRATCH_KEEP (1 << 20)
static double *scratch = NULL;
static Py_ssize_t scratch_cap = 0;

static int push(Scan *s, double value) {
    if (s->n == s->cap) {
        Py_ssize_t cap = s->cap ? s->cap * 2 : 4096;
        double *grown = (double *)PyMem_Realloc(s->out, (size_t)cap * sizeof(double));
        if (grown == NULL) {
            return -1; /* the general parser gets its turn */
        }
        s->out = grown;
        s->cap = cap;
    }
    s->out[s->n++] = value;
    return 0;
}

/* Hand the scratch buffer back after a scan, keeping it unless it grew too large. */
static void release_scratch(Scan *s) {
    if (s->cap > SCRATCH_KEEP) {
        PyMem_Free(s->out);
        scratch = NULL;
        scratch_cap = 0;
    } else {
        scratch = s->out;
        scratch_cap = s->cap;
    }
    s->out = NULL;
    s->cap = 0;
}

/* The array at s->p (which is '['), at nesting `level`. */
static int parse_array(Scan *s, int level) {
    Py_ssize_t count = 0;
    if (level >= MAX_DEPTH) {
        return -1;
    }
    s->p++; /* '[' */
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end) {
            return -1;
        }
        if (*s->p == '[') {
            if (s->leaf != -1 && level + 1 > s->leaf) {
                return -1;
            }
            if (parse_array(s, level + 1) < 0) {
                return -1;
            }
        } else {
            double value;
            if (s->leaf == -1) {
                s->leaf = level;
            } else if (s->leaf != level) {
                return -1;
            }
            if (parse_number(s, &value) < 0 || push(s, value) < 0) {
                return -1;
            }
        }
        count++;
        skip_ws(s);
        if (s->p >= s->end) {
            return -1;
        }
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == ']') {
            s->p++;
            break;
        }
        return -1;
    }
    if (s->dims[level] == -1) {
        s->dims[level] = count;
    } else if (s->dims[level] != count) {
        return -1; /* ragged */
    }
    return 0;
}

/* Parse the array at buf[pos]; 1 with s filled, 0 when it is not accepted, -1 on a Python error. */
static int scan_array(Scan *s, const char *buf, Py_ssize_t len, Py_ssize_t pos) {
    Py_ssize_t total = 1;
    int ok;
    s->p = buf + pos;
    s->end = buf + len;
    s->leaf = -1;
    s->out = scratch;
    s->n = 0;
    s->cap = scratch_cap;
    scratch = NULL; /* taken; release_scratch() gives it back */
    scratch_cap = 0;
    for (int i = 0; i < MAX_DEPTH; i++) {
        s->dims[i] = -1;
    }
    ok = parse_array(s, 0) == 0 && s->leaf >= 0;
    if (ok) {
        for (int i = 0; i <= s->leaf; i++) {
            if (s->dims[i] <= 0) {
                ok = 0;
            } else {
                total *= s->dims[i];
            }
        }
        ok = ok && total == s->n;
    }
    if (!ok) {
        release_scratch(s);
        return PyErr_Occurred() ? -1 : 0;
    }
    return 1;
}

/* (bytearray, shape) of a scanned array; frees its buffer. */
static PyObject *take_array(Scan *s) {
    PyObject *data = PyByteArray_FromStringAndSize((const char *)s->out, s->n * (Py_ssize_t)sizeof(double));
    PyObject *shape = PyTuple_New(s->leaf + 1);
    PyObject *result = NULL;
    release_scratch(s);
    if (data != NULL && shape != NULL) {
        int failed = 0;
        for (int i = 0; i <= s->leaf; i++) {
            PyObject *dim = PyLong_FromSsize_t(s->dims[i]);
            if (dim == NULL) {
                failed = 1;
                break;
            }
            PyTuple_SET_ITEM(shape, i, dim);
        }
        if (!failed) {
            result = PyTuple_Pack(2, data, shape);
        }
    }
    Py_XDECREF(data);
    Py_XDECREF(shape);
    return result;
}

static PyObject *jsonnum_parse(PyObject *module, PyObject *args) {
    Py_buffer buffer;
    Py_ssize_t pos;
    Scan s;
    PyObject *array, *result;
    int found;

    if (!PyArg_ParseTuple(args, "y*n", &buffer, &pos)) {
        return NULL;
    }
    if (pos < 0 || pos >= buffer.len || ((const char *)buffer.buf)[pos] != '[') {
        PyBuffer_Release(&buffer);
        Py_RETURN_NONE;
    }
    found = scan_array(&s, (const char *)buffer.buf, buffer.len, pos);
    if (found <= 0) {
        PyBuffer_Release(&buffer);
        if (found < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    array = take_array(&s);
    result = array == NULL ? NULL
                           : Py_BuildValue("(OOn)", PyTuple_GET_ITEM(array, 0), PyTuple_GET_ITEM(array, 1),
                                           (Py_ssize_t)(s.p - (const char *)buffer.buf));
    Py_XDECREF(array);
    PyBuffer_Release(&buffer);
    return result;
}

static PyObject *jsonnum_find_data(PyObject *module, PyObject *args) {
    Py_buffer buffer;
    const char *buf, *p, *end;
    PyObject *found = NULL;

    if (!PyArg_ParseTuple(args, "y*", &buffer)) {
        return NULL;
    }
    buf = (const char *)buffer.buf;
    p = buf;
    end = buf + buffer.len;
    found = PyList_New(0);
    while (found != NULL && p < end) {
        const char *q, *r;
        int is_data, ok;
        Scan s;
        PyObject *array, *item;
        if (*p != '"') {
            p++;
            continue;
        }
        q = p + 1;
        while (q < end && *q != '"') {
            q += *q == '\\' ? 2 : 1;
        }
        if (q >= end) {
            break; /* an unterminated string: the general parser reports it */
        }
        is_data = q - p - 1 == 4 && memcmp(p + 1, "data", 4) == 0;
        p = q + 1;
        if (!is_data) {
            continue;
        }
        r = skip_spaces(p, end);
        if (r >= end || *r != ':') {
            continue;
        }
        r = skip_spaces(r + 1, end);
        if (r >= end || *r != '[') {
            continue;
        }
        ok = scan_array(&s, buf, buffer.len, r - buf);
        if (ok < 0) {
            Py_CLEAR(found);
            break;
        }
        if (ok == 0) {
            continue;
        }
        array = take_array(&s);
        item = array == NULL ? NULL
                             : Py_BuildValue("(nnOO)", (Py_ssize_t)(r - buf), (Py_ssize_t)(s.p - buf),
                                             PyTuple_GET_ITEM(array, 0), PyTuple_GET_ITEM(array, 1));
        Py_XDECREF(array);
        if (item == NULL || PyList_Append(found, item) < 0) {
            Py_XDECREF(item);
            Py_CLEAR(found);
            break;
        }
        Py_DECREF(item);
        p = s.p;
    }
    PyBuffer_Release(&buffer);
    return found;
}

static PyMethodDef methods[] = {
    {"parse", jsonnum_parse, METH_VARARGS,
     "parse(buf, pos) -> (bytearray of float64, shape, end) | None: the JSON number array at buf[pos]."},
    {"find_data", jsonnum_find_data, METH_VARARGS,
     "find_data(buf) -> [(start, end, bytearray of float64, shape)]: every numeric \"data\": [...] member."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jsonnum", "JSON number arrays straight into a float64 buffer.", -1, methods,
};

PyMODINIT_FUNC PyInit__jsonnum(void) { return PyModule_Create(&module); }
